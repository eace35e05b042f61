"""Does an emotion vector promote its own word? The share of emotions that do, against random directions.

A token is a form of an emotion's word when its text, stripped of the
tokenizer's space marker and lower-cased, is one of
:func:`workbench.data.forms.emotion_forms` (whole words only: ``"▁afraid"``
and ``"Afraid"`` count, the sub-word ``"terr"`` does not). An emotion *hits*
when one of its top-k promoted tokens is such a form.

The null: ``n_random`` isotropic random directions go through the same lens
once; ``hit[j, e]`` says whether random direction ``j`` would hit emotion
``e``. A null set gives every emotion its own random direction (drawn from
the pool with replacement) and its share is the mean hit over emotions;
``n_sets`` such sets give the null distribution of the share. The observed
share gets a Wilson interval over emotions; ``p`` is the one-sided share of
null sets at or above it (with the +1 of a permutation p).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from workbench.data.forms import emotion_forms

__all__ = ["OwnWordShare", "form_token_ids", "own_word_share", "token_text", "wilson"]

_SPACE_MARKS = ("▁", "Ġ", "Ċ")


def token_text(piece: str) -> str:
    """A vocabulary piece as a word: space markers turned to spaces, stripped, lower-cased."""
    for mark in _SPACE_MARKS:
        piece = piece.replace(mark, " ")
    return piece.strip().lower()


def form_token_ids(tokenizer, emotions) -> dict[str, frozenset[int]]:
    """For each emotion, the ids of the vocabulary tokens that are a whole form of its word."""
    pieces = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    index: dict[str, list[int]] = {}
    for i, piece in enumerate(pieces):
        if piece:
            index.setdefault(token_text(piece), []).append(i)
    return {e: frozenset(i for form in emotion_forms(e) for i in index.get(form, ())) for e in emotions}


def wilson(hits: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval of a proportion ``hits / n`` (95% by default)."""
    if n == 0:
        return float("nan"), float("nan")
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class OwnWordShare:
    """The own-word share of the emotion vectors, its Wilson interval, and the random-direction null."""

    k: int
    n_emotions: int
    n_eligible: int  # emotions with at least one whole-word form in the vocabulary
    hits: tuple[str, ...]
    share: float
    ci_low: float
    ci_high: float
    null_mean: float
    null_low: float  # 2.5th percentile of the null share
    null_high: float  # 97.5th percentile
    p: float
    n_random: int
    n_sets: int
    seed: int

    def to_dict(self) -> dict:
        d = asdict(self)
        d["hits"] = list(self.hits)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> OwnWordShare:
        return cls(**{**d, "hits": tuple(d["hits"])})


def hit_matrix(top_ids: np.ndarray, emotions, forms: dict[str, frozenset[int]]) -> np.ndarray:
    """``[n_directions, n_emotions]``: does direction ``j``'s top-k hold a form of emotion ``e``?"""
    owners: dict[int, list[int]] = {}
    for e, name in enumerate(emotions):
        for i in forms[name]:
            owners.setdefault(i, []).append(e)
    out = np.zeros((len(top_ids), len(emotions)), dtype=bool)
    for j, row in enumerate(np.asarray(top_ids)):
        for i in row:
            for e in owners.get(int(i), ()):
                out[j, e] = True
    return out


def own_word_share(emotions, top_ids, random_top_ids, forms, k: int, n_sets: int = 10000,
                   seed: int = 0) -> OwnWordShare:
    """The share for the emotion vectors (``top_ids[e]``: emotion ``e``'s top-k) against the null
    built from ``random_top_ids`` (the top-k of random directions)."""
    emotions = tuple(emotions)
    own = hit_matrix(top_ids, emotions, forms)
    hits = tuple(e for i, e in enumerate(emotions) if own[i, i])
    n = len(emotions)
    pool = hit_matrix(random_top_ids, emotions, forms)
    rng = np.random.default_rng(seed)
    draws = rng.integers(len(pool), size=(n_sets, n))
    null = pool[draws, np.arange(n)].mean(axis=1)
    share = len(hits) / n
    low, high = wilson(len(hits), n)
    return OwnWordShare(k, n, sum(1 for e in emotions if forms[e]), hits, share, low, high, float(null.mean()),
                        float(np.quantile(null, 0.025)), float(np.quantile(null, 0.975)),
                        float((1 + (null >= share - 1e-12).sum()) / (n_sets + 1)), len(pool), n_sets, seed)
