"""Linear CKA between representations of the same emotions, biased and debiased.

The biased estimator (Kornblith et al. 2019) of two independent noise matrices
is far from 0 when n << d (about 0.95 at n = 171, d in the thousands), so it
cannot tell layers that share structure from layers that merely share a
dimension. The debiased estimator uses the unbiased HSIC of Song et al. 2012:

    HSIC_u(K, L) = [tr(K~ L~) + 1'K~1 1'L~1 / ((n-1)(n-2)) - 2/(n-2) 1'K~L~1] / (n(n-3))

with ``K~``, ``L~`` the Gram matrices with their diagonals set to 0; CKA is
``HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L))``. A null band comes from the same
statistic with the rows of one matrix shuffled (the emotions' pairing broken).
"""

from __future__ import annotations

import numpy as np
import torch

from workbench.analysis.stats import percentile_ci
from workbench.errors import InputError

__all__ = ["linear_cka", "cka_matrix", "cka_cross", "cka_null_band", "gram_matrices"]


def gram_matrices(X) -> torch.Tensor:
    """Linear Gram matrices of the feature-centred ``X`` ``[L, n, d]`` (or ``[n, d]``): ``[L, n, n]`` float64."""
    X = torch.as_tensor(np.asarray(X, dtype=np.float64))
    if X.ndim == 2:
        X = X[None]
    if X.shape[1] < 4:
        raise InputError(f"CKA needs at least 4 emotions (rows), got {X.shape[1]}")
    Xc = X - X.mean(dim=1, keepdim=True)
    return Xc @ Xc.transpose(1, 2)


def _parts(K: torch.Tensor, debiased: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per Gram matrix: the matrix used in the inner products, its row sums and its total."""
    if debiased:
        K = K - torch.diag_embed(K.diagonal(dim1=1, dim2=2))
    return K, K.sum(dim=2), K.sum(dim=(1, 2))


def _hsic(KA, sA, tA, KB, sB, tB, n: int, debiased: bool) -> torch.Tensor:
    """HSIC (up to a common factor for the biased one) between all pairs: ``[LA, LB]``."""
    inner = KA.reshape(KA.shape[0], -1) @ KB.reshape(KB.shape[0], -1).T
    if not debiased:
        return inner
    return (inner + torch.outer(tA, tB) / ((n - 1) * (n - 2)) - 2.0 / (n - 2) * (sA @ sB.T)) / (n * (n - 3))


def _normalise(H, selfA, selfB):
    den = torch.sqrt(torch.outer(selfA, selfB))
    valid = torch.outer(selfA > 0, selfB > 0)
    return torch.where(valid, H / torch.where(valid, den, torch.ones_like(den)), torch.full_like(H, float("nan")))


def cka_cross(XA, XB, debiased: bool = True) -> np.ndarray:
    """CKA between every layer of ``XA`` ``[LA, n, dA]`` and every layer of ``XB`` ``[LB, n, dB]``
    (same emotions in the same row order): ``[LA, LB]``."""
    GA, GB = gram_matrices(XA), gram_matrices(XB)
    if GA.shape[1] != GB.shape[1]:
        raise InputError(f"CKA: {GA.shape[1]} rows against {GB.shape[1]}; the emotions must match")
    n = GA.shape[1]
    A, B = _parts(GA, debiased), _parts(GB, debiased)
    H = _hsic(*A, *B, n, debiased)
    selfA = _hsic(*A, *A, n, debiased).diagonal()
    selfB = _hsic(*B, *B, n, debiased).diagonal()
    return _normalise(H, selfA, selfB).numpy()


def cka_matrix(X, debiased: bool = True) -> np.ndarray:
    """CKA between all layer pairs of ``X`` ``[L, n, d]``: ``[L, L]`` (symmetric, 1 on the diagonal)."""
    return cka_cross(X, X, debiased)


def linear_cka(X, Y, debiased: bool = True) -> float:
    """Linear CKA of ``X`` ``[n, dx]`` and ``Y`` ``[n, dy]`` (rows are the same items)."""
    return float(cka_cross(np.asarray(X)[None], np.asarray(Y)[None], debiased)[0, 0])


def cka_null_band(X, n_shuffles: int, rng: np.random.Generator, level: float = 0.95) -> dict:
    """CKA of every layer pair with the rows of the second layer shuffled, ``n_shuffles`` times.

    Returns ``{"debiased": (low, high, values), "biased": (low, high, values)}``: the
    percentile band ``[L, L]`` at ``level`` and the shuffled values ``[n_shuffles, L, L]``.
    Both estimators share the shuffles (one gather of the Gram matrices per shuffle); the
    shuffled inner products are computed in float32 (a null band needs three digits).
    """
    G = gram_matrices(X)
    L, n, _ = G.shape
    K, s, t = _parts(G, True)
    diag = G.diagonal(dim1=1, dim2=2)  # [L, n]
    flat = K.reshape(L, -1).float()
    self_u = _hsic(K, s, t, K, s, t, n, True).diagonal()
    self_b = (G.reshape(L, -1) ** 2).sum(dim=1)
    values = {"debiased": np.empty((n_shuffles, L, L)), "biased": np.empty((n_shuffles, L, L))}
    for b in range(n_shuffles):
        p = torch.as_tensor(rng.permutation(n))
        index = (p[:, None] * n + p[None, :]).reshape(-1)
        inner = (flat @ torch.index_select(flat, 1, index).T).double()  # <K~_i, P K~_j P'>
        ss = s @ s[:, p].T
        unbiased = (inner + torch.outer(t, t) / ((n - 1) * (n - 2)) - 2.0 / (n - 2) * ss) / (n * (n - 3))
        values["debiased"][b] = _normalise(unbiased, self_u, self_u).numpy()
        values["biased"][b] = _normalise(inner + diag @ diag[:, p].T, self_b, self_b).numpy()
    return {kind: (*percentile_ci(v, level), v) for kind, v in values.items()}
