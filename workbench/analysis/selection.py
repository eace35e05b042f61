"""Layer selection that is out of sample by construction: chosen on half the emotions, reported on the other.

PCA uses no labels, so it is fitted on all emotions. A split divides the
*emotions* at random into halves A and B; the layer chosen is the maximum over
layers of |r(PC, rating)| on half A, and the estimate is half B's r at that
layer, the PC signed by half A (never by half B's ratings). Cross-fitting swaps
the halves; over ``S`` random splits the estimate is the mean of the ``2S``
held-out r, the spread their interquartile range, and the layer reported the
one chosen most often (with the share of choices it got).

What the estimate estimates: the population r (over new emotions) of the PC
directions found here, at the layers the splits chose, averaged over the
splits. Its interval (:func:`selection_interval`) is a bootstrap of the error
of the whole select-then-estimate procedure against that target.

Why emotions and not stories: structure that is not valence but belongs to the
emotion (length, style, a massive-activation direction) is shared by all of an
emotion's stories. Two halves of the stories carry the same chance match with
the same ratings, so a choice made on one half of the stories is not out of
sample for the other. Half B's ratings take no part in a choice made on half A.

The same function runs on the full sample (weights 1) and on each bootstrap
replicate (weights: how often each emotion was drawn; an emotion drawn twice
stays in one half, so no emotion is on both sides), which is how the interval
of the whole select-then-estimate procedure is made.

Why not the bootstrap spread of the estimate itself: in the bootstrap world the
layers' "true" r are the sample r, which differ by chance even when every
population r is the same (0 under the null). A replicate's choice among them
then adds a spread the real estimate does not have (the interval was 1.3x too
wide under the null, excluding 0 in 0 of 400 data sets). The pivot here
subtracts, in every replicate, the bootstrap world's truth of the layers that
replicate chose (their full-sample r, signed by the replicate's selection half),
so only the estimation error is left; ``docs/statistics.md`` has the table.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

__all__ = ["CrossFit", "emotion_splits", "topic_splits", "topic_scores", "weighted_r", "crossfit", "crossfit_summary",
           "selection_interval"]


@dataclass(frozen=True)
class CrossFit:
    chosen: np.ndarray  # [R, 2S] layer position chosen on the selection half (-1: no defined r)
    heldout: np.ndarray  # [R, 2S] r on the other half at that layer, signed by the selection half
    selection_r: np.ndarray  # [R, 2S] |r| on the selection half at the chosen layer
    sign: np.ndarray  # [R, 2S] the sign of the selection half's r there (+1 or -1; NaN: no defined r)


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
    return (np.where(defined, j, -1), np.where(defined, est * sign, np.nan), np.where(defined, np.abs(sel), np.nan),
            np.where(defined, sign, np.nan))


def topic_splits(rng: np.random.Generator, n_topics: int, n_splits: int) -> np.ndarray:
    """``[n_splits, n_topics]`` boolean masks, True for the ``n_topics // 2`` topics of topic half 0."""
    order = np.argsort(rng.random((n_splits, n_topics)), axis=1)
    return order < n_topics // 2


def topic_scores(unit_scores: np.ndarray, unit_emotion: np.ndarray, unit_topic: np.ndarray, halves: np.ndarray,
                 n: int) -> np.ndarray:
    """Each emotion's mean score over its stories of each topic half: ``[S, 2, L, n]`` from the stories'
    scores ``[U, L]`` (their emotion ``[U]`` and topic ``[U]`` indices) and the topic ``halves`` ``[S, T]``;
    NaN where an emotion has no story of that half."""
    unit_scores = np.asarray(unit_scores, dtype=np.float64)
    S, L = len(halves), unit_scores.shape[1]
    out = np.full((S, 2, L, n), np.nan)
    for s, topic0 in enumerate(halves):
        in0 = topic0[unit_topic]
        for side, members in enumerate((in0, ~in0)):
            count = np.bincount(unit_emotion[members], minlength=n)
            total = np.zeros((n, L))
            np.add.at(total, unit_emotion[members], unit_scores[members])
            with np.errstate(invalid="ignore", divide="ignore"):
                out[s, side] = np.where(count[None, :] > 0, total.T / count[None, :], np.nan)
    return out


