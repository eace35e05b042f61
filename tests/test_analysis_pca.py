"""PCA against scikit-learn, and the batched top-k eigensolver against torch.linalg.eigh."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA as SkPCA

from workbench.analysis.eig import top_eigh
from workbench.analysis.pca import pca
from workbench.analysis.threads import single_threaded


@pytest.fixture(autouse=True)
def _one_thread():
    with single_threaded():  # many small kernels: threads only contend on a shared machine
        yield


def test_pca_matches_sklearn():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2, 30, 12)) * np.linspace(3, 0.5, 12)
    P = pca(X, 4)
    for layer in range(2):
        sk = SkPCA(4).fit(X[layer])
        np.testing.assert_allclose(P.explained[layer], sk.explained_variance_ratio_, rtol=1e-10)
        for j in range(4):
            s = np.sign(P.axes[layer, j] @ sk.components_[j])
            np.testing.assert_allclose(P.axes[layer, j], s * sk.components_[j], atol=1e-10)
            np.testing.assert_allclose(P.scores[layer, :, j], s * sk.transform(X[layer])[:, j], atol=1e-10)
        # sign convention: the largest-magnitude coordinate of each axis is positive
        big = P.axes[layer][np.arange(4), np.abs(P.axes[layer]).argmax(axis=1)]
        assert (big > 0).all()
        np.testing.assert_allclose(np.linalg.norm(P.eigvecs[layer], axis=0), 1.0)


def test_pca_flip():
    rng = np.random.default_rng(1)
    P = pca(rng.standard_normal((1, 10, 5)), 2)
    F = P.flipped(np.array([[-1.0, 1.0]]))
    np.testing.assert_allclose(F.scores[0, :, 0], -P.scores[0, :, 0])
    np.testing.assert_allclose(F.axes[0, 1], P.axes[0, 1])


def _batch(kind, B=24, n=120, d=300, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(B, n, d, generator=g, dtype=torch.float64)
    if kind == "spiked":
        X[:, :, 0] *= 6
        X[:, :, 1] *= 4
    elif kind == "decaying":
        X = X * torch.arange(1, d + 1, dtype=torch.float64) ** -0.5
    elif kind == "low_rank":
        X[:, :, 3:] = 0
    X = X - X.mean(dim=1, keepdim=True)
    return (X @ X.transpose(1, 2)).float()


@pytest.mark.parametrize("kind", ["spiked", "decaying", "isotropic", "low_rank"])
def test_top_eigh_matches_eigh(kind):
    K = _batch(kind)
    vals, vecs = torch.linalg.eigh(K.double())
    ref_vals, ref_vecs = vals[:, -2:].flip(-1), vecs[:, :, -2:].flip(-1)
    start = torch.randn(K.shape[0], K.shape[1], 3, generator=torch.Generator().manual_seed(1))
    got_vals, got_vecs, n_exact = top_eigh(K, start, k=2, generator=torch.Generator().manual_seed(2))
    np.testing.assert_allclose(got_vals.double(), ref_vals, rtol=1e-4)
    cos = (got_vecs.double() * ref_vecs).sum(dim=1).abs()
    assert (cos > 1 - 1e-5).all(), (kind, cos.min().item(), n_exact)


def test_top_eigh_small_matrices_are_solved_exactly():
    K = _batch("spiked", B=3, n=20, d=10)
    vals, vecs, n_exact = top_eigh(K, torch.randn(3, 20, 3), k=2)
    assert n_exact == 3
    ref = torch.linalg.eigh(K.double())[0][:, -2:].flip(-1)
    np.testing.assert_allclose(vals.double(), ref, rtol=1e-5)


def test_top_eigh_falls_back_when_krylov_does_not_converge():
    K = _batch("isotropic", B=6)
    start = torch.randn(6, 120, 3)
    vals, vecs, n_exact = top_eigh(K, start, k=2, max_steps=2, tol=1e-12)
    assert n_exact == 6
    ref = torch.linalg.eigh(K.double())[0][:, -2:].flip(-1)
    np.testing.assert_allclose(vals.double(), ref, rtol=1e-5)
