"""Which words name an emotion: inflections, irregular forms, phrases, hyphenated emotions, no false alarms."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.data.forms import emotion_forms, emotion_pattern, names_emotion
from workbench.data.ratings import load_ratings

EMOTIONS = load_ratings().emotions

# (emotion, words that name it) -- the examples and the irregular table
NAMING = [
    ("angry", "angry anger angrily angered angrier angers"),
    ("envious", "envious envy envied envies enviously"),
    ("jealous", "jealous jealousy jealously"),
    ("proud", "proud pride proudly prouder"),
    ("furious", "furious fury furiously"),
    ("anxious", "anxious anxiety anxiously"),
    ("ashamed", "ashamed shame shameful shamed"),
    ("hope", "hope hopes hoped hoping hopeful hopefully"),
    ("terrified", "terrified terrify terrifying terrifyingly terror"),
    ("frustrated", "frustrated frustrating frustration frustrate"),
    ("trapped", "trapped trap traps trapping"),
    ("sad", "sad sadly sadness sadder saddened"),
    ("mad", "mad madly madness maddening"),
    ("happy", "happy happily happiness happier"),
    ("kind", "kind kinds kindly kindness kinder"),
    ("patient", "patient patients patience patiently"),
    ("content", "content contents contented contentment"),
    ("scared", "scared scare scary scaring scares"),
    ("worried", "worried worry worries worrying"),
    ("embarrassed", "embarrassed embarrassing embarrassment"),
    ("loving", "loving love loved loves lovingly"),
    ("hopeful", "hopeful hope hoping hopefully"),
    ("nostalgic", "nostalgic nostalgia nostalgically"),
    ("enthusiastic", "enthusiastic enthusiasm enthusiast"),
    ("optimistic", "optimistic optimism optimist"),
    ("contemptuous", "contemptuous contempt"),
    ("compassionate", "compassionate compassion"),
    ("empathetic", "empathetic empathy"),
    ("vulnerable", "vulnerable vulnerability"),
    ("hostile", "hostile hostility"),
    ("indifferent", "indifferent indifference"),
    ("jubilant", "jubilant jubilation"),
    ("sleepy", "sleepy sleep sleeping sleepily"),
    ("guilty", "guilty guilt guiltily"),
    ("panicked", "panicked panic panicking"),
    ("relieved", "relieved relief relieve"),
    ("self-critical", "self-critical critical criticism critic criticized"),
    ("self-confident", "self-confident confident confidence"),
    ("grief-stricken", "grief-stricken grief grieving stricken"),
    ("heartbroken", "heartbroken heartbreak heartbreaking"),
    ("sentimental", "sentimental sentiment sentimentality"),
    ("hysterical", "hysterical hysteria hysterics"),
    ("euphoric", "euphoric euphoria"),
    ("satisfied", "satisfied satisfy satisfaction satisfying"),
]

# (emotion, words of another meaning that a naive stem rule would flag)
NOT_NAMING = [
    ("scared", "scar scars scarred"), ("tired", "tire tires"), ("weary", "wear wears wearing"),
    ("grateful", "grate grated grating"), ("playful", "play played playing"),
    ("pleased", "please pleas"), ("vibrant", "vibration"), ("mad", "made madam"),
    ("happy", "happen unhappy"), ("kind", "kindred mankind"), ("hope", "hopeless"),
    ("calm", "becalmed"), ("sad", "saddle"), ("content", "contend context"),
    ("at ease", "ease eased easy"), ("on edge", "edge edges"), ("worn out", "worn wear"),
]


@pytest.mark.parametrize("emotion,words", NAMING)
def test_inflections_and_irregular_forms_name_the_emotion(emotion, words):
    for w in words.split():
        assert names_emotion(f"She looked {w} at the door.", emotion) == [w], (emotion, w)
        assert names_emotion(f"{w.upper()}!", emotion) == [w.upper()], (emotion, w)


@pytest.mark.parametrize("emotion,words", NOT_NAMING)
def test_words_of_other_meanings_are_not_flagged(emotion, words):
    for w in words.split():
        assert names_emotion(f"The {w} was there.", emotion) == [], (emotion, w)


def test_phrases_match_with_spaces_or_hyphens_only_as_phrases():
    assert names_emotion("He was worn out. A worn-out coat. Worn\nout.", "worn out") == ["worn out", "worn-out",
                                                                                         "Worn\nout"]
    assert names_emotion("The worn path led out of town.", "worn out") == []
    assert names_emotion("She felt ill at ease; At ease, soldier.", "at ease") == ["at ease", "At ease"]
    assert names_emotion("He put her at her ease.", "at ease") == []
    assert names_emotion("All week he was on edge.", "on edge") == ["on edge"]
    assert names_emotion("The cup stood on the edge.", "on edge") == []


def test_hyphenated_emotion_reports_the_whole_term_once():
    assert names_emotion("A self-critical note; she was self critical.", "self-critical") == [
        "self-critical", "self critical"]
    assert names_emotion("A selfish act.", "self-critical") == []


def test_matches_respect_word_boundaries_and_report_text_order():
    text = "Envy came first; the envelope was envied, then Envious eyes."
    assert names_emotion(text, "envious") == ["Envy", "envied", "Envious"]
    assert names_emotion("Unhappily, the hopes held.", "happy") == []
    assert names_emotion("hope-filled", "hope") == ["hope"]


@pytest.mark.parametrize("emotion", EMOTIONS)
def test_every_rated_emotion_names_itself_and_nothing_in_a_neutral_paragraph(emotion):
    forms = emotion_forms(emotion)
    assert forms[0] and emotion in forms and all(f == f.lower() for f in forms)
    assert names_emotion(f"Then, {emotion.upper()}, at last.", emotion) == [emotion.upper()]
    neutral = ("The survey measured the river's depth at twelve points along the bank. Each reading "
               "was taken at noon with a weighted line, and the values were entered in a table for the "
               "county office, which publishes them every spring with the rainfall totals.")
    assert names_emotion(neutral, emotion) == []


def test_forms_are_longest_first_and_the_pattern_is_cached():
    forms = emotion_forms("frustrated")
    assert [len(f) for f in forms] == sorted((len(f) for f in forms), reverse=True)
    assert emotion_pattern("frustrated") is emotion_pattern("frustrated")
    with pytest.raises(ValueError):
        emotion_forms("  ")


_word = st.text(alphabet="bcdfghjklmnpqrstvwxz", min_size=3, max_size=8)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(EMOTIONS), st.lists(_word, min_size=1, max_size=12), st.integers(0, 12))
def test_an_inserted_form_is_always_found_and_consonant_noise_never(emotion, words, at):
    assert names_emotion(" ".join(words), emotion) == []  # vowel-free noise cannot be a form of any emotion
    form = emotion_forms(emotion)[-1]
    words.insert(min(at, len(words)), form.title())
    found = names_emotion(" ".join(words), emotion)
    assert [f.lower() for f in found] == [form] and re.fullmatch(r"[\w\s-]+", found[0])
