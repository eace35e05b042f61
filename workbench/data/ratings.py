"""Human valence and arousal ratings for the emotion words, with provenance."""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from workbench.arrays import set_per_emotion
from workbench.errors import InputError
from workbench.resources import data_path

__all__ = ["Ratings", "load_ratings", "DEFAULT_RATINGS"]

DEFAULT_RATINGS = data_path("emotions.csv")
_COLUMNS = ("emotion", "valence", "arousal", "source")


@dataclass(frozen=True, eq=False)
class Ratings:
    """Valence and arousal in -1..1 for a list of emotions.

    ``source`` says where each rating comes from; sources that start with
    ``estimate_from_`` were estimated from proxy words (METHOD.md section 1).
    """

    emotions: tuple[str, ...]
    valence: np.ndarray
    arousal: np.ndarray
    source: tuple[str, ...]
    sha256: str = ""

    def __post_init__(self):
        set_per_emotion(self, ("valence", "arousal"), "ratings", finite=True)
        n = len(self.emotions)
        if len(self.source) != n:
            raise InputError(f"ratings: {len(self.source)} sources for {n} emotions")
        dup = sorted({e for e in self.emotions if self.emotions.count(e) > 1})
        if dup:
            raise InputError(f"ratings: emotions listed twice: {dup}")

    def __len__(self) -> int:
        return len(self.emotions)

    @property
    def is_estimated(self) -> np.ndarray:
        """Boolean mask of the ratings estimated from proxy words."""
        return np.array([s.startswith("estimate_from_") for s in self.source])

    def index(self, emotion: str) -> int:
        try:
            return self.emotions.index(emotion)
        except ValueError:
            raise InputError(f"ratings: no rating for emotion {emotion!r}") from None

    def subset(self, emotions) -> Ratings:
        """The ratings of ``emotions``, in that order; unknown emotions are listed in the error."""
        emotions = tuple(emotions)
        missing = [e for e in emotions if e not in self.emotions]
        if missing:
            raise InputError(f"ratings: no rating for {len(missing)} emotion(s): {missing}")
        idx = [self.emotions.index(e) for e in emotions]
        return Ratings(emotions, self.valence[idx], self.arousal[idx],
                       tuple(self.source[i] for i in idx), self.sha256)

    def without_estimates(self) -> Ratings:
        """The ratings without the ones estimated from proxy words."""
        return self.subset(e for e, est in zip(self.emotions, self.is_estimated) if not est)


def load_ratings(path: str | Path | None = None) -> Ratings:
    """Read ``emotion,valence,arousal,source`` rows (default: the project's ``data/emotions.csv``)."""
    path = Path(path) if path is not None else DEFAULT_RATINGS
    from workbench.io import file_problem

    if file_problem(path):
        raise InputError(f"ratings file {path} {file_problem(path)}")
    try:
        raw = path.read_bytes()
        rows = list(csv.DictReader(raw.decode("utf-8").splitlines()))
    except UnicodeDecodeError as exc:
        raise InputError(f"ratings file {path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except (OSError, csv.Error) as exc:
        raise InputError(f"ratings file {path} cannot be read ({exc})") from None
    if not rows:
        raise InputError(f"ratings file {path} has no rows")
    missing = [c for c in _COLUMNS if c not in rows[0]]
    if missing:
        raise InputError(f"ratings file {path}: missing column(s) {missing}; expected {list(_COLUMNS)}")
    emotions, val, aro, src = [], [], [], []
    for line, row in enumerate(rows, start=2):
        try:
            v, a = float(row["valence"]), float(row["arousal"])
        except (TypeError, ValueError):
            raise InputError(f"ratings file {path}, line {line}: valence/arousal not numbers: {row}") from None
        if not (-1.0 <= v <= 1.0 and -1.0 <= a <= 1.0):
            raise InputError(f"ratings file {path}, line {line}: values outside -1..1: {row}")
        if not (row["emotion"] or "").strip():
            raise InputError(f"ratings file {path}, line {line}: empty emotion: {row}")
        emotions.append(row["emotion"].strip())
        val.append(v)
        aro.append(a)
        src.append((row["source"] or "").strip())
    return Ratings(tuple(emotions), np.array(val), np.array(aro), tuple(src), hashlib.sha256(raw).hexdigest())
