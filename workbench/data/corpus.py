"""Story corpora: one JSON object per line, ``{"emotion", "topic", "stories": [text, ...]}``.

:func:`load_corpus` reads a JSONL file in that format (the paper's; ``prompt``
and ``raw_response`` may be there too), a folder of such files, a published
corpus on the Hugging Face hub (``hf:OWNER/NAME[@split]``), or ``bundled``: the
project's own stories in ``data/stories/``. Every story remembers the file and
line it came from, so every problem can be reported where it is.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from workbench.errors import InputError, OfflineError
from workbench.resources import data_path

__all__ = ["Story", "Corpus", "load_corpus", "BUNDLED_DIR"]

BUNDLED_DIR = data_path("stories")
HUB_TIMEOUT = 3.0  # seconds to wait for the hub before treating it as unreachable


@dataclass(frozen=True)
class Story:
    """One story: its emotion and topic, and where it is (file, 1-based line, 1-based number in the row)."""

    emotion: str
    topic: str
    text: str
    source: str
    line: int
    number: int

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line} story {self.number}"


def _content_sha256(stories: Iterable[Story]) -> str:
    h = hashlib.sha256()
    for s in stories:
        h.update(json.dumps([s.emotion, s.topic, s.text], ensure_ascii=False).encode("utf-8") + b"\n")
    return h.hexdigest()


@dataclass(frozen=True, eq=False)
class Corpus:
    """Stories in file order. ``sha256`` hashes (emotion, topic, text) of every story, in order.

    ``dropped`` lists the problems (as table rows) of stories removed by
    :func:`workbench.data.validate.drop_flagged`, so a run can record them.
    """

    stories: tuple[Story, ...]
    name: str
    dropped: tuple[dict, ...] = ()
    sha256: str = field(init=False)

    def __post_init__(self):
        if not self.stories:
            raise InputError(f"corpus {self.name}: no stories")
        object.__setattr__(self, "stories", tuple(self.stories))
        object.__setattr__(self, "sha256", _content_sha256(self.stories))

    def __len__(self) -> int:
        return len(self.stories)

    @property
    def emotions(self) -> tuple[str, ...]:
        """The emotions, in order of first appearance."""
        return tuple(dict.fromkeys(s.emotion for s in self.stories))

    @property
    def texts(self) -> tuple[str, ...]:
        return tuple(s.text for s in self.stories)

    def meta(self) -> list[dict]:
        """One dict per story, for :class:`StoryActivations`: emotion, topic, story, line, source, kind."""
        return [{"emotion": s.emotion, "topic": s.topic, "story": s.number, "line": s.line,
                 "source": s.source, "kind": "story"} for s in self.stories]

    def by_emotion(self) -> dict[str, tuple[Story, ...]]:
        out: dict[str, list[Story]] = {e: [] for e in self.emotions}
        for s in self.stories:
            out[s.emotion].append(s)
        return {e: tuple(v) for e, v in out.items()}

    def stories_per_emotion(self) -> dict[str, int]:
        return {e: len(v) for e, v in self.by_emotion().items()}

    def summary(self) -> dict:
        """Counts: emotions, stories, stories per emotion and words per story (min, mean, max)."""
        per = list(self.stories_per_emotion().values())
        words = [len(s.text.split()) for s in self.stories]
        return {"name": self.name, "sha256": self.sha256, "n_emotions": len(per), "n_stories": len(self),
                "stories_per_emotion": _stats(per), "words_per_story": _stats(words),
                "n_dropped": len(self.dropped)}

    def subset(self, emotions: Iterable[str]) -> Corpus:
        """The stories of ``emotions`` (kept in corpus order); unknown emotions are listed in the error."""
        wanted = tuple(emotions)
        unknown = [e for e in wanted if e not in set(self.emotions)]
        if unknown:
            raise InputError(f"corpus {self.name}: no stories for {len(unknown)} emotion(s): {unknown}")
        keep = set(wanted)
        return Corpus(tuple(s for s in self.stories if s.emotion in keep), self.name, self.dropped)

    def head(self, n_emotions: int) -> Corpus:
        """The stories of the first ``n_emotions`` emotions (a quick run)."""
        if n_emotions < 1:
            raise InputError(f"corpus {self.name}: head needs at least 1 emotion, got {n_emotions}")
        return self.subset(self.emotions[:n_emotions])

    def without(self, stories: Iterable[Story], reasons: Iterable[dict] = ()) -> Corpus:
        """This corpus less ``stories``; ``reasons`` (problem rows) are added to ``dropped``."""
        gone = set(stories)
        kept = tuple(s for s in self.stories if s not in gone)
        if not kept:
            raise InputError(f"corpus {self.name}: dropping {len(gone)} stories leaves none")
        return Corpus(kept, self.name, self.dropped + tuple(reasons))

    def save_jsonl(self, path: str | Path) -> Path:
        """Write the corpus in the paper's format, one row per (source row), stories in order."""
        from workbench.io import atomic_write_text

        rows: dict[tuple[str, int], dict] = {}
        for s in self.stories:
            row = rows.setdefault((s.source, s.line), {"emotion": s.emotion, "topic": s.topic, "stories": []})
            row["stories"].append(s.text)
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows.values())
        return atomic_write_text(path, text)


def _stats(values: list[int]) -> dict:
    return {"min": min(values), "mean": statistics.fmean(values), "max": max(values)}


