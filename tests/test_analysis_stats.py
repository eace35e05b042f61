"""Statistics against naive implementations: scipy, numpy and plain loops."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest
from scipy import stats as st

from workbench.analysis.selection import crossfit, emotion_splits, weighted_r
from workbench.analysis.stats import (
    bh_fdr,
    bootstrap_draws,
    fisher_ci,
    maxstat_p,
    pearson,
    pearson_p,
    percentile_ci,
    permutation_draws,
    permutation_p,
)


def test_pearson_matches_scipy_with_broadcasting():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 30))
    y = rng.standard_normal(30) + x[2]
    r = pearson(x, y)
    for i in range(5):
        assert r[i] == pytest.approx(st.pearsonr(x[i], y).statistic, abs=1e-12)
    assert np.isnan(pearson(np.ones(10), rng.standard_normal(10)))


def test_pearson_p_matches_scipy():
    rng = np.random.default_rng(1)
    for n in (5, 12, 171):
        x = rng.standard_normal(n)
        y = 0.3 * x + rng.standard_normal(n)
        res = st.pearsonr(x, y)
        assert pearson_p(res.statistic, n) == pytest.approx(res.pvalue, rel=1e-9)
    assert pearson_p(1.0, 10) == 0.0


def test_percentile_ci_matches_a_loop():
    rng = np.random.default_rng(2)
    samples = rng.standard_normal((200, 3))
    samples[5, 1] = np.nan
    low, high = percentile_ci(samples, 0.9)
    for j in range(3):
        col = samples[:, j][~np.isnan(samples[:, j])]
        assert low[j] == pytest.approx(np.percentile(col, 5))
        assert high[j] == pytest.approx(np.percentile(col, 95))


def test_fisher_ci_matches_a_loop():
    rng = np.random.default_rng(3)
    boot = np.tanh(rng.normal(1.0, 0.2, size=(300, 2)))
    est = np.array([0.75, 0.8])
    low, high = fisher_ci(est, boot, 0.95)
    for j in range(2):
        se = statistics.stdev([math.atanh(v) for v in boot[:, j]])
        z = st.norm.ppf(0.975)
        assert low[j] == pytest.approx(math.tanh(math.atanh(est[j]) - z * se), abs=1e-12)
        assert high[j] == pytest.approx(math.tanh(math.atanh(est[j]) + z * se), abs=1e-12)
        assert low[j] < est[j] < high[j]


def test_permutation_and_maxstat_p_match_loops():
    rng = np.random.default_rng(4)
    null = np.abs(rng.standard_normal((99, 4)))
    obs = np.array([0.1, 1.5, 2.5, 0.0])
    p = permutation_p(obs, null)
    pm = maxstat_p(obs, null)
    for j in range(4):
        assert p[j] == pytest.approx((1 + sum(null[b, j] >= obs[j] for b in range(99))) / 100)
        assert pm[j] == pytest.approx((1 + sum(max(null[b]) >= obs[j] for b in range(99))) / 100)
    assert (pm >= p).all()


def _bh_loop(p):
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    q = [0.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, p[i] * m / rank)
        q[i] = running
    return q


def test_bh_matches_scipy_and_a_loop():
    rng = np.random.default_rng(5)
    p = np.concatenate([rng.uniform(0, 0.01, 5), rng.uniform(0, 1, 13), [0.5, 0.5]])
    q = bh_fdr(p)
    np.testing.assert_allclose(q, st.false_discovery_control(p), rtol=1e-12)
    np.testing.assert_allclose(q, _bh_loop(list(p)), rtol=1e-12)


def test_bootstrap_draws_resample_stories_within_their_emotion():
    counts = [2, 3, 5, 4]
    starts = np.cumsum(counts) - counts
    d = bootstrap_draws(np.random.default_rng(6), 50, 4, counts)
    assert d.emotions.shape == (50, 4) and d.units.shape == (50, 4, 5)
    np.testing.assert_allclose(d.weights.sum(axis=-1), 1.0)
    for b in range(50):
        for e, c in enumerate(counts):
            used = d.units[b, e][d.weights[b, e] > 0]
            assert len(used) == c
            assert ((used >= starts[e]) & (used < starts[e] + c)).all()
    again = bootstrap_draws(np.random.default_rng(6), 50, 4, counts)
    np.testing.assert_array_equal(again.units, d.units)
    plain = bootstrap_draws(np.random.default_rng(6), 10, 4)
    assert plain.units.shape == (10, 4, 1) and (plain.units[:, :, 0] == np.arange(4)).all()


def test_emotion_splits_and_permutations():
    splits = emotion_splits(np.random.default_rng(7), 9, 30)
    assert splits.shape == (30, 9) and (splits.sum(axis=1) == 4).all()
    assert len({tuple(row) for row in splits}) > 20  # random halves, not one split repeated
    perms = permutation_draws(np.random.default_rng(8), 20, 9)
    for row in perms:
        assert sorted(row) == list(range(9))


# ---------------------------------------------------------------- NaN in, NaN out


def test_nan_statistics_have_no_p_value():
    null = np.random.default_rng(0).random((99, 3))
    observed = np.array([np.nan, 0.5, 0.1])
    p = permutation_p(observed, null)
    assert np.isnan(p[0]) and p[1] == pytest.approx((1 + (null[:, 1] >= 0.5).sum()) / 100)
    m = maxstat_p(observed, null)
    assert np.isnan(m[0]) and m[1] == pytest.approx((1 + (null.max(axis=1) >= 0.5).sum()) / 100)
    # a NaN null draw is not a draw: B counts the finite ones
    null[:10, 2] = np.nan
    assert permutation_p(observed, null)[2] == pytest.approx((1 + (null[10:, 2] >= 0.1).sum()) / 90)
    assert np.isnan(permutation_p(np.array([0.3]), np.full((50, 1), np.nan)))[0]


def test_bh_over_the_finite_p_values_only():
    p = np.array([0.01, np.nan, 0.03, 0.2])
    q = bh_fdr(p)
    assert np.isnan(q[1])
    np.testing.assert_allclose(q[[0, 2, 3]], st.false_discovery_control([0.01, 0.03, 0.2]))
    assert np.isnan(bh_fdr(np.array([np.nan, np.nan]))).all()


def test_weighted_r_is_r_of_the_repeated_rows():
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((2, 3, 12)), rng.standard_normal(12)
    w = rng.integers(0, 3, (2, 4, 12)).astype(float)
    r = weighted_r(x, y, w)
    for i, s, layer in ((0, 0, 1), (1, 3, 2), (1, 2, 0)):
        keep = np.repeat(np.arange(12), w[i, s].astype(int))
        assert r[i, s, layer] == pytest.approx(np.corrcoef(x[i, layer, keep], y[keep])[0, 1], abs=1e-12)
    assert np.isnan(weighted_r(np.ones((1, 1, 12)), y, np.ones((1, 1, 12))))[0, 0, 0]


def test_crossfit_never_chooses_a_layer_without_r():
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((1, 3, 20)), rng.standard_normal(20)
    x[0, 1] = 0.0  # a layer of zeros
    fit = crossfit(x, y, emotion_splits(rng, 20, 10))
    assert (fit.chosen != 1).all() and np.isfinite(fit.heldout).all()
    fit = crossfit(np.zeros((1, 2, 20)), y, emotion_splits(rng, 20, 5))
    assert (fit.chosen == -1).all() and np.isnan(fit.heldout).all()
