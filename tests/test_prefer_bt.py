"""Bradley-Terry: planted strengths recovered, the Elo scale, a naive MM fit, the pair bootstrap."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from workbench.errors import InputError
from workbench.prefer.bt import ELO_SCALE, bootstrap_pairs, fit_bradley_terry, wins_matrix

STRENGTHS = np.array([4.0, 2.0, 1.0, 0.5])


def _expected(strengths, counts=None):
    n = len(strengths)
    pairs = list(itertools.combinations(range(n), 2))
    i, j = np.array(pairs).T
    p = strengths[i] / (strengths[i] + strengths[j])
    return i, j, p, (None if counts is None else np.asarray(counts, dtype=float))


def _mm(W, iters=20000):
    """Hunter's (2004) MM iteration, the textbook fit, for comparison."""
    N = W + W.T
    s = np.ones(len(W))
    for _ in range(iters):
        s = W.sum(1) / (N / (s[:, None] + s[None, :])).sum(1)
        s /= np.exp(np.log(s).mean())
    return np.log(s)


def test_expected_wins_recover_the_strengths_as_ratios():
    i, j, p, _ = _expected(STRENGTHS)
    fit = fit_bradley_terry(wins_matrix(i, j, p, 4))
    ratio = fit.strength / fit.strength[2]
    np.testing.assert_allclose(ratio, STRENGTHS / STRENGTHS[2], rtol=1e-6)
    assert abs(fit.elo.mean() - 1000.0) < 1e-9
    gap = fit.elo[0] - fit.elo[1]
    np.testing.assert_allclose(gap, 400.0 / np.log(10.0) * np.log(2.0), rtol=1e-9)
    np.testing.assert_allclose(fit.elo[0] - fit.elo[3], 400.0 * np.log10(8.0), rtol=1e-9)
    assert ELO_SCALE == pytest.approx(173.7177927613007)


def test_unequal_counts_and_both_orders_give_the_same_answer():
    i, j, p, _ = _expected(STRENGTHS)
    counts = np.array([3, 1, 7, 2, 5, 4])
    W = wins_matrix(i, j, p, 4, counts)
    np.testing.assert_allclose(fit_bradley_terry(W).strength / fit_bradley_terry(W).strength[3], STRENGTHS / 0.5,
                               rtol=1e-6)
    # the same comparisons given as (j, i, 1 - p)
    W2 = wins_matrix(j, i, 1 - p, 4, counts)
    np.testing.assert_allclose(W, W2)


def test_newton_matches_a_naive_mm_fit_on_noisy_wins():
    rng = np.random.default_rng(3)
    n = 12
    theta = rng.normal(0, 1, n)
    i, j = np.array(list(itertools.combinations(range(n), 2))).T
    p_true = 1 / (1 + np.exp(-(theta[i] - theta[j])))
    p = np.clip(p_true + rng.normal(0, 0.1, len(i)), 0.01, 0.99)
    W = wins_matrix(i, j, p, n)
    fit = fit_bradley_terry(W)
    np.testing.assert_allclose(fit.theta, _mm(W), atol=1e-7)
    assert fit.iterations < 20


def test_unidentified_strengths_are_refused():
    i, j, _, _ = _expected(STRENGTHS)
    p = np.where(i == 0, 1.0, 0.6)  # item 0 never loses
    with pytest.raises(InputError, match="not identified"):
        fit_bradley_terry(wins_matrix(i, j, p, 4))
    with pytest.raises(InputError, match="probability"):
        wins_matrix([0], [1], [1.5], 2)


def test_pair_bootstrap_of_exact_wins_is_a_point_and_noisy_wins_spread():
    i, j, p, _ = _expected(STRENGTHS)
    full = fit_bradley_terry(wins_matrix(i, j, p, 4)).elo
    boots = bootstrap_pairs(i, j, p, 4, n_boot=200, seed=1)
    ok = np.isfinite(boots).all(axis=1)
    assert ok.sum() > 100  # most resamples of 6 pairs still identify 4 strengths
    np.testing.assert_allclose(boots[ok], np.broadcast_to(full, boots[ok].shape), atol=1e-6)
    # noisy wins: the bootstrap spreads, the same resamples are used for every set given
    rng = np.random.default_rng(0)
    n = 10
    ii, jj = np.array(list(itertools.combinations(range(n), 2))).T
    q = np.clip(0.5 + rng.normal(0, 0.2, len(ii)), 0.05, 0.95)
    both = bootstrap_pairs(ii, jj, q, n, n_boot=100, seed=2, extra=[q])
    assert both.shape == (2, 100, n)
    np.testing.assert_allclose(both[0], both[1])
    assert np.nanstd(both[0], axis=0).min() > 1.0
