"""The calibration table: every number of the headline, on simulated data with a known answer.

Each row simulates data sets with :func:`~workbench.analysis.synthetic.nuisance_data` (171 emotions,
8 layers, 4 stories each, d 32, one emotion-level nuisance axis per layer, ratings drawn iid) and runs
the analysis' own functions on the emotion vectors (neutral projection off): PCA, the emotion
bootstrap, the permutation tests, the cross-fitted choice of the layer with its selection-aware
interval, the held-out ridge r, the best-PC test. It reports, for the numbers the report shows:

- under the null (no valence anywhere): the false-positive rate at nominal 5% of each test, and of
  each interval excluding 0; the mean held-out r (ridge and PC1) at the chosen layer. Benjamini-Hochberg
  is read twice: at the chosen layer (what the report shows) and as "some layer's q < 0.05", which
  under the global null is its false discovery rate. With ``m`` layers a single small p needs
  ``p < 0.05 / m``: with fewer than about ``20 m`` permutations the smallest p, ``1 / (B + 1)``, cannot
  get there, and the q rows measure the permutation count, not BH;
- with a planted valence direction (a known population r per layer, exact from the design): power,
  the coverage of each interval and the mean width of each interval against the width needed, which
  is the central 95% range of (estimate - truth) over the simulated data sets. The truth of the
  cross-fitted r is what it estimates: the population r (exact, from the design's covariance) of the
  data set's own PC1 directions at the layers its splits chose, averaged over the splits, each signed
  by its selection half. The truth of the fixed layer's |r| is the population PC1's |r| there.

A layer "fixed in advance" is the one nearest depth 0.66 (``--peak-depth 0.66``); its own |r|,
interval and permutation p are what a reader may use without the max-statistic correction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from workbench.analysis.bootstrap import Condition, bootstrap_pc_r
from workbench.analysis.headline import draw_counts, make_peak, pc_stats, resampling_columns
from workbench.analysis.selection import crossfit, emotion_splits
from workbench.analysis.settings import AnalysisSettings
from workbench.analysis.stats import bootstrap_draws, permutation_draws
from workbench.analysis.synthetic import nuisance_data
from workbench.analysis.threads import single_threaded

__all__ = ["DESIGNS", "Design", "simulate", "calibration_table", "format_table"]

PROFILE = (0.2, 0.4, 0.6, 0.8, 1.0, 0.8, 0.6, 0.4)  # the planted signal by layer (8 layers)


@dataclass(frozen=True)
class Design:
    name: str
    signal: float  # planted valence signal at the strongest layer (0: the null)
    valence_noise: float = 2.0  # emotion-level non-valence factor on the valence axis
    nuisance: float = 1.5  # sd of the emotion-level nuisance factor of every layer

    def data(self, rng, n_emotions: int = 171, d_model: int = 32):
        return nuisance_data(rng, n_emotions=n_emotions, n_layers=len(PROFILE), d_model=d_model,
                             valence_signal=self.signal * np.asarray(PROFILE), valence_noise=self.valence_noise,
                             nuisance=self.nuisance)


DESIGNS = (Design("null, nuisance axes", 0.0), Design("planted, weak", 0.4), Design("planted, strong", 2.5))


def simulate(design: Design, rng: np.random.Generator, settings: AnalysisSettings, n_emotions: int = 171) -> dict:
    """One simulated data set through the analysis: the numbers of the headline and their truths."""
    d = design.data(rng, n_emotions)
    X, v, a = d.vectors, d.valence, d.arousal
    L, n = X.shape[0], X.shape[1]
    layers, depth = tuple(range(L)), np.arange(L) / (L - 1)
    P, cols = pc_stats(X, v, a, settings.n_pcs)
    draws = bootstrap_draws(rng, settings.bootstrap, n, None)
    cond = Condition(None, P.axes[:, :2], P.eigvecs[:, :, :3])
    boot, _ = bootstrap_pc_r(X.transpose(1, 0, 2), draws, v, a, [cond], workers=1, chunk=100,
                             seed=int(rng.integers(2**31)))
    perms = permutation_draws(rng, settings.permutations, n)
    cols = resampling_columns(dict(cols), P, boot[0], perms, v, a, settings.ci, settings.n_pcs)
    cols["valence_cv_r"] = np.full(L, np.nan)  # the 5-fold ridge of every layer is not a headline number
    splits = emotion_splits(rng, n, settings.splits)
    weights = draw_counts(draws.emotions, n)
    peak, _ = make_peak("valence", cols, P, X, v, weights, splits, layers, depth, settings)
    fixed, _ = make_peak("valence", cols, P, X, v, None, splits, layers, depth, replace(settings, peak_depth=0.66))
    j = fixed.layer
    fit = crossfit(P.scores[None, :, :, 0], v, splits)  # the choices behind the headline, split by split
    truth = float(np.mean(d.direction_r(P.axes[:, 0])[fit.chosen[0]] * fit.sign[0]))
    return {"r": peak.r, "low": peak.ci_low, "high": peak.ci_high, "truth": truth,
            "modal_truth": d.population_r[peak.layer],
            "max_stat_p": peak.max_stat_p, "q": peak.q, "ridge": peak.ridge_heldout_r,
            "fixed_r": fixed.r, "fixed_low": fixed.ci_low, "fixed_high": fixed.ci_high,
            "fixed_truth": d.population_r[j], "fixed_p": fixed.p_perm, "fixed_best_p": fixed.best_pc_p,
            "min_q": np.nanmin(cols["pc1_valence_q"])}


def _coverage(rows, key):
    r, low, high, truth = (np.array([x[k] for x in rows]) for k in (f"{key}r", f"{key}low", f"{key}high",
                                                                    f"{key}truth"))
    err = r - truth
    needed = np.quantile(err, 0.975) - np.quantile(err, 0.025)
    return {"coverage": float(np.mean((low <= truth) & (truth <= high))), "width": float(np.mean(high - low)),
            "needed": float(needed), "ratio": float(np.mean(high - low) / needed) if needed > 0 else math.nan,
            "excludes_0": float(np.mean((low > 0) | (high < 0))), "mean": float(np.mean(r)),
            "truth": float(np.mean(truth))}


def calibration_table(n_sims: int = 200, bootstrap: int = 200, permutations: int = 1000, splits: int = 50,
                      seed: int = 0, designs=DESIGNS, n_emotions: int = 171, progress=None) -> list[dict]:
    """One row per (design, number): what was measured, its value and the acceptance range."""
    settings = AnalysisSettings(bootstrap=bootstrap, permutations=permutations, splits=splits)
    out = []
    with single_threaded():
        for k, design in enumerate(designs):
            rng = np.random.default_rng([seed, k])
            rows = []
            for _ in range(n_sims):
                rows.append(simulate(design, rng, settings, n_emotions))
                if progress is not None:
                    progress(1)
            out.extend(_rows(design, rows))
    return out


def _rate(rows, key, below=0.05):
    return float(np.mean([x[key] < below for x in rows]))


FALSE_POSITIVE = ("false-positive rate", (0.03, 0.07))  # (what is measured, accepted range) of a test at 5%
NULL_MEAN = ("mean", (-0.03, 0.03))
COVERAGE, WIDTH = ("coverage", (0.92, 0.98)), ("width ratio", (0.0, 1.3))
POWER, MEAN = ("power", None), ("mean", None)


def _rows(design: Design, rows) -> list[dict]:
    held, fixed = _coverage(rows, ""), _coverage(rows, "fixed_")
    ridge = float(np.nanmean([x["ridge"] for x in rows]))
    maxstat = ("maxstat", "max-stat p of the chosen layer < 0.05", _rate(rows, "max_stat_p"))
    held_0 = ("heldout_excludes_0", "held-out r: selection-aware 95% interval excludes 0", held["excludes_0"])
    ridge_mean = ("ridge_mean", "held-out ridge r at the chosen layer", ridge)
    numbers: list[tuple]  # (key, number, value, what is measured, accepted range or None)
    if design.signal == 0:
        numbers = [
            (*maxstat, *FALSE_POSITIVE), (*held_0, *FALSE_POSITIVE),
            ("q", "BH q of the chosen layer < 0.05", _rate(rows, "q"), *FALSE_POSITIVE),
            ("q_any", "BH across the 8 layers: some layer's q < 0.05 (the FDR under the global null)",
             _rate(rows, "min_q"), *FALSE_POSITIVE),
            ("fixed_p", "fixed layer: permutation p < 0.05", _rate(rows, "fixed_p"), *FALSE_POSITIVE),
            ("fixed_excludes_0", "fixed layer: 95% interval of |r| excludes 0", fixed["excludes_0"], *FALSE_POSITIVE),
            ("fixed_best_pc_p", "fixed layer: best-PC p < 0.05 (max over 5 PCs)", _rate(rows, "fixed_best_p"),
             *FALSE_POSITIVE),
            ("heldout_mean", "held-out r (PC1) at the chosen layer", held["mean"], *NULL_MEAN),
            (*ridge_mean, *NULL_MEAN),
        ]
    else:
        numbers = [(*maxstat, *POWER), (*held_0, *POWER)]
        for key, label, short, c in (("heldout", "held-out r", "held-out r", held),
                                     ("fixed", "fixed layer |r|", "fixed layer", fixed)):
            numbers += [
                (f"{key}_coverage", f"{label} (mean {c['mean']:.3f}, truth {c['truth']:.3f}): coverage", c["coverage"],
                 *COVERAGE),
                (f"{key}_width", f"{short}: mean width {c['width']:.3f} / needed {c['needed']:.3f}", c["ratio"], *WIDTH),
            ]
        numbers.append((*ridge_mean, *MEAN))
    return [dict(key=key, design=design.name, number=number, value=value, kind=kind, accept=accept, sims=len(rows))
            for key, number, value, kind, accept in numbers]


def format_table(rows) -> str:
    """The table as Markdown (what ``workbench calibrate`` prints and docs/statistics.md holds)."""
    lines = ["| design | number | measured | value | accepted | sims |", "| --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        acc = r["accept"]
        ok = "" if acc is None else ("yes" if acc[0] <= r["value"] <= acc[1] else "**no**")
        rng = "" if acc is None else f"[{acc[0]:g}, {acc[1]:g}] {ok}"
        number = r["number"].replace("|", "\\|")  # |r| inside a Markdown cell
        lines.append(f"| {r['design']} | {number} | {r['kind']} | {r['value']:.3f} | {rng} | {r['sims']} |")
    return "\n".join(lines)
