"""Calibration of the steering statistic on simulated dose-response data with a known answer.

A data set is ``prompts x samples x alphas`` scores ``y = u_p + (beta + v_p) * alpha + e``:
a random intercept ``u_p`` per prompt (its level), a random slope ``v_p`` per
prompt (prompts respond differently), and noise ``e``. Under the null ``beta = 0``
(no dose effect on average, the prompts' slopes still vary); planted, ``beta > 0``.

The population value of a statistic is its mean over a very large simulation of
the same design (``population_value``): for the mean within-prompt rho that is
the expected rho of one prompt (:data:`POPULATION_PROMPTS` prompts); for the
pooled rho, the mean over :data:`POPULATION_SETS` data sets of the same size.

For each method ``calibration_rows`` reports, over ``n_sets`` data sets:
the false-positive rate (null: the 95% interval excludes 0), the coverage
(planted: the interval holds the population value), the power (planted: it
excludes 0), and the mean interval width against the width needed (the central
95% range of the estimate over the data sets, which a perfect interval of fixed
width would need). ``benchmarks/calibration_steering.py`` prints the table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

from workbench.steer.dose import interval, prompt_draws, resampled_mean, within_prompt_rho

__all__ = ["Design", "simulate", "pooled_rho", "population_value", "METHODS", "calibration_rows", "markdown_table"]

POPULATION_PROMPTS = 400_000
POPULATION_SETS = 20_000


@dataclass(frozen=True)
class Design:
    """One simulated design: sizes, the planted mean slope ``beta`` and the three standard deviations."""

    n_prompts: int = 8
    n_samples: int = 4
    alphas: tuple[float, ...] = (-0.1, -0.05, 0.0, 0.05, 0.1)
    beta: float = 0.0
    sd_intercept: float = 0.2
    sd_slope: float = 1.0
    sd_noise: float = 0.1

    def planted(self, beta: float) -> Design:
        return Design(self.n_prompts, self.n_samples, self.alphas, beta, self.sd_intercept, self.sd_slope,
                      self.sd_noise)


def simulate(design: Design, n_sets: int, rng: np.random.Generator, n_prompts: int | None = None) -> np.ndarray:
    """``[n_sets, prompts, samples, alphas]`` simulated scores."""
    p = design.n_prompts if n_prompts is None else n_prompts
    a = np.asarray(design.alphas, dtype=np.float64)
    u = rng.normal(0, design.sd_intercept, (n_sets, p, 1, 1))
    v = rng.normal(0, design.sd_slope, (n_sets, p, 1, 1))
    e = rng.normal(0, design.sd_noise, (n_sets, p, design.n_samples, len(a)))
    return u + (design.beta + v) * a + e


def pooled_rho(cubes: np.ndarray, alphas) -> np.ndarray:
    """One Spearman rho over all texts of each data set ``[..., P, S, A]`` (the old, diluted statistic)."""
    shape = cubes.shape
    y = cubes.reshape(shape[:-3] + (-1,))
    x = rankdata(np.broadcast_to(np.asarray(alphas, dtype=np.float64), shape[-3:]).reshape(-1))
    x = x - x.mean()
    ry = rankdata(y, axis=-1)
    ry -= ry.mean(axis=-1, keepdims=True)
    return (ry @ x) / np.sqrt((ry**2).sum(axis=-1) * (x**2).sum())


def _within_prompts(cube, alphas, rng, n_boot, expanded=True):
    per = within_prompt_rho(cube, alphas)
    reps = resampled_mean(per, prompt_draws(len(per), n_boot, int(rng.integers(2**32))))
    return float(np.nanmean(per)), interval(reps, int(np.isfinite(per).sum()), expanded=expanded)


def _pooled_two_stage(cube, alphas, rng, n_boot):
    p, s = cube.shape[:2]
    prompts = rng.integers(0, p, (n_boot, p))
    samples = rng.integers(0, s, (n_boot, p, s))
    reps = pooled_rho(cube[prompts[:, :, None], samples], alphas)
    return float(pooled_rho(cube, alphas)), interval(reps, p, expanded=False)


def _within_two_stage(cube, alphas, rng, n_boot):
    p, s = cube.shape[:2]
    prompts = rng.integers(0, p, (n_boot, p))
    samples = rng.integers(0, s, (n_boot, p, s))
    reps = np.nanmean(within_prompt_rho(cube[prompts[:, :, None], samples], alphas), axis=-1)
    return float(np.nanmean(within_prompt_rho(cube, alphas))), interval(reps, p, expanded=False)


# name -> (estimator family for the population value, f(cube, alphas, rng, n_boot) -> (estimate, (low, high)))
METHODS: dict[str, tuple[str, Callable]] = {
    "within-prompt rho, bootstrap over prompts (expanded percentile) [workbench]": ("within", _within_prompts),
    "within-prompt rho, bootstrap over prompts (plain percentile)":
        ("within", lambda c, a, r, b: _within_prompts(c, a, r, b, expanded=False)),
    "within-prompt rho, two-stage bootstrap (prompts, then samples)": ("within", _within_two_stage),
    "pooled rho, two-stage bootstrap (prompts, then samples) [old]": ("pooled", _pooled_two_stage),
}


def population_value(design: Design, family: str, rng: np.random.Generator, scale: float = 1.0) -> float:
    """The statistic's mean over a very large simulation of ``design`` (0 under the null by symmetry).

    ``scale``: a fraction of :data:`POPULATION_PROMPTS` / :data:`POPULATION_SETS` (for tests)."""
    if design.beta == 0:
        return 0.0
    if family == "within":
        n = max(1, round(scale * POPULATION_PROMPTS / 50_000))
        chunks = [within_prompt_rho(simulate(design, 1, rng, n_prompts=50_000)[0], design.alphas) for _ in range(n)]
        return float(np.mean(np.concatenate(chunks)))
    n = max(1, round(scale * POPULATION_SETS / 1000))
    return float(np.mean(np.concatenate([pooled_rho(simulate(design, 1000, rng), design.alphas) for _ in range(n)])))


def _row(method, design, cubes, truth, rng, n_boot) -> dict:
    family, fn = METHODS[method]
    est, low, high = np.array([[e, *ci] for e, ci in (fn(c, design.alphas, rng, n_boot) for c in cubes)]).T
    ok = np.isfinite(low) & np.isfinite(high)
    need = float(np.subtract(*np.quantile(est, [0.975, 0.025])))
    excludes_0 = (low > 0) | (high < 0)
    covers = (low <= truth) & (truth <= high)
    return {"method": method, "design": design, "n_sets": len(cubes), "truth": truth,
            "mean_estimate": float(est.mean()), "undefined": int((~ok).sum()),
            "excludes_0": float(excludes_0[ok].mean()), "coverage": float(covers[ok].mean()),
            "mean_width": float((high - low)[ok].mean()), "width_needed": need,
            "width_ratio": float((high - low)[ok].mean() / need)}


def calibration_rows(designs, n_sets: int = 400, n_boot: int = 2000, seed: int = 0, methods=None) -> list[dict]:
    """Every method on ``n_sets`` simulated data sets of every design (the same data sets for every method)."""
    rng = np.random.default_rng(seed)
    rows = []
    for design in designs:
        cubes = simulate(design, n_sets, rng)
        truths = {}
        for method in methods or METHODS:
            family = METHODS[method][0]
            if family not in truths:
                truths[family] = population_value(design, family, rng)
            rows.append(_row(method, design, cubes, truths[family], rng, n_boot))
    return rows


def markdown_table(rows) -> str:
    """The rows as a markdown table: FPR for null designs, coverage and power for planted ones."""
    head = ("| design | statistic and interval | population value | mean estimate | false-positive rate (null) "
            "or power (planted) | coverage of the population value | mean width / width needed |\n"
            "| --- | --- | --- | --- | --- | --- | --- |\n")
    lines = []
    for r in rows:
        d = r["design"]
        what = "null" if d.beta == 0 else f"planted beta {d.beta:g}"
        design = f"{d.n_prompts} prompts x {d.n_samples} samples, {what}"
        rate = f"{r['excludes_0']:.3f} ({'FPR' if d.beta == 0 else 'power'})"
        lines.append(f"| {design} | {r['method']} | {r['truth']:+.3f} | {r['mean_estimate']:+.3f} | {rate} | "
                     f"{r['coverage']:.3f} | {r['mean_width']:.3f} / {r['width_needed']:.3f} = "
                     f"{r['width_ratio']:.2f} |")
    return head + "\n".join(lines) + "\n"
