"""Which words count as naming an emotion: the word, its inflections and derived forms.

``emotion_forms("angry")`` gives ``angry, angrier, angrily, anger, angered, ...``.
Forms come from suffix rules (comparatives, adverbs, ``-ness``, the verb behind
a participle such as ``terrified -> terrify, terrifying``, the noun behind
``-ful``/``-ious``/``-ic`` adjectives such as ``envious -> envy``) plus a small
table for the irregular ones (``proud -> pride``, ``anxious -> anxiety``) and for
rule-made words that would mean something else (``scared`` must not flag
``scar``). The rules over-generate harmless non-words (``bor``, ``anxy``) that
never match a real text. Multi-word emotions (``worn out``) are matched as
phrases whose words may be joined by spaces or hyphens; hyphenated ones
(``self-critical``) also match their distinctive part (``critical, criticism``).
Matching is case-insensitive on word boundaries.
"""

from __future__ import annotations

import re
from functools import cache

__all__ = ["emotion_forms", "emotion_pattern", "names_emotion"]

_VOWELS = set("aeiou")
_GENERIC_PARTS = {"self"}  # parts of a hyphenated emotion that do not identify it
_MIN_LEN = 4  # shorter rule-made forms are dropped (they are non-words or other words)

# emotion -> extra forms; a form prefixed with "-" is removed (a rule made a word of another meaning).
_TABLE: dict[str, str] = {
    "afraid": "",
    "alarmed": "",
    "angry": "anger angers angered angering",
    "annoyed": "annoyance annoyances",
    "anxious": "anxiety anxieties",
    "aroused": "arousal",
    "ashamed": "shame shames shamed shaming shameful shamefully ashamedly",
    "at ease": "",
    "awestruck": "awe awed awe-struck awestricken",
    "bored": "boredom",
    "brooding": "broody",
    "cheerful": "cheery cheerily",
    "defiant": "defy defies defied defying",
    "delighted": "delightful delightfully",
    "depressed": "depression depressions depressive",
    "disoriented": "disorientation disorientated",
    "disturbed": "disturbance disturbances",
    "dumbstruck": "dumb-struck dumbstricken",
    "ecstatic": "ecstasy ecstasies",
    "empathetic": "empathic empathize empathizes empathized empathizing empathise empathised empathising",
    "energized": "energise energises energised energising",
    "enraged": "rage rages raged raging",
    "excited": "excitable",
    "frightened": "fright frights frightful",
    "fulfilled": "fulfil fulfils fulfilment",
    "grateful": "gratitude -grate -grates -grated -grating",
    "grief-stricken": "grieve grieves grieved grieving",
    "hateful": "hatred",
    "heartbroken": "heartbreak heartbreaks heartbreaking heartbreakingly heart-broken",
    "hope": "hopeful hopefully hopefulness",
    "horrified": "horror horrors horrific horrifically horrible horribly",
    "inspired": "inspiration inspirations inspirational",
    "irate": "ire irately",
    "irritated": "irritable irritably irritability",
    "joyful": "joy joys joyous joyously",
    "melancholy": "melancholic melancholia",
    "miserable": "misery miseries",
    "obstinate": "obstinacy",
    "offended": "offense offenses offence offences offensive",
    "outraged": "outrageous outrageously",
    "panicked": "panic panics panicky panicking",
    "paranoid": "paranoia paranoiac",
    "perplexed": "perplexity",
    "playful": "-play -plays -played -playing",
    "pleased": "pleasure pleasures pleasurable -please -pleas",
    "proud": "pride prouder proudest proudly",
    "regretful": "regrettable regrettably",
    "relaxed": "relaxation",
    "relieved": "relief",
    "resentful": "resentment resentments",
    "resigned": "resignation resignedly",
    "safe": "safety",
    "satisfied": "satisfaction satisfactory",
    "scared": "scary scarily -scar -scars -scarred -scarring",
    "serene": "serenity serenely",
    "shaken": "shake shakes shaking shook shaky shakily",
    "skeptical": "sceptical sceptically sceptic sceptics scepticism",
    "sleepy": "slept asleep",
    "stressed": "stressful stressfully",
    "stuck": "",
    "suspicious": "suspicion suspicions",
    "sympathetic": "sympathize sympathizes sympathized sympathizing sympathise sympathised",
    "tense": "tension tensions",
    "terrified": "terror terrors",
    "thankful": "-thank -thanks -thanked -thanking",
    "tired": "-tire -tires",
    "tormented": "tormentor tormentors",
    "triumphant": "triumph triumphs triumphed triumphing",
    "uneasy": "unease",
    "valiant": "valor valour",
    "vibrant": "-vibration",
    "vengeful": "vengeance",
    "weary": "wearied wearies wearying -wear -wears -wearing",
    "worried": "worrisome",
}
# Emotions whose form is fixed by the table alone (no rules): irregular or ambiguous verbs.
_TABLE_ONLY = {"afraid", "stuck", "shaken", "heartbroken", "awestruck", "dumbstruck"}


