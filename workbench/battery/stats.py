"""The battery's statistics: ladder rhos and scenario ranks, each beside a random-direction null.

An emotion's activation on an item is the projection of the reading on the unit
emotion vector at the layer, z-scored against the same projection over the
neutral tokens (``(h·u - mean_n(h·u)) / sd_n(h·u)``), so that emotions compare.

- Ladder: Spearman rho of the rung (0, 1, ...) against the target's activation.
  The null replaces the target's vector with ``n_random`` isotropic random unit
  directions (the z-score and rho do not depend on a direction's norm, so "equal
  norm" holds for free): the null's 2.5-97.5% range, and the one-sided p of
  the observed rho (``(1 + #{null >= rho}) / (n + 1)``). Also the rank of the
  target's rho among all emotions' rhos (does the ladder move *its* emotion most?).
- Scenario: the rank of the target's activation among all emotions (1: highest);
  top-1 and top-3 rates over scenarios. The null ranks a random direction in
  the target's place among the other emotions; null rates come from
  ``n_sets`` sets that give every scenario its own random direction. Beside it,
  ``p_chance``: the binomial tail of the hits when each scenario's target were
  an emotion drawn at random (rate k / n_emotions), the stricter reference when
  random directions z-score too low to ever rank high.
- The mean rho over ladders gets its null the same way.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import binom, rankdata

__all__ = ["zscorer", "ladder_rhos", "rank_rhos", "ladder_stats", "scenario_stats", "null_summary", "READINGS"]

READINGS = ("user_last", "opening")


def zscorer(units: np.ndarray, mean: np.ndarray, cov: np.ndarray):
    """A function ``h [n, d] -> z [n, m]``: the z-scored projections on the unit rows of ``units``."""
    mu = units @ mean
    sd = np.sqrt(np.einsum("md,de,me->m", units, cov, units))
    if (sd <= 0).any() or not np.isfinite(sd).all():
        raise ValueError("a direction has no variance over the neutral tokens")
    return lambda h: (np.asarray(h) @ units.T - mu) / sd


def rank_rhos(values: np.ndarray) -> np.ndarray:
    """Spearman rho of the rung order (rows) against each column of ``values`` ``[rungs, m]``."""
    rungs = np.arange(values.shape[0], dtype=np.float64)
    r = rankdata(values, axis=0)
    r = r - r.mean(axis=0)
    x = rungs - rungs.mean()
    denom = np.sqrt((x**2).sum() * (r**2).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (x @ r) / denom, np.nan)


def ladder_rhos(states: np.ndarray, units: np.ndarray) -> np.ndarray:
    """rho for each unit direction ``[m]`` on a ladder's readings ``[rungs, d]`` (z-scoring is monotone)."""
    return rank_rhos(states @ units.T)


def null_summary(observed: float, null: np.ndarray) -> dict:
    null = np.asarray(null, dtype=np.float64)
    null = null[np.isfinite(null)]
    p = float((1 + (null >= observed - 1e-12).sum()) / (len(null) + 1)) if np.isfinite(observed) else float("nan")
    return {"null_mean": float(null.mean()), "null_low": float(np.quantile(null, 0.025)),
            "null_high": float(np.quantile(null, 0.975)), "p": p, "n_null": int(len(null))}


def ladder_stats(readings: np.ndarray, target: int, units: np.ndarray, random_units: np.ndarray) -> dict:
    """One ladder, one reading: the target's rho, its rank among the emotions and the random null."""
    rhos = ladder_rhos(readings, units)
    rho = float(rhos[target])
    rank = int(1 + np.sum(rhos > rho)) if np.isfinite(rho) else None
    null = ladder_rhos(readings, random_units)
    return {"rho": rho, "rank_among_emotions": rank, **null_summary(rho, null), "_null": null}


def scenario_stats(z: np.ndarray, targets: list[int], z_random: np.ndarray, n_sets: int, rng) -> dict:
    """Ranks of the targets (``z`` ``[n_scenarios, n_emotions]``) and the null from ``z_random``
    ``[n_scenarios, n_random]`` (each random direction ranked among the other emotions)."""
    n = len(targets)
    rows = np.arange(n)
    own = z[rows, targets]
    ranks = 1 + (z > own[:, None]).sum(axis=1)
    others = z.copy()
    others[rows, targets] = -np.inf
    null_ranks = 1 + (others[:, None, :] > z_random[:, :, None]).sum(axis=2)  # [n, n_random]
    draws = rng.integers(z_random.shape[1], size=(n_sets, n))
    picked = null_ranks[rows, draws]  # [n_sets, n]
    out = {"ranks": ranks.tolist(), "n_emotions": int(z.shape[1])}
    for k in (1, 3):
        rate = float(np.mean(ranks <= k))
        hits = int(np.sum(ranks <= k))
        out[f"top{k}"] = {"rate": rate, "hits": hits, "chance": k / z.shape[1],
                          "p_chance": float(binom.sf(hits - 1, n, k / z.shape[1])),
                          **null_summary(rate, np.mean(picked <= k, axis=1))}
    return out
