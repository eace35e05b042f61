"""Dose-response statistics against scipy and naive loops, on planted data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from workbench.errors import InputError
from workbench.steer.summary import bootstrap_draws, spearman, summarize

ALPHAS = (-0.4, -0.2, 0.0, 0.2, 0.4)


def _rows(n_prompts=6, n_samples=4, slope=1.0, noise=0.5, n_controls=2, seed=0, nan_at=None):
    """Planted table: the direction's scores rise with alpha; the controls' do not."""
    rng = np.random.default_rng(seed)
    rows = []
    names = [("valence", "direction", slope)] + [(f"random{i}", "control", 0.0) for i in range(n_controls)]
    for name, kind, k in names:
        prompt_effect = rng.normal(0, 1, n_prompts)
        for p in range(n_prompts):
            for s in range(n_samples):
                for a in ALPHAS:
                    y = k * a + prompt_effect[p] + noise * rng.normal()
                    rows.append({"direction": name, "kind": kind, "alpha": a, "prompt_index": p, "sample": s,
                                 "readback": y, "vader": -y, "perplexity": 10 + abs(a) * 5 + rng.normal()})
    if nan_at is not None:
        for r in rows:
            if (r["direction"], r["prompt_index"], r["sample"], r["alpha"]) == nan_at:
                r["vader"] = float("nan")
    return rows, [(n, k) for n, k, _ in names]


def test_spearman_equals_scipy_with_ties_and_nans():
    rng = np.random.default_rng(1)
    x = np.repeat(ALPHAS, 7)
    y = np.round(rng.normal(size=x.size), 1)  # ties
    assert spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)
    y[[3, 10]] = np.nan
    keep = np.isfinite(y)
    assert spearman(x, y) == pytest.approx(stats.spearmanr(x[keep], y[keep]).statistic, abs=1e-12)
    assert np.isnan(spearman(x, np.ones_like(x)))  # a constant score has no rank correlation


def test_point_estimates_equal_scipy_on_the_table():
    rows, directions = _rows()
    out = summarize(rows, directions, ALPHAS, 6, 4, n_boot=200, seed=0)
    for score in ("readback", "vader", "perplexity"):
        rhos = {}
        for name, _ in directions:
            sub = [r for r in rows if r["direction"] == name]
            rhos[name] = stats.spearmanr([r["alpha"] for r in sub], [r[score] for r in sub]).statistic
        entry = out["scores"][score]
        assert entry["direction"]["rho"] == pytest.approx(rhos["valence"], abs=1e-12)
        per = {c["name"]: c["rho"] for c in entry["controls"]["per_control"]}
        assert per == pytest.approx({k: v for k, v in rhos.items() if k != "valence"}, abs=1e-12)
        assert entry["controls"]["rho"] == pytest.approx((rhos["random0"] + rhos["random1"]) / 2, abs=1e-12)
        assert entry["difference"]["rho"] == pytest.approx(rhos["valence"] - entry["controls"]["rho"], abs=1e-12)


def test_bootstrap_interval_equals_a_naive_loop():
    rows, directions = _rows(n_prompts=5, n_samples=3)
    n_boot, seed = 150, 7
    out = summarize(rows, directions, ALPHAS, 5, 3, n_boot=n_boot, seed=seed)["scores"]["readback"]
    prompts, samples = bootstrap_draws(5, 3, n_boot, seed)
    lookup = {(r["direction"], r["prompt_index"], r["sample"], r["alpha"]): r["readback"] for r in rows}
    reps = {name: [] for name, _ in directions}
    for b in range(n_boot):
        for name in reps:
            xs, ys = [], []
            for i, p in enumerate(prompts[b]):
                for s in samples[b, i]:
                    for a in ALPHAS:
                        xs.append(a)
                        ys.append(lookup[(name, p, s, a)])
            reps[name].append(stats.spearmanr(xs, ys).statistic)
    reps = {k: np.array(v) for k, v in reps.items()}
    low, high = np.quantile(reps["valence"], [0.025, 0.975])
    assert (out["direction"]["ci_low"], out["direction"]["ci_high"]) == pytest.approx((low, high), abs=1e-12)
    diff = reps["valence"] - (reps["random0"] + reps["random1"]) / 2
    assert (out["difference"]["ci_low"], out["difference"]["ci_high"]) == pytest.approx(
        tuple(np.quantile(diff, [0.025, 0.975])), abs=1e-12)
    # the by-alpha mean and its interval
    at = out["by_alpha"]["direction"][4]
    naive = [np.mean([lookup[("valence", p, s, 0.4)] for i, p in enumerate(prompts[b]) for s in samples[b, i]])
             for b in range(n_boot)]
    assert at["mean"] == pytest.approx(np.mean([v for k, v in lookup.items() if k[0] == "valence" and k[3] == 0.4]))
    assert (at["ci_low"], at["ci_high"]) == pytest.approx(tuple(np.quantile(naive, [0.025, 0.975])), abs=1e-12)


def test_draws_resample_prompts_then_samples_within():
    prompts, samples = bootstrap_draws(4, 3, 500, 0)
    assert prompts.shape == (500, 4) and samples.shape == (500, 4, 3)
    assert set(np.unique(prompts)) == {0, 1, 2, 3} and set(np.unique(samples)) == {0, 1, 2}
    assert np.array_equal(bootstrap_draws(4, 3, 500, 0)[1], samples)


def test_planted_signal_is_found_and_controls_are_not():
    rows, directions = _rows(n_prompts=12, n_samples=6, slope=4.0, noise=0.3, n_controls=3, seed=3)
    out = summarize(rows, directions, ALPHAS, 12, 6, n_boot=300, seed=1)["scores"]
    d, c, diff = out["readback"]["direction"], out["readback"]["controls"], out["readback"]["difference"]
    assert d["ci_low"] > 0.2 and c["ci_low"] < 0 < c["ci_high"] and diff["ci_low"] > 0.2
    assert out["vader"]["direction"]["rho"] == pytest.approx(-d["rho"], abs=1e-12)
    for entry in c["per_control"]:
        assert entry["ci_low"] < 0.25 and entry["ci_high"] > -0.25
    # perplexity is U-shaped in alpha: the means by alpha show it, the rank correlation does not
    means = [p["mean"] for p in out["perplexity"]["by_alpha"]["direction"]]
    assert means[2] < means[0] and means[2] < means[4]


def test_a_missing_score_is_left_out():
    rows, directions = _rows(nan_at=("valence", 1, 2, 0.2))
    out = summarize(rows, directions, ALPHAS, 6, 4, n_boot=200, seed=0)["scores"]["vader"]
    sub = [r for r in rows if r["direction"] == "valence" and np.isfinite(r["vader"])]
    assert out["direction"]["n"] == len(sub) == 6 * 4 * 5 - 1
    assert out["direction"]["rho"] == pytest.approx(
        stats.spearmanr([r["alpha"] for r in sub], [r["vader"] for r in sub]).statistic, abs=1e-12)
    assert np.isfinite(out["direction"]["ci_low"])


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