def _cvc(w: str) -> bool:
    """Ends consonant-vowel-consonant (``sad``, ``upset``): the last consonant doubles before -er/-ing."""
    return len(w) >= 3 and w[-1] not in _VOWELS | set("wxy") and w[-2] in _VOWELS and w[-3] not in _VOWELS


def _adjective(w: str) -> set[str]:
    """Comparatives, adverb and ``-ness`` noun."""
    if w.endswith("y") and len(w) > 3 and w[-2] not in _VOWELS:
        b = w[:-1] + "i"
        return {w, b + "er", b + "est", b + "ly", b + "ness"}
    if w.endswith("le"):
        return {w, w[:-1] + "y", w + "ness"}
    if w.endswith("ic"):
        return {w, w + "ally", w + "al"}
    if w.endswith("e"):
        return {w, w + "r", w + "st", w + "ly", w + "ness"}
    out = {w, w + "er", w + "est", w + "ly", w + "ness"}
    if _cvc(w) and len(w) <= 4:  # one syllable: sad -> sadder, sadden
        out |= {w + w[-1] + "er", w + w[-1] + "est", w + w[-1] + "en"}
        out |= _verb(w + w[-1] + "en")  # sad -> sadden, saddened, saddening
    return out


def _verb(b: str) -> set[str]:
    """A verb's inflections (base, -s, -ed, -ing, -ingly) and its ``-ment`` noun."""
    if b.endswith("y") and len(b) > 2 and b[-2] not in _VOWELS:
        return {b, b[:-1] + "ies", b[:-1] + "ied", b + "ing", b + "ingly"}
    out = {b, b + "ment"}
    out.add(b + "es" if b.endswith(("s", "x", "z", "ch", "sh")) else b + "s")
    if b.endswith("e") and not b.endswith("ee"):
        out |= {b + "d", b[:-1] + "ing", b[:-1] + "ingly"}
    else:
        out |= {b + "ed", b + "ing", b + "ingly"}
        if _cvc(b):
            out |= {b + b[-1] + "ed", b + b[-1] + "ing", b + b[-1] + "ingly"}
    if b.endswith("ate"):
        out.add(b[:-1] + "ion")  # frustrate -> frustration
    return out


def _participle_bases(w: str, cut: int) -> set[str]:
    """The verbs a participle can come from: ``scared -> scar, scare``; ``trapped -> trap``."""
    x = w[:-cut]
    if len(x) > 2 and x[-1] == x[-2] and x[-1] in "bdgmnprt":
        return {x[:-1]}
    if x.endswith("ck"):
        return {x, x[:-1]}
    return {x, x + "e"}


