"""``analyze``: the geometry of emotion vectors against human valence and arousal, with honest statistics.

Pure (no model, no files). METHOD.md section 5. For each neutral-projection
setting (off, and on when the vectors carry a neutral basis) and each layer:
PCA, PC1-valence and PC2-arousal r (PC signs aligned so r >= 0, flips
recorded) with parametric p, bootstrap CI (emotions resampled, each keeping its
stories; the emotions-then-stories scheme only on request), permutation p,
Benjamini-Hochberg q across layers and a max-statistic (family-wise)
permutation p; the PC that fits valence (and arousal) best among the first
``n_pcs``, with a permutation p for that choice; a cross-validated ridge valence
axis; cosines of those axes and linear CKA (debiased and biased, with a
shuffled-rows null band) between all layer pairs. The headline layer of each
rating is chosen on half the emotions and reported on the other half, cross-fit
over many splits, with an interval from bootstrapping the whole procedure
(:mod:`workbench.analysis.peak`), or fixed in advance by fractional depth.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm.auto import tqdm

from workbench.analysis.bootstrap import Condition, bootstrap_pc_r
from workbench.analysis.cka import cka_matrix, cka_null_band
from workbench.analysis.headline import draw_counts, make_peak, pc_stats, resampling_columns
from workbench.analysis.prepare import prepare
from workbench.analysis.report import ConditionResult, GeometryReport
from workbench.analysis.selection import emotion_splits, topic_scores, topic_splits
from workbench.analysis.settings import AnalysisSettings
from workbench.analysis.stats import bootstrap_draws, permutation_draws
from workbench.analysis.threads import single_threaded
from workbench.analysis.valence import kfold_indices, ridge_valence
from workbench.analysis.vectors import to_numpy
from workbench.errors import InputError

if TYPE_CHECKING:
    from workbench.analysis.vectors import EmotionVectors
    from workbench.collect.activations import StoryActivations
    from workbench.data.ratings import Ratings

__all__ = ["analyze", "rng_streams", "pc_stats"]

STREAMS = ("bootstrap", "permutation", "split", "cv", "cka", "eig")


def rng_streams(seed: int) -> dict[str, np.random.Generator]:
    """The independent random streams of one analysis (tests replay them)."""
    children = np.random.SeedSequence(seed).spawn(len(STREAMS))
    return {name: np.random.default_rng(child) for name, child in zip(STREAMS, children)}


def analyze(vectors: EmotionVectors, ratings: Ratings, story_acts: StoryActivations | None = None,
            settings: AnalysisSettings | None = None, *, bootstrap: int | None = None,
            permutations: int | None = None, seed: int | None = None, exclude_estimated: bool | None = None,
            n_pcs: int | None = None, cv_folds: int | None = None, cka_shuffles: int | None = None,
            ci: float | None = None, bootstrap_scheme: str | None = None, splits: int | None = None,
            split_by: str | None = None, peak_depth: float | None = None, baselines: dict | None = None,
            progress: bool = True, workers: int | None = None) -> GeometryReport:
    """Analyze ``vectors`` (:class:`EmotionVectors`) against ``ratings`` (:class:`Ratings`).

    ``settings`` (:class:`AnalysisSettings`, default its defaults: the one place they are set) with
    the keyword settings given here (not None) replacing its fields, e.g. ``bootstrap=200``.

    ``bootstrap_scheme``: ``"emotions"`` resamples emotions, each keeping its stories (the
    default, calibrated in docs/statistics.md); ``"hierarchical"`` also resamples the stories
    within each emotion (needs ``story_acts``, the stories the vectors were built from; its
    intervals are about twice too wide). ``splits``: random halves of the emotions for the
    cross-fitted peak (``split_by="topics"``: halves of the story topics too, read from ``story_acts``'
    topics); ``peak_depth`` fixes the peak layer in advance instead. ``baselines``:
    ``{name: [n_emotions, d] features}`` with no model in them (:mod:`workbench.analysis.baseline`),
    in the order of ``vectors.emotions``, given the same statistics. ``workers`` threads share the
    bootstrap's layers (default: the CPU count, at most 4).
    """
    given: dict[str, Any] = dict(
        bootstrap=bootstrap, permutations=permutations, seed=seed, exclude_estimated=exclude_estimated, n_pcs=n_pcs,
        cv_folds=cv_folds, cka_shuffles=cka_shuffles, ci=ci, bootstrap_scheme=bootstrap_scheme, splits=splits,
        split_by=split_by, peak_depth=peak_depth)
    settings = dataclasses.replace(settings or AnalysisSettings(), **{k: v for k, v in given.items() if v is not None})
    with single_threaded():
        return _analyze(vectors, ratings, story_acts, settings, progress, workers, baselines)


def _analyze(vectors, ratings, story_acts, settings: AnalysisSettings, progress: bool, workers,
             baselines=None) -> GeometryReport:
    from workbench.analysis.baseline import baseline_stats

    bootstrap, permutations, seed = settings.bootstrap, settings.permutations, settings.seed
    n_pcs, cv_folds, cka_shuffles, ci = settings.n_pcs, settings.cv_folds, settings.cka_shuffles, settings.ci
    timings: dict[str, float] = {}
    t0 = tick = time.perf_counter()

    def lap(name):
        nonlocal tick
        now = time.perf_counter()
        timings[name] = round(now - tick, 3)
        tick = now

    # the story means are gathered only for what resamples or splits stories; otherwise they are streamed once
    data = prepare(vectors, ratings, story_acts, settings.exclude_estimated,
                   keep_units=settings.bootstrap_scheme == "hierarchical"
                   or settings.split_by == "topics")
    vec = data.vectors
    n, L = len(vec.emotions), len(vec.layers)
    rngs = rng_streams(seed)
    notes = []
    setups: list[tuple[bool, np.ndarray, np.ndarray | None]] = [(False, to_numpy(vec.contrast), None)]
    if vec.has_projection:
        setups.append((True, to_numpy(vec.projected), to_numpy(vec.neutral_basis)))
    else:
        notes.append("no neutral texts: neutral projection off only")
    hierarchical = settings.bootstrap_scheme == "hierarchical"
    if hierarchical and data.units is None:
        notes.append("bootstrap_scheme 'hierarchical' needs story activations: emotions were resampled only")
        hierarchical = False
    n_model = vec.n_model_layers or (max(vec.layers) + 1)
    depth = np.array(vec.layers, dtype=np.float64) / max(n_model - 1, 1)
    lap("prepare")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        pcs = [pc_stats(X, data.valence, data.arousal, n_pcs, vec.layers) for _, X, _ in setups]
    for w in {str(w.message): w for w in caught}.values():  # once per message, not once per condition
        warnings.warn(w.message, RuntimeWarning, stacklevel=2)
    lap("pca")

    draws = bootstrap_draws(rngs["bootstrap"], bootstrap, n, data.counts if hierarchical else None)
    units = data.units if hierarchical else vec.contrast.transpose(0, 1)
    conds = [Condition(basis, P.axes[:, :2], P.eigvecs[:, :, :3]) for (_, _, basis), (P, _) in zip(setups, pcs)]
    with tqdm(total=L * bootstrap, desc="bootstrap", unit="resample", disable=not progress, leave=False) as bar:
        boot, n_exact = bootstrap_pc_r(units, draws, data.valence, data.arousal, conds,
                                       seed=int(rngs["eig"].integers(2**62)), workers=workers, progress=bar.update)
    weights = draw_counts(draws.emotions, n)
    lap("bootstrap")

    perms = permutation_draws(rngs["permutation"], permutations, n)
    folds_n = min(cv_folds, n // 3)
    folds = kfold_indices(rngs["cv"], n, folds_n) if folds_n >= 2 else None
    if folds is None:
        notes.append(f"{n} emotions: too few for cross-validation; valence_cv_r is not computed")
    halves = emotion_splits(rngs["split"], n, settings.splits)
    topic_halves = _topic_halves(data, rngs["split"], settings) if settings.peak_depth is None else None
    lap("permutations_split")

    results = []
    for c, ((flag, X, _), (P, cols)) in enumerate(zip(setups, pcs)):
        began = time.perf_counter()
        empty = P.explained[:, :2] < 1e-10  # [L, 2]: no variance, no r, no interval
        boot[c] = np.where(empty[None], np.nan, boot[c])
        cols = resampling_columns(dict(cols), P, boot[c], perms, data.valence, data.arousal, ci, n_pcs)
        cols["neutral_k"] = np.array(vec.neutral_k, dtype=float) if flag else np.full(L, np.nan)
        if folds is not None:
            ridge = ridge_valence(X, data.valence, rngs["cv"], folds=folds)
            cols["valence_cv_r"], cols["valence_alpha"], directions = ridge.cv_r, ridge.alpha, ridge.directions
        else:
            cols["valence_cv_r"] = cols["valence_alpha"] = np.full(L, np.nan)
            directions = np.full((L, X.shape[2]), np.nan)
        peaks = {}
        for target, pc, y in (("valence", 0, data.valence), ("arousal", 1, data.arousal)):
            by_topic = None if topic_halves is None else _by_topic(data, P, pc, *topic_halves, n)
            peaks[target], share = make_peak(target, cols, P, X, y, weights, halves, vec.layers, depth, settings,
                                             by_topic)
            cols[f"{target}_chosen_share"] = share
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a layer of zeros: NaN CKA (warned about above)
            band = cka_null_band(X, cka_shuffles, rngs["cka"], ci)
            cka = cka_matrix(X, True), cka_matrix(X, False)
        results.append(ConditionResult(
            flag, cols, directions, directions @ directions.T, *cka,
            np.stack(band["debiased"][:2]), np.stack(band["biased"][:2]), peaks["valence"], peaks["arousal"],
            _block0(cols, vec.layers)))
        timings[f"statistics_{'on' if flag else 'off'}"] = round(time.perf_counter() - began, 3)
    base = {name: baseline_stats(F, data.valence, data.arousal, settings, perms, rngs["cv"])
            for name, F in _baseline_rows(baselines, vectors, vec).items()}
    timings["total"] = round(time.perf_counter() - t0, 3)
    timings["bootstrap_exact_eigensolves"] = n_exact
    run_settings = dict(
        settings.to_dict(), cv_folds_used=folds_n if folds is not None else 0, story_bootstrap=hierarchical,
        neutral_variance=vec.neutral_variance,
        ci_method="bootstrap standard error in Fisher z, centred on the estimate",
        p_perm="two-sided (|r|), ratings shuffled; q: Benjamini-Hochberg across layers; p_maxstat: max over layers",
        best_pc=f"the PC among the first {n_pcs} with the largest |r|; its p: the permutation null of that maximum",
        ridge_penalty="leave-one-out on the training emotions; grid relative to the layer's mean squared norm",
        peak_selection=results[0].peak.selection, peak_interval=results[0].peak.interval)
    return GeometryReport(vec.emotions, vec.layers, depth, n_model, tuple(results), run_settings, data.excluded,
                          tuple(notes), timings, {"ratings sha256": getattr(ratings, "sha256", ""),
                          **({"vectors imported from": vec.source} if vec.source else {})}, base)


def _block0(cols: dict, layers) -> dict:
    """The first analysed block's valence statistics: what the words of the stories give a model at once."""
    keys = ("pc1_valence_r", "pc1_valence_p_perm", "best_valence_pc", "best_valence_r", "best_valence_p",
            "valence_cv_r")
    return {"layer": int(layers[0]), **{k: cols[k][0].item() for k in keys}}


