"""Bradley-Terry strengths from (fractional) wins, on the Elo scale, with a bootstrap over pairs.

Model: ``P(i beats j) = s_i / (s_i + s_j)``. The maximum-likelihood strengths are found by Newton's
method on ``theta = ln s`` (the log-likelihood is concave; the Hessian is minus a weighted graph
Laplacian, made invertible by fixing the mean of theta at 0), with a step-halving line search.
Wins may be fractional: a preference probability read from a model's logits counts as that share of
a win. The MLE exists when every split of the items into two groups has wins both ways (the "wins"
graph is strongly connected); otherwise strengths run off to infinity and the fit is refused.

Elo scale: ``elo_i = 1000 + 400 / ln(10) * (theta_i - mean(theta))``, so the mean Elo is 1000 and an
Elo gap of 400 is a strength ratio of 10 (``gap = 400/ln(10) x ln(s_i / s_j)``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench.errors import InputError

__all__ = ["BTFit", "fit_bradley_terry", "wins_matrix", "bootstrap_pairs", "ELO_SCALE"]

ELO_SCALE = 400.0 / np.log(10.0)


@dataclass(frozen=True, eq=False)
class BTFit:
    """Fitted strengths: ``theta`` (log strengths, mean 0), ``elo`` (mean 1000), Newton ``iterations``."""

    theta: np.ndarray
    iterations: int

    @property
    def strength(self) -> np.ndarray:
        """``exp(theta)``: strengths with geometric mean 1 (only their ratios are identified)."""
        return np.exp(self.theta)

    @property
    def elo(self) -> np.ndarray:
        return 1000.0 + ELO_SCALE * self.theta


def wins_matrix(i, j, p_i, n_items: int, weights=None) -> np.ndarray:
    """``W[a, b]``: the (weighted) wins of a over b from comparisons of items ``i[k]`` and ``j[k]``, where
    ``p_i[k]`` is the share of comparison k that ``i[k]`` won (``1 - p_i[k]`` goes to ``j[k]``)."""
    i, j = np.asarray(i, dtype=np.int64), np.asarray(j, dtype=np.int64)
    p = np.asarray(p_i, dtype=np.float64)
    w = np.ones(len(p)) if weights is None else np.asarray(weights, dtype=np.float64)
    if not (len(i) == len(j) == len(p) == len(w)):
        raise InputError("wins_matrix: i, j, p_i and weights must have the same length")
    if len(p) and (not np.all(np.isfinite(p)) or p.min() < 0 or p.max() > 1):
        raise InputError("wins_matrix: every p_i must be a probability in [0, 1]")
    if np.any(i == j) or (len(i) and (min(i.min(), j.min()) < 0 or max(i.max(), j.max()) >= n_items)):
        raise InputError(f"wins_matrix: item indices must be distinct pairs in 0..{n_items - 1}")
    W = np.zeros((n_items, n_items))
    np.add.at(W, (i, j), w * p)
    np.add.at(W, (j, i), w * (1.0 - p))
    return W


def _strongly_connected(W: np.ndarray) -> bool:
    from scipy.sparse.csgraph import connected_components

    n, _ = connected_components(W > 0, directed=True, connection="strong")
    return n == 1


def _loglik(W: np.ndarray, theta: np.ndarray) -> float:
    d = theta[:, None] - theta[None, :]
    return float(np.sum(W * -np.logaddexp(0.0, -d)))


def fit_bradley_terry(W, tol: float = 1e-12, max_iter: int = 200) -> BTFit:
    """The maximum-likelihood Bradley-Terry fit of the wins matrix ``W`` (``W[i, j]``: wins of i over j)."""
    W = np.asarray(W, dtype=np.float64)
    n = W.shape[0]
    if W.ndim != 2 or W.shape != (n, n) or n < 2:
        raise InputError(f"Bradley-Terry: the wins matrix must be square with at least 2 items, got {W.shape}")
    if not np.all(np.isfinite(W)) or W.min() < 0 or np.any(np.diag(W) != 0):
        raise InputError("Bradley-Terry: wins must be finite, non-negative, and zero on the diagonal")
    if not _strongly_connected(W):
        raise InputError("Bradley-Terry: the strengths are not identified (some group of items never loses, or "
                         "never wins, against the rest: the wins graph is not strongly connected)")
    N = W + W.T
    theta = np.zeros(n)
    scale = max(N.sum(axis=1).max(), 1e-300)
    for it in range(1, max_iter + 1):
        p = 1.0 / (1.0 + np.exp(-(theta[:, None] - theta[None, :])))
        grad = W.sum(axis=1) - (N * p).sum(axis=1)
        if np.abs(grad).max() <= tol * scale:
            return BTFit(theta - theta.mean(), it - 1)
        info = N * p * p.T  # minus the Hessian's off-diagonal
        lap = np.diag(info.sum(axis=1)) - info
        step = np.linalg.solve(lap + np.ones((n, n)) / n, grad)
        before, t = _loglik(W, theta), 1.0
        while t > 1e-8 and _loglik(W, theta + t * step) < before - 1e-12 * abs(before):
            t /= 2
        theta = theta + t * step
        theta -= theta.mean()
    raise InputError(f"Bradley-Terry: Newton's method did not converge in {max_iter} iterations "
                     f"(max gradient {np.abs(grad).max():.3g})")


def bootstrap_pairs(i, j, p_i, n_items: int, n_boot: int, seed: int = 0, extra=None) -> np.ndarray:
    """``[n_boot, n_items]`` Elo of fits to the comparisons resampled with replacement (a comparison is one
    unordered pair, both orders averaged into ``p_i``); a resample whose strengths are not identified is NaN.

    ``extra``: further ``p_i`` arrays of the same pairs (e.g. steered tournaments), refitted on the
    *same* resamples; then ``[1 + len(extra), n_boot, n_items]`` is returned, the first for ``p_i``.
    """
    if n_boot < 1:
        raise InputError(f"bootstrap_pairs: n_boot must be >= 1, got {n_boot}")
    rng = np.random.default_rng(seed)
    sets = [np.asarray(p_i, dtype=np.float64)] + [np.asarray(e, dtype=np.float64) for e in (extra or ())]
    out = np.full((len(sets), n_boot, n_items), np.nan)
    m = len(sets[0])
    for b in range(n_boot):
        counts = np.bincount(rng.integers(0, m, size=m), minlength=m).astype(np.float64)
        keep = counts > 0
        for s, p in enumerate(sets):
            W = wins_matrix(np.asarray(i)[keep], np.asarray(j)[keep], p[keep], n_items, counts[keep])
            try:
                out[s, b] = fit_bradley_terry(W).elo
            except InputError:
                continue  # not identified in this resample: NaN
    return out[0] if extra is None else out
