"""Bootstrap of the PC1-valence and PC2-arousal correlations, all resamples of a layer at once.

Each replicate rebuilds the emotion matrix from resampled units (story means, or
emotion vectors when no stories are given) with one ``embedding_bag``, forms the
Gram matrix of its distinct emotions (weighted by multiplicity) with one batched
product, and finds the two leading eigenvectors
with :func:`~workbench.analysis.eig.top_eigh` warm-started from the full
sample's. The neutral-projected condition reuses the same Gram matrix:
``K_proj = K - (X Q')(X Q')'`` for the neutral basis ``Q``. A replicate's PC is
signed to agree with the full sample's (sign-aligned) axis, not with the
resampled ratings, so a replicate whose PC1 is another axis shows up as a low r.

Layers run in parallel threads, each kernel single-threaded (see
:mod:`workbench.analysis.threads`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from workbench.analysis.eig import top_eigh
from workbench.analysis.stats import BootstrapDraws
from workbench.analysis.threads import single_threaded

__all__ = ["Condition", "bootstrap_pc_r"]


@dataclass(frozen=True)
class Condition:
    """What the bootstrap needs of one neutral-projection setting at every layer."""

    basis: np.ndarray | None  # [L, k, d] neutral directions removed (zero rows allowed), None: no projection
    axes: np.ndarray  # [L, 2, d] full-sample PC1 and PC2 axes, signed as reported
    eigvecs: np.ndarray  # [L, n, p] full-sample unit scores of the top p PCs (warm start)


def _reduce(S: torch.Tensor):
    """Centre the units and, when d exceeds their number, express them in an orthonormal basis
    of their row space (exact: every resample is a combination of these rows)."""
    S = S - S.mean(dim=0, keepdim=True)
    if S.shape[1] <= S.shape[0]:
        return S, None
    R, _ = torch.linalg.qr(S.T)  # [d, U]: S = S R R'
    return S @ R, R


SMALL_D = 64


def _covariance_vectors(X: torch.Tensor, cnt: torch.Tensor, n: int, bases) -> torch.Tensor:
    """The unit eigenvectors of each weighted Gram problem (rows ``sqrt(c_i) (x_i - mu)``) from the
    exact eigen-decomposition of its ``d x d`` covariance, per condition (``bases``: the neutral basis
    removed, or None); ``[C * b, M, 2]`` like :func:`top_eigh`'s. A null component gives zeros."""
    Xd, c = X.double(), cnt.double()
    mu = (c[..., None] * Xd).sum(dim=1, keepdim=True) / n
    rows = (Xd - mu) * c.sqrt()[..., None]  # [b, M, d]
    out = []
    for Q in bases:
        Rq = rows if Q is None else rows - (rows @ Q.T) @ Q
        lam, E = torch.linalg.eigh(Rq.transpose(1, 2) @ Rq)
        lam, E = lam[:, -2:].flip(-1), E[:, :, -2:].flip(-1)
        root = lam.clamp_min(0.0).sqrt()
        ok = root > 1e-12 * root[:, :1].clamp_min(1e-300)
        v = (Rq @ E) / torch.where(ok, root, torch.ones_like(root))[:, None, :]
        out.append(torch.where(ok[:, None, :], v, torch.zeros_like(v)).float())
    return torch.cat(out)


def _unique_rows(emo: torch.Tensor, n_emotions: int):
    """Per replicate, the distinct emotions drawn (padded with count 0) and their multiplicities."""
    counts = torch.zeros(emo.shape[0], n_emotions, dtype=torch.float64)
    counts.scatter_add_(1, emo, torch.ones(emo.shape, dtype=torch.float64))
    present = counts > 0
    width = int(present.sum(dim=1).max())
    order = torch.argsort((~present).to(torch.int8), dim=1, stable=True)[:, :width]
    return order, counts.gather(1, order)