def _baseline_rows(baselines, given, analysed) -> dict:
    """The baseline features in the analysed emotions' order (after any exclusion)."""
    if not baselines:
        return {}
    index = [list(given.emotions).index(e) for e in analysed.emotions]
    return {name: np.asarray(F, dtype=np.float64)[index] for name, F in baselines.items()}


def _topic_halves(data, rng, settings: AnalysisSettings) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """With ``split_by="topics"``: each story's emotion and topic index and the random topic halves of the
    splits (drawn after the emotion halves, so those stay what they are without it)."""
    if settings.split_by != "topics":
        return None
    if data.units is None:
        raise InputError("analysis setting split_by 'topics' needs the story activations the vectors were built "
                         "from (their texts carry the topics)")
    missing = sum(t is None for t in data.topics)
    names = sorted({t for t in data.topics if t is not None})
    if missing or len(names) < 2:
        raise InputError(f"analysis setting split_by 'topics': {missing} stor(ies) have no topic and "
                         f"{len(names)} distinct topic(s) were found; it needs a topic on every story and "
                         "at least 2 topics")
    index = {t: i for i, t in enumerate(names)}
    unit_topic = np.array([index[t] for t in data.topics])
    unit_emotion = np.repeat(np.arange(len(data.counts)), data.counts)
    return unit_emotion, unit_topic, topic_splits(rng, len(names), settings.splits)


def _by_topic(data, P, pc: int, unit_emotion, unit_topic, halves, n: int) -> np.ndarray:
    """PC ``pc``'s scores of every emotion through each split's topic halves ``[S, 2, L, n]``. A story's
    score is its mean minus the mean over emotions, on the full-sample axis (which lies in the span of
    the emotion vectors, so the neutral projection, if on, changes nothing here)."""
    units = data.units.double().numpy()  # [U, L, d]
    centre = data.vectors.raw.double().numpy().mean(axis=1)  # [L, d]
    unit_scores = np.einsum("uld,ld->ul", units - centre[None], P.axes[:, pc])
    return topic_scores(unit_scores, unit_emotion, unit_topic, halves, n)
