"""Exact PCA of the emotion vectors, one layer at a time or all layers in a batch.

Computed from the emotions' Gram matrix (``n x n``, so the cost does not grow
with ``d_model``). A principal axis has no intrinsic sign: each is returned
with its largest-magnitude coordinate positive (a fixed convention), and the
analysis then aligns it to the ratings, recording the flip.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["PCA", "pca"]


@dataclass(frozen=True)
class PCA:
    """Top-``k`` principal components per layer.

    ``scores[l, :, j]`` are the emotions' coordinates on axis ``j`` (mean 0),
    ``axes[l, j]`` the unit axis in ``d_model`` space, ``explained[l, j]`` the share of
    the total variance, ``eigvecs[l, :, j]`` the unit-norm scores (warm starts).
    """

    scores: np.ndarray  # [L, n, k]
    axes: np.ndarray  # [L, k, d]
    explained: np.ndarray  # [L, k]
    eigvecs: np.ndarray  # [L, n, k]

    def flipped(self, signs: np.ndarray) -> PCA:
        """The same components with axis ``j`` of layer ``l`` multiplied by ``signs[l, j]`` (+-1)."""
        s = np.asarray(signs, dtype=np.float64)
        return PCA(self.scores * s[:, None, :], self.axes * s[:, :, None], self.explained,
                   self.eigvecs * s[:, None, :])


def pca(X, k: int) -> PCA:
    """PCA of ``X`` ``[L, n, d]`` (or ``[n, d]``, treated as one layer) keeping ``k`` components."""
    X = torch.as_tensor(np.asarray(X, dtype=np.float64))
    if X.ndim == 2:
        X = X[None]
    Xc = X - X.mean(dim=1, keepdim=True)
    K = Xc @ Xc.transpose(1, 2)
    K = (K + K.transpose(1, 2)) / 2
    vals, vecs = torch.linalg.eigh(K)
    k = min(k, X.shape[1])
    vals, vecs = vals[:, -k:].flip(-1).clamp_min(0.0), vecs[:, :, -k:].flip(-1)
    total = K.diagonal(dim1=1, dim2=2).sum(-1, keepdim=True)
    root = vals.sqrt()
    safe = torch.where(root > 0, root, torch.ones_like(root))
    axes = (Xc.transpose(1, 2) @ vecs / safe[:, None, :]).transpose(1, 2)  # [L, k, d]
    axes = torch.where(root[:, :, None] > 0, axes, torch.zeros_like(axes))
    # Sign convention: the largest-magnitude coordinate of each axis is positive.
    pick = axes.abs().argmax(dim=-1, keepdim=True)
    sign = torch.sign(torch.gather(axes, -1, pick)).squeeze(-1)
    sign = torch.where(sign == 0, torch.ones_like(sign), sign)
    axes = axes * sign[:, :, None]
    vecs = vecs * sign[:, None, :]
    explained = torch.where(total > 0, vals / torch.where(total > 0, total, torch.ones_like(total)),
                            torch.zeros_like(vals))
    return PCA((vecs * root[:, None, :]).numpy(), axes.numpy(), explained.numpy(), vecs.numpy())
