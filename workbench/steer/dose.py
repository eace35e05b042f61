"""The dose-response statistic: Spearman rho of alpha vs score within each prompt, averaged over prompts.

A prompt sets the level of every score (its topic, its first words); pooling
the texts of all prompts into one rank correlation mixes those levels into the
noise and dilutes a within-prompt slope (METHOD.md section 6). Here each
prompt's rho is computed over its own (sample, alpha) pairs, and the estimate
is their mean over prompts. A prompt whose rho is undefined (fewer than 3
scored texts, or a constant score) is left out of the mean and counted, never
taken as 0.

The interval resamples prompts only (a prompt's samples stay with it: they are
its within-prompt replicates, already summarized in its rho). With few prompts
the plain percentile interval of a mean is too narrow (about 90% coverage at 8
prompts), so the interval is the *expanded percentile* interval (Hesterberg
2015, "What teachers should know about the bootstrap", section 4): the
bootstrap quantiles at ``Phi(-sqrt(n/(n-1)) t_{n-1, 1-a/2})`` instead of
``a/2``. ``workbench.steer.calibration`` measures its coverage.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm, rankdata, t

__all__ = ["spearman", "within_prompt_rho", "prompt_draws", "expanded_level", "interval", "resampled_mean"]


def spearman(x, y) -> float:
    """Spearman rho (Pearson r of average ranks) of the pairs where both are finite; NaN if undefined."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    keep = np.isfinite(x) & np.isfinite(y)
    if keep.sum() < 3:
        return float("nan")
    rx, ry = rankdata(x[keep]), rankdata(y[keep])
    rx, ry = rx - rx.mean(), ry - ry.mean()
    den = np.sqrt((rx**2).sum() * (ry**2).sum())
    return float((rx * ry).sum() / den) if den > 0 else float("nan")


def within_prompt_rho(cube: np.ndarray, alphas) -> np.ndarray:
    """Spearman rho of alpha vs score of each prompt over its (sample, alpha) pairs: ``[P]`` (NaN: undefined).

    ``cube``: scores ``[..., prompt, sample, alpha]`` (NaN: missing). Complete prompts
    go in one vectorized pass; a prompt with a missing score is computed alone.
    """
    cube = np.asarray(cube, dtype=np.float64)
    n_samples, n_alphas = cube.shape[-2], cube.shape[-1]
    x = np.broadcast_to(np.asarray(alphas, dtype=np.float64), (n_samples, n_alphas)).reshape(-1)
    y = cube.reshape(cube.shape[:-2] + (-1,))
    flat = y.reshape(-1, n_samples * n_alphas)
    out = np.full(len(flat), np.nan)
    complete = np.isfinite(flat).all(axis=1)
    if complete.any():
        rx = rankdata(x)
        rx = rx - rx.mean()
        ry = rankdata(flat[complete], axis=1)
        ry -= ry.mean(axis=1, keepdims=True)
        den = np.sqrt((rx**2).sum() * (ry**2).sum(axis=1))
        with np.errstate(invalid="ignore", divide="ignore"):
            out[complete] = np.where(den > 0, (ry @ rx) / den, np.nan)
    for i in np.nonzero(~complete)[0]:
        out[i] = spearman(x, flat[i])
    return out.reshape(y.shape[:-1])


def prompt_draws(n_prompts: int, n_boot: int, seed: int) -> np.ndarray:
    """``[B, P]`` prompt indices of ``n_boot`` resamples of the prompts with replacement."""
    return np.random.default_rng(seed).integers(0, n_prompts, size=(n_boot, n_prompts))


def resampled_mean(values: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """Mean over each resample's drawn prompts of ``values`` ``[..., P]``, NaN (undefined) prompts left out."""
    picked = np.asarray(values)[..., draws]  # [..., B, P]
    finite = np.isfinite(picked)
    count = finite.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, np.where(finite, picked, 0.0).sum(axis=-1) / count, np.nan)


def expanded_level(n: int, ci: float = 0.95) -> float:
    """The lower bootstrap quantile of the expanded percentile interval for ``n`` resampled units."""
    if n < 2:
        return float("nan")
    return float(norm.cdf(-np.sqrt(n / (n - 1)) * t.ppf(1 - (1 - ci) / 2, n - 1)))


def interval(replicates: np.ndarray, n: int, ci: float = 0.95, expanded: bool = True) -> tuple[float, float]:
    """Percentile interval of ``replicates`` (expanded for ``n`` units unless ``expanded=False``).

    NaN when fewer than 2 units or more than 10% of the replicates are undefined.
    """
    v = np.asarray(replicates, dtype=np.float64)
    v = v[np.isfinite(v)]
    level = expanded_level(n, ci) if expanded else (1 - ci) / 2
    if n < 2 or len(v) == 0 or len(v) < 0.9 * np.size(replicates) or not np.isfinite(level):
        return float("nan"), float("nan")
    return float(np.quantile(v, level)), float(np.quantile(v, 1 - level))
