"""The cross-validated ridge valence axis against scikit-learn and a leave-one-out loop."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as st
from sklearn.linear_model import Ridge, RidgeCV

from workbench.analysis.valence import alpha_grid, kfold_indices, ridge_valence


def _planted(n=60, d=100, L=2, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.uniform(-1, 1, n)
    w = rng.standard_normal(d)
    X = rng.standard_normal((L, n, d))
    X[0] += 0.4 * np.outer(y, w)
    return X, y, w


def test_ridge_matches_sklearn_ridgecv_in_outer_folds():
    X, y, _ = _planted()
    folds = kfold_indices(np.random.default_rng(1), len(y), 5)
    res = ridge_valence(X, y, np.random.default_rng(1), folds=folds)
    for layer in range(2):
        fold_r = []
        for test in folds:
            train = np.setdiff1d(np.arange(len(y)), test)
            model = RidgeCV(alphas=res.alphas[layer]).fit(X[layer, train], y[train])
            pred = model.predict(X[layer, test])
            np.testing.assert_allclose(res.predictions[layer, test], pred, atol=1e-8)
            fold_r.append(st.pearsonr(pred, y[test]).statistic)
        assert res.cv_r[layer] == pytest.approx(np.mean(fold_r), abs=1e-10)
        full = RidgeCV(alphas=res.alphas[layer]).fit(X[layer], y)
        assert res.alpha[layer] == pytest.approx(full.alpha_)
        np.testing.assert_allclose(res.directions[layer], full.coef_ / np.linalg.norm(full.coef_), atol=1e-10)


def test_loo_choice_matches_an_explicit_loop():
    X, y, _ = _planted(n=25, d=40, L=1, seed=2)
    grid = alpha_grid(X)[0]
    errors = []
    for alpha in grid:
        err = 0.0
        for i in range(len(y)):
            keep = np.arange(len(y)) != i
            m = Ridge(alpha=alpha).fit(X[0, keep], y[keep])
            err += (m.predict(X[0, i:i + 1])[0] - y[i]) ** 2
        errors.append(err)
    res = ridge_valence(X, y, np.random.default_rng(0), n_folds=5)
    assert res.alpha[0] == pytest.approx(grid[int(np.argmin(errors))])


def test_planted_direction_is_recovered_and_noise_is_not():
    X, y, w = _planted(n=171, d=300, seed=3)
    res = ridge_valence(X, y, np.random.default_rng(4))
    assert res.cv_r[0] > 0.9
    assert abs(res.directions[0] @ w) / np.linalg.norm(w) > 0.7
    assert abs(res.cv_r[1]) < 0.25
    np.testing.assert_allclose(np.linalg.norm(res.directions, axis=1), 1.0)
