"""``analyze``: the geometry of emotion vectors against human valence and arousal, with honest statistics.

Pure (no model, no files). METHOD.md section 5. For each neutral-projection
setting (off, and on when the vectors carry a neutral basis) and each layer:
PCA, PC1-valence and PC2-arousal r (PC signs aligned so r >= 0, flips
recorded) with parametric p, bootstrap CI, permutation p, Benjamini-Hochberg
q across layers and a max-statistic (family-wise) permutation p; the PC that
fits arousal best among the first ``n_pcs``; a cross-validated ridge valence
axis; cosines of those axes and linear CKA (debiased and biased, with a
shuffled-rows null band) between all layer pairs. The peak layer is chosen on
one random half of each emotion's stories and its r reported on the other half.
"""

from __future__ import annotations

import time

import numpy as np
from tqdm.auto import tqdm

from workbench.analysis.bootstrap import Condition, bootstrap_pc_r
from workbench.analysis.cka import cka_matrix, cka_null_band
from workbench.analysis.pca import pca
from workbench.analysis.prepare import prepare
from workbench.analysis.report import ConditionResult, GeometryReport
from workbench.analysis.selection import peak_summary, split_half_r
from workbench.analysis.settings import AnalysisSettings
from workbench.analysis.stats import (
    bh_fdr,
    bootstrap_draws,
    fisher_ci,
    maxstat_p,
    pearson,
    pearson_p,
    permutation_draws,
    permutation_p,
)
from workbench.analysis.threads import single_threaded
from workbench.analysis.valence import kfold_indices, ridge_valence
from workbench.analysis.vectors import to_numpy

__all__ = ["analyze", "rng_streams", "pc_stats"]

STREAMS = ("bootstrap", "permutation", "split", "cv", "cka", "eig")


def rng_streams(seed: int) -> dict[str, np.random.Generator]:
    """The independent random streams of one analysis (tests replay them)."""
    children = np.random.SeedSequence(seed).spawn(len(STREAMS))
    return {name: np.random.default_rng(child) for name, child in zip(STREAMS, children)}


def pc_stats(X: np.ndarray, valence: np.ndarray, arousal: np.ndarray, n_pcs: int):
    """Sign-aligned PCA of ``X`` ``[L, n, d]`` and the correlations of its PCs with the ratings."""
    n = X.shape[1]
    k = min(max(n_pcs, 4), n - 1)  # n centred rows span at most n - 1 dimensions
    P = pca(X, k)
    rv = pearson(P.scores.transpose(0, 2, 1), valence)  # [L, k]
    ra = pearson(P.scores.transpose(0, 2, 1), arousal)
    null = P.explained < 1e-10  # numerically empty components carry no direction
    rv, ra = np.where(null, np.nan, rv), np.where(null, np.nan, ra)
    signs = np.ones(rv.shape)
    signs[:, 0] = np.where(rv[:, 0] < 0, -1.0, 1.0)
    signs[:, 1] = np.where(ra[:, 1] < 0, -1.0, 1.0)
    absa = np.abs(ra[:, :min(n_pcs, k)])
    best = np.where(np.isnan(absa).all(axis=1), -1, np.nanargmax(np.nan_to_num(absa, nan=-1.0), axis=1))
    cols = {
        "pc1_valence_r": np.abs(rv[:, 0]), "pc1_valence_p": pearson_p(rv[:, 0], n), "pc1_flipped": signs[:, 0] < 0,
        "pc2_arousal_r": np.abs(ra[:, 1]), "pc2_arousal_p": pearson_p(ra[:, 1], n), "pc2_flipped": signs[:, 1] < 0,
        "best_arousal_pc": best + 1, "best_arousal_r": np.nanmax(np.nan_to_num(absa, nan=-1.0), axis=1),
        "pc1_explained": P.explained[:, 0], "pc2_explained": P.explained[:, 1],
    }
    return P.flipped(signs), cols


def analyze(vectors, ratings, story_acts=None, *, bootstrap: int = 1000, permutations: int = 1000, seed: int = 0,
            exclude_estimated: bool = False, n_pcs: int = 5, cv_folds: int = 5, cka_shuffles: int = 200,
            ci: float = 0.95, progress: bool = True, workers: int | None = None) -> GeometryReport:
    """Analyze ``vectors`` (:class:`EmotionVectors`) against ``ratings`` (:class:`Ratings`).

    With ``story_acts`` (the stories the vectors were built from) the bootstrap also
    resamples stories within emotions and the peak layer is chosen by split half;
    without, emotions only are resampled and the peak is the full-data maximum.
    ``workers`` threads share the bootstrap's layers (default: the CPU count, at most
    4); every library runs single-threaded inside them.
    """
    settings = AnalysisSettings(bootstrap, permutations, seed, exclude_estimated, n_pcs, cv_folds, cka_shuffles, ci)
    with single_threaded():
        return _analyze(vectors, ratings, story_acts, settings, progress, workers)


