"""Linear CKA: the closed forms against the definitions, and the acceptance properties."""

from __future__ import annotations

from itertools import permutations

import numpy as np
import pytest

from workbench.analysis.cka import cka_cross, cka_matrix, cka_null_band, linear_cka
from workbench.errors import InputError


def _naive_biased(X, Y):
    n = X.shape[0]
    H = np.eye(n) - np.ones((n, n)) / n
    K, L = X @ X.T, Y @ Y.T

    def hsic(A, B):
        return np.trace(A @ H @ B @ H) / (n - 1) ** 2

    return hsic(K, L) / np.sqrt(hsic(K, K) * hsic(L, L))


def _naive_unbiased_hsic(K, L):
    """Song et al. 2012, the U-statistic over ordered quadruples of distinct indices."""
    n = K.shape[0]
    total, count = 0.0, 0
    for i, j, q, r in permutations(range(n), 4):
        total += K[i, j] * L[i, j] + K[i, j] * L[q, r] - 2 * K[i, j] * L[i, q]
        count += 1
    return total / count


def test_biased_cka_matches_the_centring_matrix_definition():
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((20, 7)), rng.standard_normal((20, 11))
    Y[:, 0] += 2 * X[:, 0]
    assert linear_cka(X, Y, debiased=False) == pytest.approx(_naive_biased(X, Y), rel=1e-10)
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)  # the feature-space form of Kornblith et al.
    feature = np.linalg.norm(Yc.T @ Xc) ** 2 / (np.linalg.norm(Xc.T @ Xc) * np.linalg.norm(Yc.T @ Yc))
    assert linear_cka(X, Y, debiased=False) == pytest.approx(feature, rel=1e-10)


def test_debiased_cka_matches_the_u_statistic():
    rng = np.random.default_rng(1)
    X, Y = rng.standard_normal((7, 3)), rng.standard_normal((7, 4))
    Y[:, 1] += X[:, 0]
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    K, L = Xc @ Xc.T, Yc @ Yc.T
    expected = _naive_unbiased_hsic(K, L) / np.sqrt(_naive_unbiased_hsic(K, K) * _naive_unbiased_hsic(L, L))
    assert linear_cka(X, Y, debiased=True) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("d", [640, 2560])
def test_independent_noise_debiased_near_zero_while_biased_is_high(d):
    rng = np.random.default_rng(d)
    X, Y = rng.standard_normal((171, d)), rng.standard_normal((171, d))
    assert abs(linear_cka(X, Y, debiased=True)) < 0.05
    assert linear_cka(X, Y, debiased=False) > (0.75 if d == 640 else 0.9)


def test_invariances():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((40, 25))
    Q, _ = np.linalg.qr(rng.standard_normal((25, 25)))
    for debiased in (True, False):
        assert linear_cka(X, X, debiased) == pytest.approx(1.0, abs=1e-12)
        assert linear_cka(X, X @ Q, debiased) == pytest.approx(1.0, abs=1e-12)
        assert linear_cka(X, 3.7 * X, debiased) == pytest.approx(1.0, abs=1e-12)
        assert linear_cka(X, 0.2 * X @ Q + 5.0, debiased) == pytest.approx(1.0, abs=1e-12)


def test_matrix_and_cross_match_pairwise():
    rng = np.random.default_rng(3)
    Xs = rng.standard_normal((3, 30, 12))
    Xs[1] += Xs[0]
    M = cka_matrix(Xs)
    for i in range(3):
        for j in range(3):
            assert M[i, j] == pytest.approx(linear_cka(Xs[i], Xs[j]), abs=1e-12)
    Ys = rng.standard_normal((2, 30, 5))
    C = cka_cross(Xs, Ys, debiased=False)
    assert C.shape == (3, 2)
    assert C[2, 1] == pytest.approx(_naive_biased(Xs[2], Ys[1]), rel=1e-10)


def test_null_band_replays_row_shuffles():
    rng = np.random.default_rng(4)
    Xs = rng.standard_normal((2, 30, 50))
    Xs[1] += 2 * Xs[0]
    band = cka_null_band(Xs, 40, np.random.default_rng(9), level=0.9)
    replay = np.random.default_rng(9)
    values_d, values_b = band["debiased"][2], band["biased"][2]
    for b in range(40):
        p = replay.permutation(30)
        for i in range(2):
            for j in range(2):
                assert values_d[b, i, j] == pytest.approx(linear_cka(Xs[i], Xs[j][p], True), abs=1e-5)
                assert values_b[b, i, j] == pytest.approx(linear_cka(Xs[i], Xs[j][p], False), abs=1e-5)
    low, high, _ = band["debiased"]
    np.testing.assert_allclose(low, np.quantile(values_d, 0.05, axis=0))
    assert (low < 0).all() and (high > 0).all() and (high < 0.3).all()
    assert cka_matrix(Xs)[0, 1] > high[0, 1]  # the planted similarity is far outside the null band
    assert band["biased"][0].min() > 0.3  # the biased null sits far above 0


def test_bad_inputs():
    rng = np.random.default_rng(5)
    with pytest.raises(InputError, match="at least 4"):
        linear_cka(rng.standard_normal((3, 5)), rng.standard_normal((3, 5)))
    with pytest.raises(InputError, match="emotions must match"):
        cka_cross(rng.standard_normal((1, 10, 5)), rng.standard_normal((1, 11, 5)))
