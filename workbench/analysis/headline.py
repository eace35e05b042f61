"""Per-layer resampling statistics and the headline :class:`~workbench.analysis.peak.Peak` of each rating.

Everything here takes arrays of one neutral-projection setting; ``analyze`` calls it once per setting.
"""

from __future__ import annotations

import warnings

import numpy as np

from workbench.analysis.pca import pca
from workbench.analysis.peak import Peak, fixed_position, nan_peak
from workbench.analysis.selection import crossfit, crossfit_summary, selection_interval
from workbench.analysis.stats import bh_fdr, fisher_ci, maxstat_p, pearson, pearson_p, permutation_p
from workbench.analysis.valence import ridge_heldout

__all__ = ["pc_stats", "resampling_columns", "make_peak", "draw_counts"]

TARGETS = (("valence", 0), ("arousal", 1))  # rating, and the PC read for it (0-based)


def _best(absr: np.ndarray):
    """Per row of ``absr`` ``[..., k]``: the 0-based position of the maximum (NaN ignored; -1: none) and it."""
    filled = np.where(np.isnan(absr), -1.0, absr)
    j = filled.argmax(axis=-1)
    top = np.take_along_axis(absr, j[..., None], axis=-1)[..., 0]
    none = np.isnan(absr).all(axis=-1)
    return np.where(none, -1, j), np.where(none, np.nan, top)


def pc_stats(X: np.ndarray, valence: np.ndarray, arousal: np.ndarray, n_pcs: int, layers=None):
    """Sign-aligned PCA of ``X`` ``[L, n, d]`` and the correlations of its PCs with the ratings.

    A component with no variance (a constant PC, a layer of zeros) has no r: NaN, with a warning
    naming the layer. ``layers`` names the positions in that warning (default 0..L-1).
    """
    L, n = X.shape[0], X.shape[1]
    k = min(max(n_pcs, 4), n - 1)  # n centred rows span at most n - 1 dimensions
    P = pca(X, k)
    rv = pearson(P.scores.transpose(0, 2, 1), valence)  # [L, k]
    ra = pearson(P.scores.transpose(0, 2, 1), arousal)
    null = P.explained < 1e-10  # numerically empty components carry no direction
    rv, ra = np.where(null, np.nan, rv), np.where(null, np.nan, ra)
    names = list(range(L)) if layers is None else list(layers)
    for j, what in ((0, "PC1"), (1, "PC2")):
        empty = [names[i] for i in np.flatnonzero(null[:, j])]
        if empty:
            warnings.warn(f"layer(s) {empty}: {what} has no variance (constant or zero vectors); its statistics "
                          "are NaN", RuntimeWarning, stacklevel=2)
    signs = np.ones(rv.shape)
    signs[:, 0] = np.where(rv[:, 0] < 0, -1.0, 1.0)
    signs[:, 1] = np.where(ra[:, 1] < 0, -1.0, 1.0)
    kk = min(n_pcs, k)
    cols = {
        "pc1_valence_r": np.abs(rv[:, 0]), "pc1_valence_p": pearson_p(rv[:, 0], n), "pc1_flipped": signs[:, 0] < 0,
        "pc2_arousal_r": np.abs(ra[:, 1]), "pc2_arousal_p": pearson_p(ra[:, 1], n), "pc2_flipped": signs[:, 1] < 0,
        "pc1_explained": P.explained[:, 0], "pc2_explained": P.explained[:, 1],
    }
    for name, r in (("valence", rv), ("arousal", ra)):
        j, top = _best(np.abs(r[:, :kk]))
        cols[f"best_{name}_pc"], cols[f"best_{name}_r"] = j + 1, top
    return P.flipped(signs), cols


def resampling_columns(cols: dict, P, boot, perms, valence, arousal, ci: float, n_pcs: int) -> dict:
    """Bootstrap CI, permutation p, BH q and the max-statistic p per layer; the best-PC p (the permutation
    null of the maximum |r| over the first ``n_pcs`` PCs, so the choice among PCs is paid for)."""
    kk = min(n_pcs, P.scores.shape[2])
    for j, (name, target) in enumerate((("pc1_valence", valence), ("pc2_arousal", arousal))):
        observed = cols[f"{name}_r"]
        low, high = fisher_ci(observed, boot[:, :, j], ci)
        shuffled = target[perms][:, None, :]  # [B, 1, n]
        null = np.abs(pearson(P.scores[None, :, :, j], shuffled))  # [B, L]
        null = np.where(np.isnan(observed)[None], np.nan, null)
        p_perm = permutation_p(observed, null)
        cols.update({f"{name}_ci_low": low, f"{name}_ci_high": high, f"{name}_p_perm": p_perm,
                     f"{name}_q": bh_fdr(p_perm), f"{name}_p_maxstat": maxstat_p(observed, null)})
        rating = name.split("_")[1]
        best = np.full(null.shape, np.nan)
        for pc in range(kk):
            r = np.abs(pearson(P.scores[None, :, :, pc], shuffled))
            r = np.where((P.explained[:, pc] < 1e-10)[None], np.nan, r)
            best = np.fmax(best, r)
        cols[f"best_{rating}_p"] = permutation_p(cols[f"best_{rating}_r"], best)
    return cols


