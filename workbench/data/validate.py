"""Check a story corpus against the ratings: a table of problems, each with its file, line and story.

Problem kinds: ``names_emotion`` (the story names its emotion, see
:mod:`workbench.data.forms`), ``duplicate`` (same text as an earlier story,
ignoring case and spacing), ``empty``, ``too_short`` (too few tokens to pool
past the token offset, or too few words without a tokenizer), ``no_rating``
(an emotion of the corpus has no rating) and ``no_stories`` (a rated emotion
has no story).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.data.corpus import Corpus, Story
from workbench.data.forms import names_emotion
from workbench.errors import InputError, RunFolderError

if TYPE_CHECKING:
    from workbench.data.ratings import Ratings

__all__ = ["Problem", "ValidationReport", "validate", "drop_flagged", "KINDS", "STORY_KINDS"]

KINDS = ("names_emotion", "duplicate", "empty", "too_short", "no_rating", "no_stories")
STORY_KINDS = ("names_emotion", "duplicate", "empty", "too_short")
DEFAULT_MIN_TOKENS = 60
DEFAULT_MIN_WORDS = 40


@dataclass(frozen=True)
class Problem:
    """One row of the problem table; ``line`` and ``story`` are None for emotion-level problems."""

    kind: str
    emotion: str
    source: str
    line: int | None
    story: int | None
    detail: str


@dataclass(frozen=True, eq=False)
class ValidationReport:
    """The problems found in one corpus, with the settings used to find them."""

    problems: tuple[Problem, ...]
    corpus_name: str
    corpus_sha256: str
    n_stories: int
    settings: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def counts(self) -> dict[str, int]:
        """Problems per kind, every kind listed (zero included)."""
        c = Counter(p.kind for p in self.problems)
        return {k: c.get(k, 0) for k in KINDS}

    def to_rows(self) -> list[dict]:
        return [asdict(p) for p in self.problems]

    def format(self, max_detail: int = 80) -> str:
        """A readable table: kind, emotion, file:line, story number, detail."""
        head = ", ".join(f"{k} {n}" for k, n in self.counts().items())
        if self.ok:
            return f"no problems ({head})"
        rows = [("kind", "emotion", "file:line", "story", "detail")]
        for p in self.problems:
            where = f"{Path(p.source).name}:{p.line}" if p.line is not None else (Path(p.source).name or "-")
            detail = p.detail if len(p.detail) <= max_detail else p.detail[: max_detail - 1] + "…"
            rows.append((p.kind, p.emotion, where, "" if p.story is None else str(p.story), detail))
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r[:4], widths)) + "  " + r[4] for r in rows]
        lines.insert(1, "  ".join("-" * w for w in widths) + "  " + "-" * 6)
        return f"{len(self.problems)} problem(s): {head}\n" + "\n".join(lines)

    def save(self, path: str | Path) -> Path:
        from workbench.io import atomic_write_json

        return atomic_write_json(path, {"corpus_name": self.corpus_name, "corpus_sha256": self.corpus_sha256,
                                        "n_stories": self.n_stories, "settings": self.settings,
                                        "problems": self.to_rows()})

    @classmethod
    def load(cls, path: str | Path) -> ValidationReport:
        from workbench.io import read_json

        d = read_json(path)
        try:
            problems = tuple(Problem(**p) for p in d["problems"])
            return cls(problems, d["corpus_name"], d["corpus_sha256"], d["n_stories"], d.get("settings", {}))
        except (KeyError, TypeError) as exc:
            raise RunFolderError(f"{path} is not a validation report ({exc})") from None


def _n_tokens(tokenizer, texts: list[str]) -> list[int]:
    """Token counts with the special tokens the tokenizer adds (a BOS token is position 0)."""
    if not texts:
        return []
    ids = tokenizer(texts, add_special_tokens=True)["input_ids"]
    return [len(x) for x in ids]


def validate(corpus: Corpus, ratings: Ratings | None = None, min_tokens: int | None = None, tokenizer=None,
             token_offset: int = 50, min_words: int = DEFAULT_MIN_WORDS) -> ValidationReport:
    """Find the problems of ``corpus`` (and, given ``ratings``, emotions without ratings or stories).

    A story is too short when it has fewer than ``min_tokens`` (default 60)
    tokens at or past position ``token_offset`` (the pooled positions, BOS
    counted as position 0 when the tokenizer adds one); without a tokenizer,
    when it has fewer than ``min_words`` words.
    """
    if min_tokens is not None and tokenizer is None:
        raise InputError("validate: min_tokens needs a tokenizer (without one, stories are measured in words: "
                         "use min_words)")
    if token_offset < 0:
        raise InputError(f"validate: token_offset must be >= 0, got {token_offset}")
    min_tokens = DEFAULT_MIN_TOKENS if min_tokens is None else min_tokens
    stories = corpus.stories
    n_tok = _n_tokens(tokenizer, [s.text for s in stories]) if tokenizer is not None else None
    problems: list[Problem] = []
    first_seen: dict[str, str] = {}
    for i, s in enumerate(stories):
        def add(kind, detail, s=s):
            problems.append(Problem(kind, s.emotion, s.source, s.line, s.number, detail))

        named = names_emotion(s.text, s.emotion)
        if named:
            add("names_emotion", "names it: " + ", ".join(repr(w) for w in dict.fromkeys(named)))
        key = " ".join(s.text.split()).casefold()
        if not key:
            add("empty", "the story is empty")
            continue
        if key in first_seen:
            add("duplicate", f"same text as {first_seen[key]}")
        else:
            first_seen[key] = f"{Path(s.source).name}:{s.line} story {s.number}"
        if n_tok is not None:
            pooled = max(0, n_tok[i] - token_offset)
            if pooled < min_tokens:
                add("too_short", f"{pooled} tokens at or past position {token_offset} (needs {min_tokens}; "
                                 f"{n_tok[i]} tokens in all)")
        else:
            n_words = len(s.text.split())
            if n_words < min_words:
                add("too_short", f"{n_words} words (needs {min_words})")
    if ratings is not None:
        rated = set(ratings.emotions)
        by_emotion = corpus.by_emotion()
        for e, group in by_emotion.items():
            if e not in rated:
                problems.append(Problem("no_rating", e, group[0].source, group[0].line, None,
                                        f"{len(group)} stories; emotion not in the ratings"))
        for e in ratings.emotions:
            if e not in by_emotion:
                problems.append(Problem("no_stories", e, "ratings", None, None, "rated emotion without stories"))
    settings = {"token_offset": token_offset, "min_tokens": min_tokens if tokenizer is not None else None,
                "min_words": None if tokenizer is not None else min_words,
                "tokenizer": getattr(tokenizer, "name_or_path", type(tokenizer).__name__) if tokenizer else None,
                "ratings_sha256": getattr(ratings, "sha256", None)}
    return ValidationReport(tuple(problems), corpus.name, corpus.sha256, len(stories), settings)


def drop_flagged(corpus: Corpus, report: ValidationReport, kinds=STORY_KINDS) -> Corpus:
    """``corpus`` without the stories flagged in ``report`` with one of ``kinds``.

    ``no_rating`` drops every story of an unrated emotion. The dropped stories'
    problem rows are kept in ``Corpus.dropped`` (for the run manifest).
    """
    kinds = tuple(kinds)
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise InputError(f"drop_flagged: unknown problem kind(s) {unknown}; known: {list(KINDS)}")
    if "no_stories" in kinds:
        raise InputError("drop_flagged: 'no_stories' flags ratings, not stories: nothing to drop")
    if report.corpus_sha256 != corpus.sha256:
        raise InputError(f"drop_flagged: the report is for corpus {report.corpus_name} "
                         f"(sha256 {report.corpus_sha256[:12]}), not {corpus.name} ({corpus.sha256[:12]})")
    index: dict[tuple[str, int | None, int | None], Story] = {(s.source, s.line, s.number): s for s in corpus.stories}
    by_emotion = corpus.by_emotion()
    gone: list[Story] = []
    reasons = []
    for p in report.problems:
        if p.kind not in kinds:
            continue
        if p.kind == "no_rating":
            gone.extend(by_emotion.get(p.emotion, ()))
        elif (p.source, p.line, p.story) in index:
            gone.append(index[(p.source, p.line, p.story)])
        else:
            raise InputError(f"drop_flagged: the report's story {p.source}:{p.line} story {p.story} is not in "
                             f"corpus {corpus.name}")
        reasons.append(asdict(p))
    if not gone:
        return corpus
    return corpus.without(gone, reasons)

