"""Dose-response statistics against scipy and naive loops, on planted data.

The statistic is Spearman rho within each prompt, averaged over prompts, with an
expanded-percentile bootstrap over prompts only (workbench.steer.dose); its
calibration is measured in tests/test_steer_calibration.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from workbench.errors import InputError
from workbench.steer.dose import expanded_level, prompt_draws, spearman, within_prompt_rho
from workbench.steer.summary import summarize

ALPHAS = (-0.4, -0.2, 0.0, 0.2, 0.4)


def _rows(n_prompts=6, n_samples=4, slope=1.0, noise=0.5, n_controls=2, seed=0, prompt_sd=1.0):
    """Planted table: the direction's scores rise with alpha; the controls' do not; prompts shift the level."""
    rng = np.random.default_rng(seed)
    rows = []
    names = [("valence", "direction", slope)] + [(f"random{i}", "control", 0.0) for i in range(n_controls)]
    for name, kind, k in names:
        prompt_effect = rng.normal(0, prompt_sd, n_prompts)
        for p in range(n_prompts):
            for s in range(n_samples):
                for a in ALPHAS:
                    y = k * a + prompt_effect[p] + noise * rng.normal()
                    rows.append({"direction": name, "kind": kind, "alpha": a, "prompt_index": p, "sample": s,
                                 "readback": y, "vader": -y, "perplexity": 10 + abs(a) * 5 + rng.normal()})
    return rows, [(n, k) for n, k, _ in names]


def _naive_per_prompt(rows, name, score, n_prompts):
    out = []
    for p in range(n_prompts):
        sub = [r for r in rows if r["direction"] == name and r["prompt_index"] == p and np.isfinite(r[score])]
        ys = [r[score] for r in sub]
        out.append(np.nan if len(sub) < 3 or len(set(ys)) == 1 else
                   stats.spearmanr([r["alpha"] for r in sub], ys).statistic)
    return np.array(out)


def test_spearman_equals_scipy_with_ties_and_nans():
    rng = np.random.default_rng(1)
    x = np.repeat(ALPHAS, 7)
    y = np.round(rng.normal(size=x.size), 1)  # ties
    assert spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)
    y[[3, 10]] = np.nan
    keep = np.isfinite(y)
    assert spearman(x, y) == pytest.approx(stats.spearmanr(x[keep], y[keep]).statistic, abs=1e-12)
    assert np.isnan(spearman(x, np.ones_like(x)))  # a constant score has no rank correlation


def test_within_prompt_rho_equals_scipy_per_prompt():
    rng = np.random.default_rng(2)
    cube = np.round(rng.normal(size=(5, 3, len(ALPHAS))), 1)
    cube[1, 2, 0] = np.nan  # a missing score: that prompt goes through the slow path
    cube[3] = 7.0  # constant: undefined
    got = within_prompt_rho(cube, ALPHAS)
    x = np.tile(ALPHAS, 3)
    for p in range(5):
        y = cube[p].reshape(-1)
        keep = np.isfinite(y)
        expected = np.nan if p == 3 else stats.spearmanr(x[keep], y[keep]).statistic
        assert got[p] == pytest.approx(expected, abs=1e-12, nan_ok=True)


def test_point_estimates_are_means_of_per_prompt_scipy_rhos():
    rows, directions = _rows()
    out = summarize(rows, directions, ALPHAS, 6, 4, n_boot=200, seed=0)
    for score in ("readback", "vader", "perplexity"):
        rhos = {name: _naive_per_prompt(rows, name, score, 6).mean() for name, _ in directions}
        entry = out["scores"][score]
        assert entry["direction"]["rho"] == pytest.approx(rhos["valence"], abs=1e-12)
        per = {c["name"]: c["rho"] for c in entry["controls"]["per_control"]}
        assert per == pytest.approx({k: v for k, v in rhos.items() if k != "valence"}, abs=1e-12)
        assert entry["controls"]["rho"] == pytest.approx((rhos["random0"] + rhos["random1"]) / 2, abs=1e-12)
        assert entry["difference"]["rho"] == pytest.approx(rhos["valence"] - entry["controls"]["rho"], abs=1e-12)


def test_bootstrap_interval_equals_a_naive_loop_over_prompts():
    rows, directions = _rows(n_prompts=5, n_samples=3)
    n_boot, seed = 300, 7
    out = summarize(rows, directions, ALPHAS, 5, 3, n_boot=n_boot, seed=seed)["scores"]["readback"]
    draws = prompt_draws(5, n_boot, seed)
    per = {name: _naive_per_prompt(rows, name, "readback", 5) for name, _ in directions}
    reps = {name: np.array([np.mean([per[name][p] for p in draws[b]]) for b in range(n_boot)]) for name in per}
    # expanded percentile (Hesterberg): quantile Phi(-sqrt(n/(n-1)) t_{n-1,.975}), by hand for n = 5
    level = stats.norm.cdf(-np.sqrt(5 / 4) * stats.t.ppf(0.975, 4))
    assert expanded_level(5) == pytest.approx(level, abs=1e-15) and level < 0.025
    low, high = np.quantile(reps["valence"], [level, 1 - level])
    assert (out["direction"]["ci_low"], out["direction"]["ci_high"]) == pytest.approx((low, high), abs=1e-12)
    diff = reps["valence"] - (reps["random0"] + reps["random1"]) / 2
    assert (out["difference"]["ci_low"], out["difference"]["ci_high"]) == pytest.approx(
        tuple(np.quantile(diff, [level, 1 - level])), abs=1e-12)
    # the by-alpha mean: the mean over prompts of each prompt's mean, resampled over prompts
    at = out["by_alpha"]["direction"][4]
    lookup = {(r["prompt_index"], r["sample"]): r["readback"] for r in rows
              if r["direction"] == "valence" and r["alpha"] == 0.4}
    prompt_means = np.array([np.mean([lookup[(p, s)] for s in range(3)]) for p in range(5)])
    naive = prompt_means[draws].mean(axis=1)
    assert at["mean"] == pytest.approx(prompt_means.mean(), abs=1e-12) and at["n"] == 15 and at["missing"] == 0
    assert (at["ci_low"], at["ci_high"]) == pytest.approx(tuple(np.quantile(naive, [level, 1 - level])), abs=1e-12)


def test_prompt_differences_do_not_dilute_the_statistic():
    """Large prompt-to-prompt level differences dilute one pooled rho; the within-prompt mean keeps the slope."""
    rows, directions = _rows(n_prompts=8, n_samples=4, slope=5.0, noise=0.5, prompt_sd=10.0, seed=4)
    out = summarize(rows, directions, ALPHAS, 8, 4, n_boot=500, seed=1)["scores"]["readback"]
    sub = [r for r in rows if r["direction"] == "valence"]
    pooled = stats.spearmanr([r["alpha"] for r in sub], [r["readback"] for r in sub]).statistic
    assert pooled < 0.35 and out["direction"]["rho"] > 0.75 and out["direction"]["ci_low"] > 0.6
    assert out["controls"]["ci_low"] < 0 < out["controls"]["ci_high"] and out["difference"]["ci_low"] > 0.5


def test_draws_resample_prompts_only():
    draws = prompt_draws(4, 500, 0)
    assert draws.shape == (500, 4) and set(np.unique(draws)) == {0, 1, 2, 3}
    assert np.array_equal(prompt_draws(4, 500, 0), draws)


def test_a_missing_score_is_left_out_and_counted_at_its_alpha():
    rows, directions = _rows()
    for r in rows:
        if (r["direction"], r["prompt_index"], r["alpha"]) == ("valence", 1, 0.4) and r["sample"] < 2:
            r["vader"] = float("nan")
    out = summarize(rows, directions, ALPHAS, 6, 4, n_boot=200, seed=0)["scores"]["vader"]
    assert out["direction"]["n"] == 6 * 4 * 5 - 2
    assert out["direction"]["rho"] == pytest.approx(_naive_per_prompt(rows, "valence", "vader", 6).mean(), abs=1e-12)
    assert [p["missing"] for p in out["by_alpha"]["direction"]] == [0, 0, 0, 0, 2]
    assert np.isfinite(out["direction"]["ci_low"])


def test_an_undefined_prompt_is_left_out_and_listed_never_zero(caplog):
    rows, directions = _rows()
    for r in rows:
        if r["direction"] == "valence" and r["prompt_index"] == 2:
            r["readback"] = 3.0  # constant: no rank correlation in this prompt
    out = summarize(rows, directions, ALPHAS, 6, 4, n_boot=200, seed=0)["scores"]["readback"]["direction"]
    per = _naive_per_prompt(rows, "valence", "readback", 6)
    assert np.isnan(per[2]) and out["undefined_prompts"] == [2] and out["n_prompts"] == 5
    assert out["rho"] == pytest.approx(np.nanmean(per), abs=1e-12)
    assert out["rho"] != pytest.approx(np.nan_to_num(per).mean(), abs=1e-6)  # not taken as 0
    assert np.isnan(out["per_prompt"][2]) and "prompt(s) [2]" in caplog.text


def test_incomplete_or_duplicated_tables_are_errors():
    rows, directions = _rows()
    with pytest.raises(InputError, match="lacks 1 of"):
        summarize(rows[1:], directions, ALPHAS, 6, 4, n_boot=100)
    with pytest.raises(InputError, match="two rows"):
        summarize(rows + rows[:1], directions, ALPHAS, 6, 4, n_boot=100)
    with pytest.raises(InputError, match="one steered direction"):
        summarize(rows, [(n, "control") for n, _ in directions], ALPHAS, 6, 4, n_boot=100)


def test_without_controls_there_is_no_difference():
    rows, directions = _rows(n_controls=0)
    out = summarize(rows, directions, ALPHAS, 6, 4, n_boot=100)["scores"]["readback"]
    assert out["controls"] is None and out["difference"] is None and "controls" not in out["by_alpha"]
