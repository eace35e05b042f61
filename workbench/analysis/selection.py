"""Layer selection that is out of sample by construction: chosen on half the emotions, reported on the other.

PCA uses no labels, so it is fitted on all emotions. A split divides the
*emotions* at random into halves A and B; the layer chosen is the maximum over
layers of |r(PC, rating)| on half A, and the estimate is half B's r at that
layer, the PC signed by half A (never by half B's ratings). Cross-fitting swaps
the halves; over ``S`` random splits the estimate is the median of the ``2S``
held-out r, the spread their interquartile range, and the layer reported the
one chosen most often (with the share of choices it got).

Why emotions and not stories: structure that is not valence but belongs to the
emotion (length, style, a massive-activation direction) is shared by all of an
emotion's stories. Two halves of the stories carry the same chance match with
the same ratings, so a choice made on one half of the stories is not out of
sample for the other. Half B's ratings take no part in a choice made on half A.

The same function runs on the full sample (weights 1) and on each bootstrap
replicate (weights: how often each emotion was drawn; an emotion drawn twice
stays in one half, so no emotion is on both sides), which is how the interval
of the whole select-then-estimate procedure is made (see ``analyze``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["CrossFit", "emotion_splits", "weighted_r", "crossfit", "crossfit_summary"]


@dataclass(frozen=True)
class CrossFit:
    chosen: np.ndarray  # [R, 2S] layer position chosen on the selection half (-1: no defined r)
    heldout: np.ndarray  # [R, 2S] r on the other half at that layer, signed by the selection half
    selection_r: np.ndarray  # [R, 2S] |r| on the selection half at the chosen layer


def emotion_splits(rng: np.random.Generator, n: int, n_splits: int) -> np.ndarray:
    """``[n_splits, n]`` boolean masks, True for the ``n // 2`` emotions of half A."""
    order = np.argsort(rng.random((n_splits, n)), axis=1)
    return order < n // 2


def weighted_r(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted Pearson r of ``x`` ``[R, L, n]`` with ``y`` ``[n]`` under weights ``w`` ``[R, S, n]``:
    ``[R, S, L]``; NaN where either side has no weighted variance."""
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    sw = w.sum(axis=-1)[..., None]  # [R, S, 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        mx = np.einsum("rsn,rln->rsl", w, x) / sw
        my = (w * y).sum(axis=-1)[..., None] / sw
        yc = y - my  # [R, S, n]
        sxx = np.einsum("rsn,rln->rsl", w, x * x) / sw - mx * mx
        syy = (w * yc * yc).sum(axis=-1)[..., None] / sw
        sxy = np.einsum("rsn,rln->rsl", w * yc, x) / sw
        scale = sxx + mx * mx  # the weighted mean square: a variance below 1e-12 of it is rounding
        ok = (sxx > 1e-12 * scale) & (syy > 0)
        r = np.where(ok, sxy / np.sqrt(np.where(ok, sxx * syy, 1.0)), np.nan)
    return np.clip(r, -1.0, 1.0)


def _choose(select: np.ndarray, estimate: np.ndarray):
    """Layer of max |select| per (replicate, split), and estimate there signed by select."""
    absr = np.where(np.isnan(select), -1.0, np.abs(select))
    j = absr.argmax(axis=-1)  # [R, S]
    defined = ~np.isnan(select).all(axis=-1)
    sel = np.take_along_axis(select, j[..., None], axis=-1)[..., 0]
    est = np.take_along_axis(estimate, j[..., None], axis=-1)[..., 0]
    sign = np.where(sel < 0, -1.0, 1.0)
    return np.where(defined, j, -1), np.where(defined, est * sign, np.nan), np.where(defined, np.abs(sel), np.nan)


def crossfit(scores: np.ndarray, y: np.ndarray, splits: np.ndarray, weights: np.ndarray | None = None) -> CrossFit:
    """Cross-fitted selection for ``scores`` ``[R, L, n]`` (one PC's scores per replicate and layer) and
    ratings ``y`` ``[n]`` over ``splits`` ``[S, n]``; ``weights`` ``[R, n]`` (default 1)."""
    scores = np.asarray(scores, dtype=np.float64)
    if weights is None:
        weights = np.ones((scores.shape[0], scores.shape[-1]))
    a = np.asarray(splits, dtype=np.float64)[None]  # [1, S, n]
    r_a = weighted_r(scores, y, weights[:, None, :] * a)
    r_b = weighted_r(scores, y, weights[:, None, :] * (1.0 - a))
    parts = [_choose(r_a, r_b), _choose(r_b, r_a)]
    return CrossFit(*(np.concatenate([p[i] for p in parts], axis=1) for i in range(3)))


def crossfit_summary(fit: CrossFit, n_layers: int) -> dict:
    """Of a full-sample (R = 1) cross-fit: the layer chosen most often (position; ties: the lower),
    its share of the choices, the median held-out r and its interquartile range over the splits."""
    chosen, held = fit.chosen[0], fit.heldout[0]
    valid = chosen >= 0
    share = np.bincount(chosen[valid], minlength=n_layers) / max(len(chosen), 1)
    if not valid.any():
        return {"position": None, "share": share, "r": np.nan, "spread": (np.nan, np.nan)}
    j = int(share.argmax())
    finite = held[np.isfinite(held)]
    if finite.size == 0:
        return {"position": j, "share": share, "r": np.nan, "spread": (np.nan, np.nan)}
    return {"position": j, "share": share, "r": float(np.median(finite)),
            "spread": tuple(float(v) for v in np.quantile(finite, [0.25, 0.75]))}
