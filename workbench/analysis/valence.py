"""A held-out valence axis: ridge regression of valence on the emotion vectors.

The published code fits valence by minimum-norm least squares on a 171 x d
matrix, which interpolates any target when n < d, noise included. Here the
penalty is chosen per layer by exact leave-one-out error on the training
emotions (the closed form for a linear smoother, as in scikit-learn's
``RidgeCV``), the fit is scored on held-out emotions by outer K-fold
(``cv_r`` = the mean over folds of the Pearson r of a fold's predictions with
its valence; r of the predictions pooled across folds is biased below 0 under
the null, about -0.2 here, because each fold's intercept is its training
mean, anti-correlated with its held-out mean), and the
direction reported is the unit ridge coefficient fitted on all emotions.
Everything is computed in the emotions' Gram space (``n x n``), for all layers
at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from workbench.analysis.stats import pearson
from workbench.errors import InputError

__all__ = ["RidgeResult", "ridge_valence", "ridge_heldout", "kfold_indices", "DEFAULT_ALPHAS", "alpha_grid"]

# Penalties relative to the layer's mean squared vector norm (so one grid fits every layer's scale).
DEFAULT_ALPHAS = tuple(float(a) for a in 10.0 ** np.linspace(-4, 4, 17))


@dataclass(frozen=True)
class RidgeResult:
    cv_r: np.ndarray  # [L] mean over outer folds of the held-out Pearson r
    fold_r: np.ndarray  # [L, n_folds] held-out Pearson r per fold
    alpha: np.ndarray  # [L] penalty chosen on all emotions
    directions: np.ndarray  # [L, d] unit coefficient vectors (towards positive valence)
    predictions: np.ndarray  # [L, n] out-of-fold predictions
    alphas: np.ndarray  # [L, A] the absolute grid per layer


def kfold_indices(rng: np.random.Generator, n: int, n_folds: int) -> list[np.ndarray]:
    """Test indices of ``n_folds`` shuffled folds (sizes differ by at most one)."""
    if not 2 <= n_folds <= n:
        raise InputError(f"cross-validation needs 2 <= folds <= n emotions, got {n_folds} folds for {n}")
    return [np.sort(f) for f in np.array_split(rng.permutation(n), n_folds)]


def alpha_grid(X, relative=DEFAULT_ALPHAS, allow_flat: bool = False) -> np.ndarray:
    """Absolute penalties per layer: ``relative`` times the layer's mean squared centred norm
    (a layer whose vectors are all identical has none: an error, or with ``allow_flat`` NaN)."""
    X = np.asarray(X, dtype=np.float64)
    scale = ((X - X.mean(axis=1, keepdims=True)) ** 2).sum(axis=(1, 2)) / X.shape[1]
    if allow_flat:
        scale = np.where(scale > 0, scale, np.nan)
    elif (scale <= 0).any():
        raise InputError(f"ridge: all vectors identical at layer position(s) {np.flatnonzero(scale <= 0).tolist()}")
    return scale[:, None] * np.asarray(relative, dtype=np.float64)[None, :]


def _centred(K: torch.Tensor, rows: torch.Tensor, train: torch.Tensor) -> torch.Tensor:
    """Inner products of ``rows`` with ``train``, both centred by the training mean, from the
    uncentred Gram matrix ``K`` ``[L, n, n]``."""
    Kt = K[:, train][:, :, train]
    col = Kt.mean(dim=1, keepdim=True)  # [L, 1, m]: mean over training rows of each training column
    total = Kt.mean(dim=(1, 2), keepdim=True)
    Kr = K[:, rows][:, :, train]
    return Kr - Kr.mean(dim=2, keepdim=True) - col + total


def _fit(Kc: torch.Tensor, ytr: torch.Tensor, alphas: torch.Tensor):
    """Eigen-decomposition of the centred training Gram ``Kc`` and the LOO-chosen penalty per layer."""
    m = Kc.shape[1]
    ytr = ytr.expand(Kc.shape[0], m)  # one target for every layer, or one per batch entry
    ym = ytr.mean(dim=-1, keepdim=True)  # [L, 1]
    yc = ytr - ym
    lam, U = torch.linalg.eigh((Kc + Kc.transpose(1, 2)) / 2)
    lam = lam.clamp_min(0.0)  # [L, m]
    uy = (U.transpose(1, 2) @ yc[..., None]).squeeze(-1)  # [L, m]
    shrink = lam[:, None, :] / (lam[:, None, :] + alphas[:, :, None])  # [L, A, m]
    fitted = ym[:, :, None] + (shrink * uy[:, None, :]) @ U.transpose(1, 2)  # [L, A, m]
    hat = 1.0 / m + (shrink @ (U * U).transpose(1, 2))  # [L, A, m]
    loo = (ytr[:, None, :] - fitted) / (1.0 - hat).clamp_min(1e-12)
    best = (loo**2).mean(dim=-1).argmin(dim=-1)  # first minimum, as RidgeCV
    alpha = alphas.gather(1, best[:, None]).squeeze(1)
    dual = U @ (uy / (lam + alpha[:, None]))[..., None]  # [L, m, 1]
    return ym, dual, alpha


def ridge_valence(X, y, rng: np.random.Generator, n_folds: int = 5, relative_alphas=DEFAULT_ALPHAS,
                  folds: list[np.ndarray] | None = None) -> RidgeResult:
    """Ridge of ``y`` ``[n]`` on ``X`` ``[L, n, d]`` per layer; see the module docstring."""
    X = np.array(X, dtype=np.float64)
    y = np.array(y, dtype=np.float64)
    L, n, _ = X.shape
    alphas_np = alpha_grid(X, relative_alphas, allow_flat=True)
    flat = np.isnan(alphas_np[:, 0])  # a layer of identical vectors: NaN results (analyze warns about it)
    Xt, yt = torch.as_tensor(X), torch.as_tensor(y)
    alphas = torch.as_tensor(np.where(flat[:, None], 1.0, alphas_np))
    Xt = Xt - Xt.mean(dim=1, keepdim=True)  # ridge with an intercept does not see a common shift
    K = Xt @ Xt.transpose(1, 2)
    folds = kfold_indices(rng, n, n_folds) if folds is None else folds
    pred = torch.empty(L, n, dtype=torch.float64)
    for test in folds:
        train = torch.as_tensor(np.setdiff1d(np.arange(n), test))
        te = torch.as_tensor(test)
        ym, dual, _ = _fit(_centred(K, train, train), yt[train], alphas)
        pred[:, te] = ym + (_centred(K, te, train) @ dual).squeeze(-1)
    everyone = torch.arange(n)
    _, dual, alpha = _fit(_centred(K, everyone, everyone), yt, alphas)
    beta = (Xt.transpose(1, 2) @ dual).squeeze(-1)  # [L, d]
    norm = beta.norm(dim=-1, keepdim=True)
    directions = torch.where(norm > 0, beta / torch.where(norm > 0, norm, torch.ones_like(norm)), beta)
    pred_np = pred.numpy()
    fold_r = np.stack([pearson(pred_np[:, f], y[None, f]) for f in folds], axis=1)
    pred_np[flat], fold_r[flat] = np.nan, np.nan
    directions = np.where(flat[:, None], np.nan, directions.numpy())
    return RidgeResult(fold_r.mean(axis=1), fold_r, np.where(flat, np.nan, alpha.numpy()), directions, pred_np,
                       alphas_np)


def _centred_batch(K: torch.Tensor, rows: torch.Tensor, train: torch.Tensor) -> torch.Tensor:
    """As :func:`_centred`, with its own ``rows`` ``[S, r]`` and ``train`` ``[S, m]`` per batch entry."""
    s = torch.arange(K.shape[0])[:, None, None]
    Kt = K[s, train[:, :, None], train[:, None, :]]
    Kr = K[s, rows[:, :, None], train[:, None, :]]
    return Kr - Kr.mean(dim=2, keepdim=True) - Kt.mean(dim=1, keepdim=True) + Kt.mean(dim=(1, 2), keepdim=True)


def ridge_heldout(X, y, splits: np.ndarray, chosen: np.ndarray, relative_alphas=DEFAULT_ALPHAS) -> np.ndarray:
    """The held-out ridge r of a cross-fit: for each split ``s`` of ``splits`` ``[S, n]`` (True: half A)
    and then swapped, the ridge of ``y`` on ``X`` ``[L, n, d]`` at the layer position ``chosen[k]``
    (``[2S]``, -1: none) is trained on the selection half (LOO penalty as above) and scored by the
    Pearson r of its predictions on the other half; ``[2S]``, NaN where no layer was chosen. The half
    that chose the layer also trains the fit, so the half that scores it took no part in either."""
    X = np.asarray(X, dtype=np.float64)
    y = np.array(y, dtype=np.float64)
    Xt = torch.as_tensor(X - X.mean(axis=1, keepdims=True))
    alphas = alpha_grid(X, relative_alphas, allow_flat=True)
    splits = np.asarray(splits, dtype=bool)
    S = len(splits)
    out = np.full(2 * S, np.nan)
    for k, train_mask in enumerate((splits, ~splits)):
        pos = np.asarray(chosen[k * S:(k + 1) * S])
        ok = np.flatnonzero((pos >= 0) & ~np.isnan(alphas[np.maximum(pos, 0), 0]))
        if ok.size == 0:
            continue
        train = torch.as_tensor(np.stack([np.flatnonzero(m) for m in train_mask[ok]]))
        test = torch.as_tensor(np.stack([np.flatnonzero(~m) for m in train_mask[ok]]))
        layers, which = np.unique(pos[ok], return_inverse=True)
        Xl = Xt[torch.as_tensor(layers)]
        K = (Xl @ Xl.transpose(1, 2))[torch.as_tensor(which)]  # [s, n, n], one Gram matrix per layer used
        yt = torch.as_tensor(y)
        ym, dual, _ = _fit(_centred_batch(K, train, train), yt[train], torch.as_tensor(alphas[pos[ok]]))
        pred = ym + (_centred_batch(K, test, train) @ dual).squeeze(-1)
        out[k * S + ok] = pearson(pred.numpy(), y[test.numpy()])
    return out
