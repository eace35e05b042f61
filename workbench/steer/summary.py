"""Dose-response statistics: Spearman rho of alpha vs score, with a two-stage bootstrap CI.

The unit of resampling is the (prompt, sample) pair, which carries its texts at
every alpha (they share a sampling seed). Each bootstrap replicate draws prompts
with replacement, then samples with replacement within each drawn prompt (the
same draws for every direction and score, so the direction - controls
difference is paired). The controls' rho is the mean of the per-control rhos.
Texts with a missing score (no token generated) are left out of that score.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

from workbench.errors import InputError

__all__ = ["SCORES", "spearman", "bootstrap_draws", "score_cube", "summarize"]

SCORES = ("readback", "vader", "perplexity")


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


def _spearman_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman rho of each row pair of ``x`` and ``y`` ``[B, n]`` (rows with a NaN go one by one)."""
    out = np.empty(len(x))
    finite = np.isfinite(x).all(axis=1) & np.isfinite(y).all(axis=1)
    if finite.any():
        rx, ry = rankdata(x[finite], axis=1), rankdata(y[finite], axis=1)
        rx -= rx.mean(axis=1, keepdims=True)
        ry -= ry.mean(axis=1, keepdims=True)
        den = np.sqrt((rx**2).sum(axis=1) * (ry**2).sum(axis=1))
        with np.errstate(invalid="ignore", divide="ignore"):
            out[finite] = np.where(den > 0, (rx * ry).sum(axis=1) / den, np.nan)
    for b in np.nonzero(~finite)[0]:
        out[b] = spearman(x[b], y[b])
    return out


def bootstrap_draws(n_prompts: int, n_samples: int, n_boot: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(prompt indices ``[B, P]``, sample indices ``[B, P, S]``) of ``n_boot`` two-stage resamples."""
    rng = np.random.default_rng(seed)
    prompts = rng.integers(0, n_prompts, size=(n_boot, n_prompts))
    samples = rng.integers(0, n_samples, size=(n_boot, n_prompts, n_samples))
    return prompts, samples


def score_cube(rows, direction: str, score: str, alphas, n_prompts: int, n_samples: int) -> np.ndarray:
    """Scores of one direction as ``[prompt, sample, alpha]`` (an incomplete table is an error)."""
    cube = np.full((n_prompts, n_samples, len(alphas)), np.nan)
    seen = np.zeros(cube.shape, dtype=bool)
    col = {a: j for j, a in enumerate(alphas)}
    for r in rows:
        if r["direction"] != direction:
            continue
        at = (r["prompt_index"], r["sample"], col[r["alpha"]])
        if seen[at]:
            raise InputError(f"steering table: direction {direction!r} has two rows for (prompt, sample, alpha) {at}")
        seen[at] = True
        cube[at] = r[score]
    if not seen.all():
        raise InputError(f"steering table: direction {direction!r} lacks {int((~seen).sum())} of {seen.size} rows")
    return cube


def _interval(values: np.ndarray, ci: float) -> tuple[float, float]:
    v = values[np.isfinite(values)]
    if len(v) < 0.9 * len(values) or len(v) == 0:
        return float("nan"), float("nan")
    q = (1 - ci) / 2
    return float(np.quantile(v, q)), float(np.quantile(v, 1 - q))


def _stat(estimate, replicates, ci) -> dict:
    low, high = _interval(replicates, ci)
    return {"rho": float(estimate), "ci_low": low, "ci_high": high}


def _resampled(cube, prompts, samples) -> np.ndarray:
    """``[B, P*S*A]`` scores of every replicate (prompt, then sample within prompt)."""
    picked = cube[prompts[:, :, None], samples]  # [B, P, S, A]
    return picked.reshape(len(prompts), -1)


def _means_by_alpha(cubes, prompts, samples, alphas, ci) -> list[dict]:
    full = np.stack(cubes)  # [k, P, S, A]; k > 1 pools the controls
    out = []
    for j, alpha in enumerate(alphas):
        point = float(np.nanmean(full[..., j])) if np.isfinite(full[..., j]).any() else float("nan")
        reps = np.stack([np.nanmean(c[prompts[:, :, None], samples, j].reshape(len(prompts), -1), axis=1)
                         if np.isfinite(c[..., j]).any() else np.full(len(prompts), np.nan) for c in cubes])
        low, high = _interval(reps.mean(axis=0), ci)
        out.append({"alpha": alpha, "mean": point, "ci_low": low, "ci_high": high,
                    "n": int(np.isfinite(full[..., j]).sum())})
    return out


def summarize(rows, directions, alphas, n_prompts: int, n_samples: int, n_boot: int = 2000, seed: int = 0,
              ci: float = 0.95) -> dict:
    """Per score: rho with CI for the steered direction, each control, the controls' mean, and the difference.

    ``rows``: dicts with ``direction``, ``prompt_index``, ``sample``, ``alpha`` and the scores;
    ``directions``: ``(name, kind)`` pairs, exactly one of kind ``"direction"``.
    """
    alphas = [float(a) for a in alphas]
    main = [name for name, kind in directions if kind == "direction"]
    controls = [name for name, kind in directions if kind == "control"]
    if len(main) != 1:
        raise InputError(f"summarize: expected one steered direction, got {main}")
    prompts, samples = bootstrap_draws(n_prompts, n_samples, n_boot, seed)
    x = np.broadcast_to(np.asarray(alphas), (n_prompts, n_samples, len(alphas))).reshape(-1)
    x_reps = np.broadcast_to(x, (n_boot, x.size))
    out = {}
    for score in SCORES:
        cubes = {name: score_cube(rows, name, score, alphas, n_prompts, n_samples) for name in main + controls}
        rho = {name: spearman(x, cube.reshape(-1)) for name, cube in cubes.items()}
        reps = {name: _spearman_rows(x_reps, _resampled(cube, prompts, samples)) for name, cube in cubes.items()}
        entry = {"direction": dict(name=main[0], **_stat(rho[main[0]], reps[main[0]], ci), n=int(np.isfinite(
            cubes[main[0]]).sum())), "controls": None, "difference": None,
            "by_alpha": {"direction": _means_by_alpha([cubes[main[0]]], prompts, samples, alphas, ci)}}
        if controls:
            mean_rho = float(np.mean([rho[c] for c in controls]))
            mean_reps = np.mean([reps[c] for c in controls], axis=0)
            entry["controls"] = dict(**_stat(mean_rho, mean_reps, ci), per_control=[
                dict(name=c, **_stat(rho[c], reps[c], ci)) for c in controls])
            entry["difference"] = _stat(rho[main[0]] - mean_rho, reps[main[0]] - mean_reps, ci)
            entry["by_alpha"]["controls"] = _means_by_alpha([cubes[c] for c in controls], prompts, samples,
                                                            alphas, ci)
        out[score] = entry
    return {"scores": out, "alphas": alphas, "n_prompts": n_prompts, "n_samples": n_samples, "bootstrap": n_boot,
            "ci": ci, "bootstrap_seed": seed,
            "resampling": "prompts with replacement, then samples with replacement within each drawn prompt",
            "controls_rho": "mean of the per-control rhos (same resamples for the difference)"}