def _layer(layer, units, draws, ratings, conditions, chunk, seed, progress, keep_scores):
    """Bootstrap r for one layer. A replicate with emotion ``e`` drawn ``c`` times is solved as
    the weighted problem on its distinct emotions: rows ``sqrt(c) (x_e - mean)``, whose Gram
    matrix has the same non-zero spectrum as the replicate's, at about half the size."""
    B, n = draws.emotions.shape
    emo = torch.as_tensor(draws.emotions)
    story = torch.as_tensor(np.ascontiguousarray(draws.units))
    story_w = torch.as_tensor(np.ascontiguousarray(draws.weights), dtype=torch.float32)
    gen = torch.Generator().manual_seed(seed + 7919 * layer)
    S, R = _reduce(units[:, layer].double())
    S32 = S.float()

    def red(a):
        a = torch.as_tensor(np.asarray(a, dtype=np.float64))
        return (a @ R if R is not None else a).float()

    # One product gives every projection a replicate needs: the reference axes of each
    # condition (for the signs) and the neutral basis (for the projected Gram matrix).
    blocks, slices, at = [], [], 0
    for c in conditions:
        parts = [red(c.axes[layer])] + ([] if c.basis is None else [red(c.basis[layer])])
        blocks += parts
        slices.append((slice(at, at + 2), None if c.basis is None else slice(at + 2, at + 2 + parts[1].shape[0])))
        at += sum(part.shape[0] for part in parts)
    W = torch.cat(blocks).T.contiguous()  # [r, q]
    starts = [torch.as_tensor(c.eigvecs[layer]).float() for c in conditions]
    # Few dimensions (d <= SMALL_D, not reduced): the exact d x d covariance problem is cheaper than the Gram one.
    small = R is None and S.shape[1] <= SMALL_D
    bases = [None if c.basis is None else torch.as_tensor(np.asarray(c.basis[layer], dtype=np.float64))
             for c in conditions]
    out = np.full((len(conditions), B, 2), np.nan)
    scores = np.zeros((len(conditions), B, n, 2), dtype=np.float32) if keep_scores else None
    n_exact = 0
    for lo in range(0, B, chunk):
        hi = min(B, lo + chunk)
        b = hi - lo
        uniq, cnt = _unique_rows(emo[lo:hi], n)
        rows = torch.arange(lo, hi)[:, None]
        bag, bag_w = story[rows, uniq], story_w[rows, uniq]  # [b, M, k]
        if bag.shape[-1] == 1:
            X = S32[bag[..., 0]]
        else:
            k = bag.shape[-1]
            X = F.embedding_bag(bag.reshape(-1, k), S32, per_sample_weights=bag_w.reshape(-1, k),
                                mode="sum").view(b, uniq.shape[1], -1)
        # Weighted centring in Gram space: rows sqrt(c_i) (x_i - mu), mu = sum_i c_i x_i / n.
        c32 = cnt.float()
        root = c32.sqrt()
        Z = X @ W
        Z = (Z - (c32[..., None] * Z).sum(dim=1, keepdim=True) / n) * root[..., None]
        y = ratings[:, uniq]  # [2, b, M]
        yc = y - (cnt * y).sum(dim=-1, keepdim=True) / n
        ynorm = (cnt * yc * yc).sum(dim=-1).sqrt()  # [2, b]
        wy = (cnt.sqrt() * yc).permute(1, 2, 0)  # [b, M, 2]
        if small:
            vecs_all = _covariance_vectors(X, cnt, n, [None if q is None else bases[i] for i, (_, q) in
                                                       enumerate(slices)])
            n_exact += len(conditions) * b
        else:
            G = X @ X.transpose(1, 2)
            g = (G @ c32[..., None]) / n  # [b, M, 1]: x_i . mu
            gg = (g.squeeze(-1) * c32).sum(dim=-1)[:, None, None] / n  # mu . mu
            K = (G - g - g.transpose(1, 2) + gg) * (root[:, :, None] * root[:, None, :])
            mats, inits = [], []
            for (_, q), v0 in zip(slices, starts):
                P = None if q is None else Z[..., q]
                mats.append(K if P is None else K - P @ P.transpose(1, 2))
                inits.append(v0[uniq] * root[..., None])
            _, vecs_all, ne = top_eigh(torch.cat(mats), torch.cat(inits), k=2, generator=gen)
            n_exact += ne
        for c, ((ax, _), vecs) in enumerate(zip(slices, vecs_all.split(b))):
            sign = torch.sign((vecs * Z[..., ax]).sum(dim=1))  # agree with the full-sample axes
            v = (vecs * torch.where(sign == 0, torch.ones_like(sign), sign)[:, None, :]).double()
            mean = (cnt.sqrt()[..., None] * v).sum(dim=1) / n  # [b, 2]: mean of the replicate's scores
            spread = ((v * v).sum(dim=1) - n * mean * mean).clamp_min(0.0).sqrt()
            den = spread * ynorm.T
            num = (v * wy).sum(dim=1)
            r = torch.where(den > 0, num / torch.where(den > 0, den, torch.ones_like(den)),
                            torch.full_like(num, float("nan")))
            out[c, lo:hi] = r.clamp(-1, 1).numpy()
            if scores is not None:  # keep_scores; a distinct emotion's score is its weighted row over sqrt(its count)
                own = torch.where((cnt > 0)[..., None], v / cnt.clamp_min(1.0)[..., None].sqrt(), torch.zeros_like(v))
                scores[c, lo + np.arange(b)[:, None], uniq.numpy()] = own.float().numpy()
        if progress is not None:
            progress(hi - lo)
    return out, n_exact, scores


def bootstrap_pc_r(units, draws: BootstrapDraws, valence, arousal, conditions: list[Condition], *,
                   chunk: int = 32, seed: int = 0, workers: int | None = None,
                   progress: Callable[[int], None] | None = None, keep_scores: bool = False):
    """Sign-aligned r of (PC1, valence) and (PC2, arousal) per replicate.

    ``units`` ``[U, L, d]`` (rows grouped as ``draws`` expects); returns ``r``
    ``[n_conditions, B, L, 2]`` and how many eigen problems needed the exact solver; with
    ``keep_scores`` also each replicate's PC1 and PC2 scores per emotion, ``[n_conditions, B, L,
    n_emotions, 2]`` float32 (0 for an emotion not drawn; weight the emotions by their draw counts).
    """
    units = torch.as_tensor(units)
    L = units.shape[1]
    ratings = torch.as_tensor(np.stack([valence, arousal]).astype(np.float64))  # [2, n]
    lock = threading.Lock()

    def report(k):
        if progress is not None:
            with lock:
                progress(k)

    workers = workers or min(4, os.cpu_count() or 1, L)
    with single_threaded(), ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(lambda layer: _layer(layer, units, draws, ratings, conditions, chunk, seed,
                                                     report, keep_scores), range(L)))
    out = np.stack([r for r, _, _ in results], axis=2)  # [C, B, L, 2]
    n_exact = sum(ne for _, ne, _ in results)
    if not keep_scores:
        return out, n_exact
    return out, n_exact, np.stack([sc for _, _, sc in results], axis=2)
