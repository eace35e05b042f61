"""Correlation, resampling and multiple-comparison statistics, vectorized with numpy.

Resampling draws are made here, from a ``numpy.random.Generator``, and returned as
index arrays, so a test can replay exactly the same resamples with a slow loop.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats as _st

from workbench.errors import InputError

__all__ = ["pearson", "pearson_p", "percentile_ci", "fisher_ci", "permutation_p", "maxstat_p", "bh_fdr",
           "BootstrapDraws", "bootstrap_draws", "permutation_draws"]


def pearson(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    """Pearson r along ``axis`` (broadcasting); NaN where either side has no variance."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    xc = x - x.mean(axis=axis, keepdims=True)
    yc = y - y.mean(axis=axis, keepdims=True)
    num = (xc * yc).sum(axis=axis)
    den = np.sqrt((xc * xc).sum(axis=axis) * (yc * yc).sum(axis=axis))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    return np.clip(r, -1.0, 1.0)


def pearson_p(r: np.ndarray, n: int) -> np.ndarray:
    """Two-sided p of Pearson ``r`` from ``n`` pairs (t test with n - 2 degrees of freedom)."""
    r = np.asarray(r, dtype=np.float64)
    if n < 3:
        raise InputError(f"a correlation p-value needs at least 3 pairs, got {n}")
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.abs(r) * np.sqrt((n - 2) / np.maximum(1.0 - r * r, 0.0))
    return np.where(np.isnan(r), np.nan, 2.0 * _st.t.sf(t, n - 2))


def percentile_ci(samples: np.ndarray, level: float = 0.95, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of ``samples`` along ``axis``, ignoring NaN resamples."""
    tail = (1.0 - level) / 2.0
    samples = np.asarray(samples, dtype=np.float64)
    quantile = np.nanquantile if np.isnan(samples).any() else np.quantile
    low, high = quantile(samples, [tail, 1.0 - tail], axis=axis)
    return low, high


def fisher_ci(estimate: np.ndarray, samples: np.ndarray, level: float = 0.95,
              axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Normal interval for correlations in Fisher's z, centred on ``estimate``, with the standard
    error of the bootstrap ``samples`` (NaN resamples ignored).

    Bootstrapped PCA in high dimension (n emotions << d) is biased: a resample repeats
    emotions, and a repeated emotion's own noise adds a spurious direction, so resampled
    PC1-rating correlations sit below the estimate and a percentile interval can exclude
    it. Using the resamples for the spread only keeps the interval around the estimate;
    the bias widens it (conservative).
    """
    lim = 1.0 - 1e-9
    z = np.arctanh(np.clip(np.asarray(samples, dtype=np.float64), -lim, lim))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a column without resamples: NaN, said by the caller
        se = np.nanstd(z, axis=axis, ddof=1)
    centre = np.arctanh(np.clip(np.asarray(estimate, dtype=np.float64), -lim, lim))
    half = _st.norm.ppf(0.5 + level / 2.0) * se
    est = np.asarray(estimate, dtype=np.float64)
    # tanh(arctanh(r)) can differ from r in the last bit: keep the estimate inside its interval.
    return np.minimum(np.tanh(centre - half), est), np.maximum(np.tanh(centre + half), est)  # NaN stays NaN


def permutation_p(observed: np.ndarray, null: np.ndarray) -> np.ndarray:
    """``(1 + #{null >= observed}) / (1 + B)`` per column of ``null`` ``[B, ...]`` (pass |r|).

    NaN in, NaN out: an undefined observed statistic (a constant component) has no p-value, and
    ``B`` counts only the finite null draws of its column (a column without any is NaN too).
    """
    null = np.asarray(null, dtype=np.float64)
    observed = np.asarray(observed, dtype=np.float64)
    finite = np.isfinite(null)
    hits = (np.where(finite, null, -np.inf) >= observed[None] - 1e-12).sum(axis=0)
    draws = finite.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = (1.0 + hits) / (1.0 + draws)
    return np.where(np.isnan(observed) | (draws == 0), np.nan, p)


def maxstat_p(observed: np.ndarray, null: np.ndarray) -> np.ndarray:
    """Family-wise p: compare each ``observed`` value with the maximum over the family (every axis of
    ``null`` but the first: layers, or PCs) of each null draw, NaN entries ignored; NaN in, NaN out."""
    null = np.asarray(null, dtype=np.float64)
    observed = np.asarray(observed, dtype=np.float64)
    flat = null.reshape(null.shape[0], -1)
    ok = np.isfinite(flat)
    peak = np.where(ok.any(axis=1), np.where(ok, flat, -np.inf).max(axis=1), np.nan)
    return permutation_p(observed, peak.reshape((-1,) + (1,) * observed.ndim))


def bh_fdr(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q), same order as ``p``, over the finite p-values only
    (a NaN p is not a test: it stays NaN and does not count in ``m``)."""
    p = np.asarray(p, dtype=np.float64)
    q = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    m = ok.size
    if m == 0:
        return q
    order = ok[np.argsort(p[ok], kind="stable")]
    scaled = p[order] * m / np.arange(1, m + 1)
    q[order] = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    return q


@dataclass(frozen=True)
class BootstrapDraws:
    """Resamples as index arrays. Replicate ``b`` draws emotions with replacement
    (``emotions[b]``: the emotion of each row); the row of emotion ``e`` is the weighted sum
    ``sum_k weights[b, e, k] * units[units_idx[b, e, k]]``, the same for every row that drew
    ``e`` in that replicate. The units are the story means (grouped by emotion), each
    emotion's stories resampled with replacement; without stories, the emotion vectors."""

    emotions: np.ndarray  # [B, n] resampled emotion per row
    units: np.ndarray  # [B, n_emotions, k_max] unit rows averaged into each emotion's row
    weights: np.ndarray  # [B, n_emotions, k_max], rows sum to 1


def bootstrap_draws(rng: np.random.Generator, n_boot: int, n_emotions: int,
                    story_counts=None) -> BootstrapDraws:
    """Resample emotions with replacement; with ``story_counts`` (stories per emotion, stored
    contiguously in emotion order) also resample each emotion's stories with replacement."""
    emo = rng.integers(0, n_emotions, size=(n_boot, n_emotions))
    if story_counts is None:
        own = np.broadcast_to(np.arange(n_emotions)[None, :, None], (n_boot, n_emotions, 1))
        return BootstrapDraws(emo, own, np.ones(own.shape))
    counts = np.asarray(story_counts, dtype=np.int64)
    starts = np.cumsum(counts) - counts
    kmax = int(counts.max())
    c = counts[None, :, None]
    u = rng.random(size=(n_boot, n_emotions, kmax))
    valid = np.arange(kmax) < c
    units = np.where(valid, starts[None, :, None] + np.minimum((u * c).astype(np.int64), c - 1),
                     starts[None, :, None])
    weights = np.where(valid, 1.0 / c, 0.0) * np.ones((n_boot, 1, 1))
    return BootstrapDraws(emo, units, weights)


def permutation_draws(rng: np.random.Generator, n_perm: int, n: int) -> np.ndarray:
    """``[n_perm, n]`` random permutations of ``range(n)``."""
    return rng.permuted(np.tile(np.arange(n), (n_perm, 1)), axis=1)