def _word_forms(w: str) -> set[str]:
    """Rule-made forms of one word."""
    participle = w.endswith(("ed", "ing"))
    out = {w, w + "ly", w + "ness"} if participle else _adjective(w)
    if w.endswith("ied"):
        out |= _verb(w[:-3] + "y")
    elif w.endswith("ed"):
        for base in _participle_bases(w, 2):
            out |= _verb(base)
    elif w.endswith("ing"):
        for base in _participle_bases(w, 3):
            out |= _verb(base)
    elif w.endswith("ful"):
        out |= _verb(w[:-3])  # hopeful -> hope, hopes, hoped, hoping
    elif w.endswith("uous"):
        out.add(w[:-4])  # contemptuous -> contempt
    elif w.endswith("ious"):
        out |= _verb(w[:-4] + "y")  # envious -> envy, envies, envied
    elif w.endswith("ous"):
        out |= {w + "y", w + "ies"}  # jealous -> jealousy
    elif w.endswith(("istic", "iastic")):
        out |= {w[:-2], w[:-2] + "s", w[:-3] + "m"}  # optimistic -> optimist, optimism
    elif w.endswith("etic"):
        out.add(w[:-4] + "y")  # empathetic -> empathy
    elif w.endswith("ical"):
        out |= {w[:-2], w[:-2] + "s", w[:-2] + "ism", w[:-3] + "a"}  # critical -> critic, criticism
        out |= _verb(w[:-2] + "ize") | _verb(w[:-2] + "ise")
    elif w.endswith("ic"):
        out.add(w[:-1] + "a")  # nostalgic -> nostalgia
    elif w.endswith("al"):
        out |= {w[:-2], w[:-2] + "s", w + "ity"}  # sentimental -> sentiment
    elif w.endswith(("ent", "ant")):
        out |= {w + "s", w[:-1] + "ce", w[:-1] + "cy", w[:-3] + "ation"} | _verb(w)
    elif w.endswith("ive"):
        out |= {w[:-1] + "ity"}
    elif w.endswith("ile"):
        out |= {w[:-1] + "ity"}
    elif w.endswith("able"):
        out |= {w[:-2] + "ility"}  # vulnerable -> vulnerability
    elif w.endswith("ate"):
        out |= {w[:-3], w[:-1] + "ion"}  # compassionate -> compassion; desperate -> desperation
    elif w.endswith("y") and not w.endswith("ly") and w[-2] not in _VOWELS:
        out |= _verb(w[:-1])  # gloomy -> gloom; sleepy -> sleep, sleeping
    elif not w.endswith(("ish", "less", "en", "er", "id")):
        out |= _verb(w)  # calm -> calmed, calming; hurt -> hurting, hurtful
        out.add(w + "ful")
    return {f for f in out if len(f) >= _MIN_LEN or f == w}


@cache
def emotion_forms(emotion: str) -> tuple[str, ...]:
    """The lower-case forms that count as naming ``emotion``, longest first.

    A form may hold a space or hyphen (``worn out``, ``self-critical``): it
    matches with any run of spaces or hyphens between its words.
    """
    e = " ".join(emotion.lower().split())
    if not e:
        raise ValueError("emotion_forms: empty emotion name")
    extra = _TABLE.get(e, "").split()
    forms = {e}
    if " " in e:
        pass  # a phrase is matched as a phrase only
    elif "-" in e:
        forms.add(e.replace("-", ""))
        for part in e.split("-"):
            if part not in _GENERIC_PARTS:
                forms |= _word_forms(part)
    elif e not in _TABLE_ONLY:
        forms |= _word_forms(e)
    forms |= {f for f in extra if not f.startswith("-")}
    forms -= {f[1:] for f in extra if f.startswith("-")}
    return tuple(sorted(forms, key=lambda f: (-len(f), f)))


@cache
def emotion_pattern(emotion: str) -> re.Pattern:
    """A compiled case-insensitive, word-boundary regular expression for :func:`emotion_forms`."""
    parts = [r"[\s\-]+".join(re.escape(w) for w in re.split(r"[\s\-]+", f)) for f in emotion_forms(emotion)]
    return re.compile(r"\b(?:" + "|".join(parts) + r")\b", re.IGNORECASE)


def names_emotion(text: str, emotion: str) -> list[str]:
    """The words of ``text`` that name ``emotion`` (as written, in order); empty when none."""
    return [m.group(0) for m in emotion_pattern(emotion).finditer(text)]
