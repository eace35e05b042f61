"""Declared layer selection: the peak layer chosen on one half of the stories, reported on the other.

Each emotion's stories are split at random into halves A and B; vectors built
from each half give a PC1-valence r per layer. The peak layer is the maximum of
half A's (sign-aligned) r; half B's r at that layer, with half B's PC1 signed to
agree with half A's axis (never with B's own ratings), is the honest estimate.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from workbench.analysis.pca import pca
from workbench.analysis.stats import pearson, pearson_p, split_half
from workbench.analysis.vectors import project_out

__all__ = ["split_half_r", "peak_summary"]


def _half_means(units: torch.Tensor, groups) -> torch.Tensor:
    """Mean of the given story rows per emotion, centred over emotions: [L, n, d] float64."""
    raw = torch.stack([units[torch.as_tensor(rows)].double().mean(dim=0) for rows in groups], dim=1)
    return raw - raw.mean(dim=1, keepdim=True)


def _condition(X: torch.Tensor, basis):
    return (X if basis is None else project_out(X, torch.as_tensor(basis))).numpy()


def _signed_r(X_a, X_b, valence, arousal):
    Pa, Pb = pca(X_a, 2), pca(X_b, 2)
    out = {}
    for j, (key, target) in enumerate((("", valence), ("_arousal", arousal))):
        ra = pearson(Pa.scores[:, :, j], target)
        sa = np.where(ra < 0, -1.0, 1.0)
        agree = np.sign((Pb.axes[:, j] * Pa.axes[:, j] * sa[:, None]).sum(axis=1))
        agree = np.where(agree == 0, 1.0, agree)
        out["a" + key] = np.abs(ra)
        out["b" + key] = pearson(Pb.scores[:, :, j], target) * agree
    return out


def split_half_r(units, counts, rng: np.random.Generator, valence, arousal, bases) -> list[dict]:
    """Per condition (one per entry of ``bases``; None = no projection): half A's aligned r and
    half B's r signed by A, for PC1-valence (``a``, ``b``) and PC2-arousal (``a_arousal``, ``b_arousal``)."""
    half_a, half_b = split_half(rng, counts)
    X_a, X_b = _half_means(units, half_a), _half_means(units, half_b)
    return [_signed_r(_condition(X_a, basis), _condition(X_b, basis), valence, arousal) for basis in bases]


def _value(x):
    x = float(x)
    return None if math.isnan(x) else x


def _argmax(values) -> int | None:
    values = np.asarray(values, dtype=np.float64)
    return None if np.isnan(values).all() else int(np.nanargmax(values))


def peak_summary(cols: dict, layers, depth, split: dict | None, n: int) -> dict:
    """The peak PC1-valence layer (split-half when ``split``), the arousal peak, and the lexical baseline."""
    out: dict = {}
    for name, key, prefix in (("pc1_valence", "", "peak"), ("pc2_arousal", "_arousal", "arousal_peak")):
        j = _argmax(split["a" + key] if split else cols[f"{name}_r"])
        if j is None:
            out[f"{prefix}_layer"] = None
            continue
        out.update({
            f"{prefix}_layer": int(layers[j]), f"{prefix}_depth": float(depth[j]),
            f"{prefix}_r": _value(cols[f"{name}_r"][j]), f"{prefix}_p": _value(cols[f"{name}_p"][j]),
            f"{prefix}_ci_low": _value(cols[f"{name}_ci_low"][j]), f"{prefix}_ci_high": _value(cols[f"{name}_ci_high"][j]),
            f"{prefix}_p_perm": _value(cols[f"{name}_p_perm"][j]), f"{prefix}_q": _value(cols[f"{name}_q"][j]),
            f"{prefix}_r_half_a": _value(split["a" + key][j]) if split else None,
            f"{prefix}_r_other_half": _value(split["b" + key][j]) if split else None,
            f"{prefix}_p_other_half": _value(pearson_p(split["b" + key][j], n)) if split else None,
        })
    out["peak_selection"] = ("split half by story: chosen on half A, r reported on half B" if split
                             else "maximum over layers on all stories (no split half)")
    if out.get("peak_layer") is not None:
        j = list(layers).index(out["peak_layer"])
        out["peak_max_stat_p"] = _value(cols["pc1_valence_p_maxstat"][j])
        out["peak_valence_cv_r"] = _value(cols["valence_cv_r"][j])
        out["peak_pc1_explained"] = _value(cols["pc1_explained"][j])
    if out.get("arousal_peak_layer") is not None:
        j = list(layers).index(out["arousal_peak_layer"])
        out["arousal_best_pc"] = int(cols["best_arousal_pc"][j])
        out["arousal_best_r"] = _value(cols["best_arousal_r"][j])
    out.update({"baseline_layer": int(layers[0]), "baseline_pc1_valence_r": _value(cols["pc1_valence_r"][0]),
                "baseline_valence_cv_r": _value(cols["valence_cv_r"][0])})
    j = _argmax(cols["valence_cv_r"])
    out["best_cv_layer"] = None if j is None else int(layers[j])
    out["best_cv_r_uncorrected"] = None if j is None else _value(cols["valence_cv_r"][j])
    return out
