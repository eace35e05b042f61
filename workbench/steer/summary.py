"""Dose-response summary: within-prompt Spearman rho of alpha vs score, averaged over prompts, with a bootstrap
over prompts (:mod:`workbench.steer.dose`), for the steered direction, each control, the controls' mean and the
direction - controls difference; and the mean score at each alpha.

Every statistic uses the same prompt resamples, so the difference is paired by
prompt. The controls' rho is the mean of the per-control rhos. A missing score
(NaN: no token for read-back and perplexity, no visible text for VADER) is left
out of that score and counted per alpha; a prompt whose rho is undefined is
left out of the mean and listed (``undefined_prompts``).
"""

from __future__ import annotations

import logging

import numpy as np

from workbench.errors import InputError
from workbench.steer.dose import interval, prompt_draws, resampled_mean, spearman, within_prompt_rho

__all__ = ["SCORES", "spearman", "score_cube", "summarize", "RESAMPLING"]

log = logging.getLogger(__name__)

SCORES = ("readback", "vader", "perplexity")
RESAMPLING = ("prompts with replacement (each keeps its samples); expanded percentile interval "
              "(Hesterberg 2015) for few prompts")


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


def _nanmean(v) -> float:
    v = np.asarray(v, dtype=np.float64)
    return float(v[np.isfinite(v)].mean()) if np.isfinite(v).any() else float("nan")


def _stat(estimate, replicates, n_prompts: int, ci: float) -> dict:
    low, high = interval(replicates, n_prompts, ci)
    return {"rho": float(estimate), "ci_low": low, "ci_high": high}


def _rho_entry(name, cube, alphas, draws, ci) -> tuple[dict, np.ndarray, int]:
    per_prompt = within_prompt_rho(cube, alphas)
    undefined = [int(p) for p in np.nonzero(~np.isfinite(per_prompt))[0]]
    defined = len(per_prompt) - len(undefined)
    reps = resampled_mean(per_prompt, draws)
    entry = dict(name=name, **_stat(_nanmean(per_prompt), reps, defined, ci), n=int(np.isfinite(cube).sum()),
                 n_prompts=defined, undefined_prompts=undefined, per_prompt=[float(r) for r in per_prompt])
    return entry, reps, defined


def _means_by_alpha(cubes, draws, alphas, ci) -> list[dict]:
    """Per alpha: the mean over prompts of each prompt's mean score (controls pooled), with its interval."""
    full = np.concatenate(cubes, axis=1)  # [P, k*S, A]: the controls' samples side by side
    out = []
    for j, alpha in enumerate(alphas):
        at = full[:, :, j]
        finite = np.isfinite(at)
        with np.errstate(invalid="ignore"):
            per_prompt = np.where(finite.any(axis=1), np.nansum(at, axis=1) / finite.sum(axis=1), np.nan)
        low, high = interval(resampled_mean(per_prompt, draws), int(np.isfinite(per_prompt).sum()), ci)
        out.append({"alpha": alpha, "mean": _nanmean(per_prompt), "ci_low": low, "ci_high": high,
                    "n": int(finite.sum()), "missing": int((~finite).sum())})
    return out


def _score_entry(cubes, main, controls, alphas, draws, ci) -> dict:
    d, d_reps, d_n = _rho_entry(main, cubes[main], alphas, draws, ci)
    by_alpha = {"direction": _means_by_alpha([cubes[main]], draws, alphas, ci)}
    entry: dict = {"direction": d, "controls": None, "difference": None, "by_alpha": by_alpha}
    if d["undefined_prompts"]:
        log.warning("steering: rho of %s is undefined for prompt(s) %s (constant or missing scores); left out",
                    main, d["undefined_prompts"])
    if controls:
        per = [_rho_entry(c, cubes[c], alphas, draws, ci) for c in controls]
        c_n = min(n for _, _, n in per)
        c_rho = float(np.mean([e["rho"] for e, _, _ in per]))
        c_reps = np.mean([r for _, r, _ in per], axis=0)
        entry["controls"] = dict(**_stat(c_rho, c_reps, c_n, ci), n_prompts=c_n, per_control=[e for e, _, _ in per])
        entry["difference"] = _stat(d["rho"] - c_rho, d_reps - c_reps, min(d_n, c_n), ci)
        by_alpha["controls"] = _means_by_alpha([cubes[c] for c in controls], draws, alphas, ci)
    return entry


def summarize(rows, directions, alphas, n_prompts: int, n_samples: int, n_boot: int = 2000, seed: int = 0,
              ci: float = 0.95) -> dict:
    """Per score: mean within-prompt rho with CI for the steered direction, each control, the controls' mean,
    and the difference; the mean score (and missing texts) at each alpha.

    ``rows``: dicts with ``direction``, ``prompt_index``, ``sample``, ``alpha`` and the scores;
    ``directions``: ``(name, kind)`` pairs, exactly one of kind ``"direction"``.
    """
    alphas = [float(a) for a in alphas]
    main = [name for name, kind in directions if kind == "direction"]
    controls = [name for name, kind in directions if kind == "control"]
    if len(main) != 1:
        raise InputError(f"summarize: expected one steered direction, got {main}")
    draws = prompt_draws(n_prompts, n_boot, seed)
    out = {}
    for score in SCORES:
        cubes = {name: score_cube(rows, name, score, alphas, n_prompts, n_samples) for name in main + controls}
        out[score] = _score_entry(cubes, main[0], controls, alphas, draws, ci)
    return {"scores": out, "alphas": alphas, "n_prompts": n_prompts, "n_samples": n_samples, "bootstrap": n_boot,
            "ci": ci, "bootstrap_seed": seed,
            "statistic": "Spearman rho of alpha vs score within each prompt (over its samples x alphas), "
                         "averaged over the prompts where it is defined",
            "resampling": RESAMPLING, "controls_rho": "mean of the per-control rhos (same resamples for the difference)"}
