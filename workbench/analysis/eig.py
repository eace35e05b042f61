"""Top eigenpairs of many small symmetric PSD matrices at once (the bootstrap's PCA).

A full ``eigh`` of a 171 x 171 matrix costs about 1-2 ms on a CPU core, and the
bootstrap needs tens of thousands of them. Only the leading two eigenvectors
are needed, and each resample is close to the full sample, so a block Krylov
method warm-started from the full sample's eigenvectors converges in a few
matrix products. Every result is checked by its residual ``||K v - theta v||``;
a matrix whose leading pairs have not converged after ``max_steps`` products is
solved exactly with ``torch.linalg.eigh``. Small matrices (``n <= exact_below``)
are always solved exactly.
"""

from __future__ import annotations

import torch

__all__ = ["top_eigh"]

_CHECKS = (5, 8, 12)


def top_eigh(K: torch.Tensor, start: torch.Tensor | None = None, k: int = 2, *, tol: float = 1e-4,
             max_steps: int = 12, exact_below: int = 64, generator: torch.Generator | None = None):
    """Leading ``k`` eigenpairs of each matrix in the batch ``K`` ``[B, n, n]``.

    ``start`` ``[B, n, p]`` (p >= k) seeds the Krylov space; one random column is
    added to it. Returns ``(values [B, k], vectors [B, n, k], n_exact)``: values in
    decreasing order, unit vectors in the dtype of ``K``, and how many matrices
    were solved exactly. A pair is accepted when its residual is at most
    ``tol * theta_1``; the sign of each vector is arbitrary.
    """
    B, n, _ = K.shape
    if n <= exact_below or start is None or B == 0:
        vals, vecs = _exact(K, k)
        return vals, vecs, B
    values = K.new_zeros(B, k)
    vectors = K.new_zeros(B, n, k)
    noise = torch.randn(B, n, 1, generator=generator, dtype=K.dtype)
    Q = _orth(torch.cat([start.to(K.dtype), noise], dim=-1), None)  # the Krylov basis, grown by blocks
    width = Q.shape[-1]
    KQ = K @ Q
    active = torch.arange(B)
    Ka = K
    for step in range(1, max_steps + 1):
        if step in _CHECKS or step == max_steps:
            done, vals, vecs = _ritz(Q, KQ, k, tol)
            idx = active[done]
            values[idx], vectors[idx] = vals[done], vecs[done]
            keep = ~done
            active, Ka, Q, KQ = active[keep], Ka[keep], Q[keep], KQ[keep]
            if len(active) == 0:
                return values, vectors, 0
        if step < max_steps:
            block = _orth(KQ[..., -width:], Q)
            Q = torch.cat([Q, block], dim=-1)
            KQ = torch.cat([KQ, Ka @ block], dim=-1)
    vals, vecs = _exact(Ka, k)
    values[active], vectors[active] = vals, vecs
    return values, vectors, len(active)


def _exact(K: torch.Tensor, k: int):
    vals, vecs = torch.linalg.eigh(K.double())
    return vals[:, -k:].flip(-1).to(K.dtype), vecs[:, :, -k:].flip(-1).to(K.dtype)


def _orth(Z: torch.Tensor, basis: torch.Tensor | None) -> torch.Tensor:
    """Orthonormal columns spanning ``Z`` minus its projection on ``basis`` (Gram-Schmidt twice)."""
    if basis is not None:
        for _ in range(2):
            Z = Z - basis @ (basis.transpose(1, 2) @ Z)
    Q, _ = torch.linalg.qr(Z)
    return Q


def _ritz(Q, KQ, k, tol):
    """Rayleigh-Ritz on the current Krylov space; which matrices have converged top-k pairs."""
    T = (Q.transpose(1, 2) @ KQ).double()
    T = (T + T.transpose(1, 2)) / 2
    theta, Y = torch.linalg.eigh(T)
    theta, Y = theta[:, -k:].flip(-1), Y[:, :, -k:].flip(-1).to(Q.dtype)
    V = Q @ Y
    R = KQ @ Y - V * theta.to(Q.dtype)[:, None, :]
    res = R.norm(dim=1).double()
    # Q must be orthonormal for the Ritz values to bound the spectrum; a breakdown fails the check.
    gram = Q.transpose(1, 2) @ Q
    eye = torch.eye(gram.shape[-1], dtype=gram.dtype)
    ortho = (gram - eye).abs().amax(dim=(1, 2)) < 1e-3
    scale = theta[:, :1].clamp_min(torch.finfo(torch.float64).tiny)
    done = (res <= tol * scale).all(dim=-1) & ortho & (theta[:, 0] > 0)
    return done, theta.to(Q.dtype), V