def _split_r(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """:func:`weighted_r` with one score matrix per split, ``x`` ``[S, L, n]`` (NaN: the emotion is left
    out of that split), weights ``w`` ``[R, S, n]``: ``[R, S, L]``."""
    present = np.isfinite(x).all(axis=1)  # [S, n]: an emotion without a story of that half is NaN at every layer
    w = w * present[None]
    x = np.where(present[:, None, :], x, 0.0)
    sw = w.sum(axis=-1)[..., None]
    with np.errstate(invalid="ignore", divide="ignore"):
        mx = np.einsum("rsn,sln->rsl", w, x) / sw
        my = (w * y).sum(axis=-1)[..., None] / sw
        yc = y - my
        sxx = np.einsum("rsn,sln->rsl", w, x * x) / sw - mx * mx
        syy = (w * yc * yc).sum(axis=-1)[..., None] / sw
        sxy = np.einsum("rsn,sln->rsl", w * yc, x) / sw
        ok = (sxx > 1e-12 * (sxx + mx * mx)) & (syy > 0)
        r = np.where(ok, sxy / np.sqrt(np.where(ok, sxx * syy, 1.0)), np.nan)
    return np.clip(r, -1.0, 1.0)


def crossfit(scores: np.ndarray, y: np.ndarray, splits: np.ndarray, weights: np.ndarray | None = None,
             by_topic: np.ndarray | None = None) -> CrossFit:
    """Cross-fitted selection for ``scores`` ``[R, L, n]`` (one PC's scores per replicate and layer) and
    ratings ``y`` ``[n]`` over ``splits`` ``[S, n]``; ``weights`` ``[R, n]`` (default 1).

    ``by_topic`` ``[S, 2, L, n]`` (:func:`topic_scores`) holds out topics as well: emotion half A is read
    through the stories of topic half 0 and emotion half B through topic half 1, so the half that chooses
    and the half that is scored share neither emotions nor topics (``scores`` then gives only ``R``).
    """
    scores = np.asarray(scores, dtype=np.float64)
    if weights is None:
        weights = np.ones((scores.shape[0], scores.shape[-1]))
    a = np.asarray(splits, dtype=np.float64)[None]  # [1, S, n]
    if by_topic is None:
        r_a = weighted_r(scores, y, weights[:, None, :] * a)
        r_b = weighted_r(scores, y, weights[:, None, :] * (1.0 - a))
    else:
        r_a = _split_r(by_topic[:, 0], y, weights[:, None, :] * a)
        r_b = _split_r(by_topic[:, 1], y, weights[:, None, :] * (1.0 - a))
    parts = [_choose(r_a, r_b), _choose(r_b, r_a)]
    return CrossFit(*(np.concatenate([p[i] for p in parts], axis=1) for i in range(4)))


def crossfit_summary(fit: CrossFit, n_layers: int) -> dict:
    """Of a full-sample (R = 1) cross-fit: the layer chosen most often (position; ties: the lower),
    its share of the choices, the mean held-out r and its interquartile range over the splits."""
    chosen, held = fit.chosen[0], fit.heldout[0]
    valid = chosen >= 0
    share = np.bincount(chosen[valid], minlength=n_layers) / max(len(chosen), 1)
    if not valid.any():
        return {"position": None, "share": share, "r": np.nan, "spread": (np.nan, np.nan)}
    j = int(share.argmax())
    finite = held[np.isfinite(held)]
    if finite.size == 0:
        return {"position": j, "share": share, "r": np.nan, "spread": (np.nan, np.nan)}
    return {"position": j, "share": share, "r": float(np.mean(finite)),
            "spread": tuple(float(v) for v in np.quantile(finite, [0.25, 0.75]))}


def _z(r):
    lim = 1.0 - 1e-9
    return np.arctanh(np.clip(r, -lim, lim))


def selection_interval(scores: np.ndarray, y: np.ndarray, splits: np.ndarray, weights: np.ndarray,
                       level: float = 0.95, by_topic: np.ndarray | None = None,
                       chunk: int = 64) -> tuple[float, float, float]:
    """The interval of the cross-fitted estimate of ``scores`` ``[L, n]`` (one PC, full-sample PCA) under
    the bootstrap ``weights`` ``[B, n]`` (draw counts): ``(low, high, standard error in Fisher z)``.

    In every replicate the whole procedure runs again (choice on one half, r on the other, every split),
    and its error is taken against the bootstrap world's truth of what it chose: the mean over the splits
    of the full-sample r of the chosen layer, signed by the replicate's selection half (with ``by_topic``,
    the full-sample r of the scores read through the scored half's topics). The interval is the estimate
    plus or minus the normal quantile times the spread of that error, in Fisher's z. NaN (no defined r
    anywhere) gives NaN.
    """
    from scipy.stats import norm

    scores = np.asarray(scores, dtype=np.float64)
    n, S = scores.shape[-1], len(splits)
    full = crossfit(scores[None], y, splits, by_topic=by_topic)
    if by_topic is None:
        truth = np.broadcast_to(weighted_r(scores[None], y, np.ones((1, 1, n)))[0, 0], (2 * S, scores.shape[0]))
    else:  # direction 1 is scored through topic half 1, direction 2 through topic half 0
        ones = np.ones((1, S, n))
        truth = np.concatenate([_split_r(by_topic[:, 1], y, ones)[0], _split_r(by_topic[:, 0], y, ones)[0]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN: NaN
        estimate = float(np.nanmean(full.heldout[0]))
        errors = []
        for lo in range(0, weights.shape[0], chunk):
            w = weights[lo:lo + chunk]
            fit = crossfit(np.broadcast_to(scores, (w.shape[0],) + scores.shape), y, splits, w, by_topic)
            picked = np.take_along_axis(truth[None], np.maximum(fit.chosen, 0)[..., None], axis=-1)[..., 0]
            target = np.where(fit.chosen >= 0, picked, np.nan) * fit.sign
            target = np.where(np.isfinite(fit.heldout), target, np.nan)  # the splits the estimate averages
            errors.append(_z(np.nanmean(fit.heldout, axis=1)) - _z(np.nanmean(target, axis=1)))
        err = np.concatenate(errors)
        err = err[np.isfinite(err)]
    if not np.isfinite(estimate) or err.size < 2:
        return np.nan, np.nan, np.nan
    se = float(np.std(err, ddof=1))
    half = float(norm.ppf(0.5 + level / 2.0)) * se
    centre = float(_z(estimate))
    return min(float(np.tanh(centre - half)), estimate), max(float(np.tanh(centre + half)), estimate), se