def draw_counts(emotions: np.ndarray, n: int) -> np.ndarray:
    """``[B, n]``: how often each emotion was drawn in each bootstrap replicate."""
    B = emotions.shape[0]
    out = np.zeros((B, n))
    np.add.at(out, (np.repeat(np.arange(B), emotions.shape[1]), emotions.ravel()), 1.0)
    return out


def make_peak(target: str, cols: dict, P, X, y, weights, splits, layers, depth, settings, by_topic=None):
    """The :class:`Peak` of ``target`` and the per-layer share of the cross-fit choices ``[L]``.

    ``weights`` ``[B, n]``: the bootstrap replicates' draw counts of the emotions; ``splits`` ``[S, n]``
    the random halves of the emotions; ``by_topic`` ``[S, 2, L, n]`` the PC's scores through each split's
    topic halves (:func:`~workbench.analysis.selection.topic_scores`; ``split_by="topics"`` only).
    """
    pc = dict(TARGETS)[target]
    name = ("pc1_valence", "pc2_arousal")[pc]
    L = len(layers)
    scores = P.scores[:, :, pc]  # [L, n], signed as reported
    explained = P.explained[:, pc]
    scores = np.where((explained < 1e-10)[:, None], 0.0, scores)  # no variance: no r, never chosen
    if by_topic is not None:
        by_topic = np.where((explained < 1e-10)[None, None, :, None] & np.isfinite(by_topic), 0.0, by_topic)
    fit = crossfit(scores[None], y, splits, by_topic=by_topic)
    summary = crossfit_summary(fit, L)
    fixed = settings.peak_depth is not None
    held_out = "the emotions" if by_topic is None else "the emotions and of the story topics"
    selection = (f"fixed in advance at depth {settings.peak_depth:g}" if fixed else
                 f"cross-fit: chosen on half {held_out}, r on the other half, over {len(splits)} random splits "
                 "both ways")
    j = fixed_position(depth, settings.peak_depth) if fixed else summary["position"]
    if j is None or np.isnan(cols[f"{name}_r"][j]):
        return nan_peak(target, pc + 1, selection), summary["share"]
    pct = f"{100 * settings.ci:.0f}%"
    if fixed:
        r, low, high = cols[f"{name}_r"][j], cols[f"{name}_ci_low"][j], cols[f"{name}_ci_high"][j]
        spread, share = (np.nan, np.nan), 1.0
        interval = f"{pct} bootstrap interval of this layer's |r| ({settings.bootstrap_scheme} resampled)"
        ridge_r = np.nan
    else:
        r, spread, share = summary["r"], summary["spread"], float(summary["share"][j])
        low, high, _ = selection_interval(scores, y, splits, weights, settings.ci, by_topic)
        interval = (f"{pct} selection-aware: bootstrap over emotions of the whole select-then-estimate "
                    "procedure (the layer chosen again in every replicate), its error taken against what each "
                    "replicate chose; covers the population r of these PC directions at the chosen layers "
                    "(calibrated by simulation: docs/statistics.md)")
        ridge_r = np.nan
        if target == "valence":
            held = ridge_heldout(X, y, splits, fit.chosen[0])
            ridge_r = float(np.nanmedian(held)) if np.isfinite(held).any() else np.nan
    peak = Peak(target, pc + 1, int(layers[j]), float(depth[j]), selection, float(r), float(low), float(high),
                interval, float(cols[f"{name}_p_maxstat"][j]), float(cols[f"{name}_p_perm"][j]),
                float(cols[f"{name}_q"][j]), float(cols[f"{name}_r"][j]), float(spread[0]), float(spread[1]),
                share, ridge_r, float(cols["valence_cv_r"][j]) if target == "valence" else np.nan,
                int(cols[f"best_{target}_pc"][j]), float(cols[f"best_{target}_r"][j]),
                float(cols[f"best_{target}_p"][j]), float(explained[j]))
    return peak, summary["share"]