def _stories_from_row(row, where: str, source: str, line: int) -> list[Story]:
    if not isinstance(row, dict):
        raise InputError(f"{where}: expected a JSON object, got {type(row).__name__}")
    emotion = row.get("emotion")
    if not isinstance(emotion, str) or not emotion.strip():
        raise InputError(f"{where}: missing or empty 'emotion' (keys: {sorted(row)})")
    if "stories" not in row:
        raise InputError(f"{where}: missing 'stories' (keys: {sorted(row)})")
    stories = row["stories"]
    if not isinstance(stories, list):
        raise InputError(f"{where}: 'stories' must be a list of strings, got {type(stories).__name__}")
    bad = [i + 1 for i, s in enumerate(stories) if not isinstance(s, str)]
    if bad:
        raise InputError(f"{where}: 'stories' must be a list of strings; item(s) {bad} are not strings")
    topic = row.get("topic", "")
    if not isinstance(topic, str):
        raise InputError(f"{where}: 'topic' must be a string, got {type(topic).__name__}")
    return [Story(emotion.strip(), topic, text, source, line, i + 1) for i, text in enumerate(stories)]


def _read_jsonl(path: Path) -> list[Story]:
    from workbench.io import iter_jsonl

    return [s for line, row, where in iter_jsonl(path) for s in _stories_from_row(row, where, str(path), line)]


def _load_path(path: Path, name: str) -> Corpus:
    if path.is_dir():
        files = sorted(path.glob("*.jsonl"))
        if not files:
            raise InputError(f"corpus folder {path} holds no *.jsonl file")
        stories = [s for f in files for s in _read_jsonl(f)]
        where = f"corpus folder {path} ({len(files)} files)"
    elif path.is_file():
        stories = _read_jsonl(path)
        where = f"corpus file {path}"
    else:
        from workbench.io import file_problem

        raise InputError(f"corpus {path} {file_problem(path) or 'cannot be read'} (expected a JSONL file, a folder "
                         "of them, 'hf:OWNER/NAME[@split]' or 'bundled')")
    if not stories:
        raise InputError(f"{where}: no stories (every row is empty or the file is blank)")
    return Corpus(tuple(stories), name)


def load_corpus(source: str | Path) -> Corpus:
    """Load a story corpus from a JSONL file, a folder of them, ``hf:OWNER/NAME[@split]`` or ``bundled``.

    Errors name the file and line (malformed JSON, a row without ``emotion`` or
    ``stories``, ``stories`` not a list of strings); an ``hf:`` source that is
    neither reachable nor cached raises :class:`OfflineError` saying how to get it.
    """
    if isinstance(source, str) and source == "bundled":
        return _load_path(BUNDLED_DIR, "bundled")
    if isinstance(source, str) and source.startswith("hf:"):
        rows, name = _hf_rows(source)
        stories = [s for i, row in enumerate(rows, start=1)
                   for s in _stories_from_row(row, f"{name}, row {i}", name, i)]
        if not stories:
            raise InputError(f"{name}: no stories")
        return Corpus(tuple(stories), name)
    path = Path(source)
    return _load_path(path, str(path))


def _hub_check(repo: str, timeout: float) -> str:
    """Ask the hub about ``repo`` once, with a short timeout (:func:`workbench.env.hub_request`): "" when
    it answers, else why it is unusable. An answer that is not the hub's (a proxy's page) counts as
    unusable; an error the hub itself returns (no such dataset, no access) is an :class:`InputError`.
    """
    from workbench.env import hub_endpoint, hub_request

    answer = hub_request(f"/api/datasets/{repo}", timeout, token=True)
    if isinstance(answer, str):
        return answer
    status, body = answer
    if isinstance(body, dict) and status == 200 and "id" in body:
        return ""
    if isinstance(body, dict) and "error" in body:
        raise InputError(f"corpus hf:{repo}: the hub answered HTTP {status}: {body['error']}")
    return f"the Hugging Face hub ({hub_endpoint()}) cannot be reached (HTTP {status}, not a hub answer)"


@contextlib.contextmanager
def _offline_mode(on: bool):
    """Make ``datasets`` read only its cache while inside (its flags are read at import time)."""
    import datasets.config
    from huggingface_hub import constants

    saved = datasets.config.HF_HUB_OFFLINE, constants.HF_HUB_OFFLINE
    if on:
        datasets.config.HF_HUB_OFFLINE = constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        datasets.config.HF_HUB_OFFLINE, constants.HF_HUB_OFFLINE = saved


def _hf_rows(source: str) -> tuple[list[dict], str]:
    repo, _, split = source[3:].partition("@")
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", repo):
        raise InputError(f"corpus {source!r}: expected 'hf:OWNER/NAME' or 'hf:OWNER/NAME@split'")
    split = split or "train"
    name = f"hf:{repo}@{split}"
    try:
        import datasets
    except ImportError:
        raise InputError(f"corpus {name} needs the 'datasets' package (pip install datasets)") from None
    from workbench.env import offline_by_env

    why = "offline mode is set (HF_HUB_OFFLINE/HF_DATASETS_OFFLINE)" if offline_by_env() \
        else _hub_check(repo, HUB_TIMEOUT)
    offline = bool(why)
    try:
        with _offline_mode(offline):
            ds = datasets.load_dataset(repo, split=split)
    except Exception as exc:  # the library raises many types; each becomes a user error
        reason = f"{type(exc).__name__}: {exc}"
        if offline:
            raise OfflineError(
                f"corpus {name}: {why} and the dataset is not in the local cache ({reason}). "
                f"To get it: run once with network access (and without offline mode) to cache it, "
                f"or download its JSONL file(s) from https://huggingface.co/datasets/{repo} "
                f"and pass the file or folder path instead of {source!r}.") from exc
        raise InputError(f"corpus {name}: cannot load it from the hub ({reason})") from exc
    return [dict(r) for r in ds], name