def _analyze(vectors, ratings, story_acts, settings: AnalysisSettings, progress: bool, workers) -> GeometryReport:
    bootstrap, permutations, seed = settings.bootstrap, settings.permutations, settings.seed
    n_pcs, cv_folds, cka_shuffles, ci = settings.n_pcs, settings.cv_folds, settings.cka_shuffles, settings.ci
    timings: dict[str, float] = {}
    t0 = tick = time.perf_counter()

    def lap(name):
        nonlocal tick
        now = time.perf_counter()
        timings[name] = round(now - tick, 3)
        tick = now

    data = prepare(vectors, ratings, story_acts, settings.exclude_estimated)
    vec = data.vectors
    n, L = len(vec.emotions), len(vec.layers)
    rngs = rng_streams(seed)
    notes = []
    setups = [(False, to_numpy(vec.contrast), None)]
    if vec.has_projection:
        setups.append((True, to_numpy(vec.projected), to_numpy(vec.neutral_basis)))
    else:
        notes.append("no neutral texts: neutral projection off only")
    if data.units is None:
        notes.append("no story activations: the bootstrap resamples emotions only, and the peak layer is the "
                     "maximum over all layers on all stories (no split half)")
    n_model = vec.n_model_layers or (max(vec.layers) + 1)
    depth = np.array(vec.layers, dtype=np.float64) / max(n_model - 1, 1)
    lap("prepare")

    pcs = [pc_stats(X, data.valence, data.arousal, n_pcs) for _, X, _ in setups]
    lap("pca")

    draws = bootstrap_draws(rngs["bootstrap"], bootstrap, n, data.counts)
    units = data.units if data.units is not None else vec.contrast.transpose(0, 1)
    conds = [Condition(basis, P.axes[:, :2], P.eigvecs[:, :, :3]) for (_, _, basis), (P, _) in zip(setups, pcs)]
    with tqdm(total=L * bootstrap, desc="bootstrap", unit="resample", disable=not progress, leave=False) as bar:
        boot, n_exact = bootstrap_pc_r(units, draws, data.valence, data.arousal, conds,
                                       seed=int(rngs["eig"].integers(2**62)), workers=workers,
                                       progress=bar.update)
    lap("bootstrap")

    perms = permutation_draws(rngs["permutation"], permutations, n)
    folds_n = min(cv_folds, n // 3)
    folds = kfold_indices(rngs["cv"], n, folds_n) if folds_n >= 2 else None
    if folds is None:
        notes.append(f"{n} emotions: too few for cross-validation; valence_cv_r is not computed")
    split = None
    if data.units is not None:
        split = split_half_r(data.units, data.counts, rngs["split"], data.valence, data.arousal,
                             [basis for _, _, basis in setups])
    lap("permutations_split")

    results = []
    for c, ((flag, X, _), (P, cols)) in enumerate(zip(setups, pcs)):
        began = time.perf_counter()
        cols = _resampling_columns(dict(cols), P, boot[c], perms, data.valence, data.arousal, ci)
        cols["split_a_pc1_valence_r"] = split[c]["a"] if split else np.full(L, np.nan)
        cols["split_b_pc1_valence_r"] = split[c]["b"] if split else np.full(L, np.nan)
        cols["neutral_k"] = np.array(vec.neutral_k, dtype=float) if flag else np.full(L, np.nan)
        if folds is not None:
            ridge = ridge_valence(X, data.valence, rngs["cv"], folds=folds)
            cols["valence_cv_r"], cols["valence_alpha"], directions = ridge.cv_r, ridge.alpha, ridge.directions
        else:
            cols["valence_cv_r"] = cols["valence_alpha"] = np.full(L, np.nan)
            directions = np.full((L, X.shape[2]), np.nan)
        band = cka_null_band(X, cka_shuffles, rngs["cka"], ci)
        results.append(ConditionResult(
            flag, cols, directions, directions @ directions.T, cka_matrix(X, True), cka_matrix(X, False),
            np.stack(band["debiased"][:2]), np.stack(band["biased"][:2]),
            peak_summary(cols, vec.layers, depth, split[c] if split else None, n)))
        timings[f"statistics_{'on' if flag else 'off'}"] = round(time.perf_counter() - began, 3)
    timings["total"] = round(time.perf_counter() - t0, 3)
    timings["bootstrap_exact_eigensolves"] = n_exact
    run_settings = dict(
        settings.to_dict(), cv_folds_used=folds_n if folds is not None else 0, story_bootstrap=data.units is not None,
        neutral_variance=vec.neutral_variance,
        ci_method="bootstrap standard error in Fisher z, centred on the estimate",
        p_perm="two-sided (|r|), ratings shuffled; q: Benjamini-Hochberg across layers; p_maxstat: max over layers",
        ridge_penalty="leave-one-out on the training emotions; grid relative to the layer's mean squared norm",
        peak_selection="split half by story" if split else "maximum over layers (no story activations)")
    return GeometryReport(vec.emotions, vec.layers, depth, n_model, tuple(results), run_settings, data.excluded,
                          tuple(notes), timings, {"ratings sha256": getattr(ratings, "sha256", ""),
                          **({"vectors imported from": vec.source} if vec.source else {})})


def _resampling_columns(cols: dict, P, boot, perms, valence, arousal, ci: float) -> dict:
    """Bootstrap CI, permutation p, BH q (and for PC1 the max-statistic p) per layer."""
    for j, (name, target) in enumerate((("pc1_valence", valence), ("pc2_arousal", arousal))):
        observed = cols[f"{name}_r"]
        low, high = fisher_ci(observed, boot[:, :, j], ci)
        null = np.abs(pearson(P.scores[None, :, :, j], target[perms][:, None, :]))  # [B, L]
        p_perm = permutation_p(observed, null)
        cols.update({f"{name}_ci_low": low, f"{name}_ci_high": high, f"{name}_p_perm": p_perm,
                     f"{name}_q": bh_fdr(p_perm)})
        if j == 0:
            cols["pc1_valence_p_maxstat"] = maxstat_p(observed, null)
    return cols
