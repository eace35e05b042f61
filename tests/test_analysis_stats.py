"""Statistics against naive implementations: scipy, numpy and plain loops."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest
from scipy import stats as st

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
    split_half,
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


def test_split_half_and_permutations():
    counts = [2, 3, 6]
    a, b = split_half(np.random.default_rng(7), counts)
    starts = np.cumsum(counts) - counts
    for e, c in enumerate(counts):
        assert len(a[e]) == c // 2 and len(b[e]) == c - c // 2
        assert sorted(np.concatenate([a[e], b[e]])) == list(range(starts[e], starts[e] + c))
    perms = permutation_draws(np.random.default_rng(8), 20, 9)
    for row in perms:
        assert sorted(row) == list(range(9))
