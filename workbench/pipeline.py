"""``run``: the main job from Python (what ``workbench run`` does), returning everything it made.

    result = wb.run(model, "bundled", emotions=20, bootstrap=200)
    result.report                 # a table in Jupyter
    result.figures["pca"]         # plotly Figures: pca, depth, cka, cosine

Settings are the fields of :class:`~workbench.collect.config.CollectConfig` (how
to read the stories) and of :class:`~workbench.analysis.settings.AnalysisSettings`
(the statistics), passed by name; each dataclass validates its own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.errors import InputError, WorkbenchError

if TYPE_CHECKING:
    from workbench.analysis.report import GeometryReport
    from workbench.analysis.vectors import EmotionVectors
    from workbench.collect.activations import StoryActivations
    from workbench.data.corpus import Corpus
    from workbench.data.ratings import Ratings
    from workbench.models.adapter import ModelAdapter
    from workbench.report.tokens import TokenView

__all__ = ["run", "RunResult", "split_settings", "select_corpus", "STAGES"]

STAGES = ("load the model and collect", "emotion vectors and analysis", "token view", "report")
_NOT_SETTINGS = ("model", "corpus", "neutral")  # run()'s own arguments


def split_settings(settings: dict):
    """``(CollectConfig fields, AnalysisSettings)`` from keyword settings; an unknown name is an error."""
    from workbench.analysis.settings import AnalysisSettings
    from workbench.collect.config import CollectConfig

    collect_names = {f.name for f in dataclasses.fields(CollectConfig)} - set(_NOT_SETTINGS)
    analysis_names = {f.name for f in dataclasses.fields(AnalysisSettings)}
    unknown = sorted(set(settings) - collect_names - analysis_names)
    if unknown:
        raise InputError(f"unknown setting(s) {unknown}; collect settings: {sorted(collect_names)}; "
                         f"analysis settings: {sorted(analysis_names)}")
    return ({k: v for k, v in settings.items() if k in collect_names},
            AnalysisSettings(**{k: v for k, v in settings.items() if k in analysis_names}))


@dataclass(frozen=True, eq=False)
class RunResult:
    """What :func:`run` made: ``activations`` (stories and neutral texts), ``vectors``, ``report``,
    the ``model`` and ``corpus`` it ran on, the ``ratings``, and with ``out`` the run folder
    (``out``, ``report_path``, ``token_view``)."""

    model: ModelAdapter
    corpus: Corpus
    activations: StoryActivations
    vectors: EmotionVectors
    report: GeometryReport
    ratings: Ratings
    out: Path | None = None
    report_path: Path | None = None
    token_view: TokenView | None = None

    @cached_property
    def figures(self) -> dict:
        """The report's figures: ``pca`` (slider over layers), ``depth``, ``cka``, ``cosine``."""
        from workbench.figures import cka_figure, cka_null_levels, cosine_figure, depth_figure, pca_figure

        off = self.report.condition(False)
        label = {"model": self.model.name, "corpus": self.corpus.name}
        return {"pca": pca_figure(self.vectors, self.ratings, self.report),
                "depth": depth_figure([(label, self.report.layers_table())]),
                "cka": cka_figure(off.cka_debiased, off.cka_biased, cka_null_levels(self.report), self.report.layers),
                "cosine": cosine_figure(off.valence_cosine, self.report.layers)}

    def _repr_html_(self) -> str:
        return self.report._repr_html_()


def select_corpus(corpus: Corpus | str, emotions: int | None, drop_flagged: bool) -> Corpus:
    from workbench.data.corpus import Corpus, load_corpus

    chosen = corpus if isinstance(corpus, Corpus) else load_corpus(corpus)
    if emotions is not None:
        chosen = chosen.head(emotions)
    if drop_flagged:
        from workbench.data.validate import drop_flagged as drop
        from workbench.data.validate import validate

        chosen = drop(chosen, validate(chosen), kinds=("names_emotion", "duplicate", "empty"))
    return chosen


def check_analysis_inputs(corpus, config, ratings, settings) -> None:
    """What the analysis after a collect will refuse, checked before the collect: corpus emotions
    without a rating, and resampling counts too large for the memory available."""
    from workbench.analysis.memory import check_memory
    from workbench.collect.config import parse_layers

    unrated = [e for e in corpus.emotions if e not in ratings.emotions]
    if unrated:
        raise InputError(f"corpus {corpus.name}: {len(unrated)} emotion(s) have no rating in the ratings file, so "
                         f"the analysis would refuse them after the collect: {unrated[:20]}")
    layers = parse_layers(config.layers)
    check_memory(len(corpus.emotions), max(corpus.stories_per_emotion().values(), default=1),
                 1 if layers == "all" else len(layers), settings.bootstrap, settings.permutations)


def _model(model: ModelAdapter | str, config) -> ModelAdapter:
    if not isinstance(model, str):
        return model
    from workbench.models import load_model

    return load_model(model, backend=config.backend, dtype=config.dtype, device=config.device)


def run(model: ModelAdapter | str, corpus: Corpus | str = "bundled", neutral: str | Sequence[str] = "bundled",
        out: str | Path | None = None, *, ratings: Ratings | str | Path | None = None,
        neutral_variance: float = 0.5, token_view: bool = True, progress: bool = True,
        on_stage: Callable[[int, str], None] | None = None, **settings) -> RunResult:
    """Collect, emotion vectors, analysis and (with ``out``) token view and report, as ``workbench run``.

    Args:
        model: a loaded :class:`~workbench.models.ModelAdapter`, or a name for ``load_model``
            (then ``backend``, ``dtype`` and ``device`` are settings).
        corpus: a ``Corpus`` or a source for ``load_corpus`` (``"bundled"``, a path, ``hf:...``).
        neutral: ``"bundled"``, ``"none"``, a JSONL path, or a list of texts.
        out: a run folder to write (collect reused or resumed, vectors, analysis, token view,
            ``report.html``); ``None`` keeps everything in memory.
        ratings: a ``Ratings`` or a CSV path (default the project's).
        on_stage: called as ``on_stage(i, detail)`` when stage ``STAGES[i]`` begins.
        **settings: fields of ``CollectConfig`` (``emotions``, ``token_offset``, ``layers``, ...)
            and of ``AnalysisSettings`` (``bootstrap``, ``permutations``, ``seed``, ...).
    """
    from workbench.collect.config import CollectConfig, parse_layers
    from workbench.data.ratings import Ratings, load_ratings

    collect_fields, analysis = split_settings(settings)
    name = model if isinstance(model, str) else model.name
    config = CollectConfig(model=name, corpus=str(getattr(corpus, "name", corpus)), **collect_fields)
    ratings = ratings if isinstance(ratings, Ratings) else load_ratings(ratings)  # fails before the long stages
    stage = on_stage or (lambda i, detail: None)
    out = None if out is None else Path(out)
    stage(0, f"{name} on corpus {config.corpus}, neutral texts "
             f"{neutral if isinstance(neutral, (str, Path)) else 'given'}{f' -> {out}' if out else ''}")
    chosen = select_corpus(corpus, config.emotions, config.drop_flagged)
    check_analysis_inputs(chosen, config, ratings, analysis)  # before the model loads and the collect runs
    from workbench.analysis import (  # after the corpus: its errors come before torch loads
        analyze,
        emotion_vectors,
    )
    from workbench.collect import collect

    adapter = _model(model, config)
    acts = collect(adapter, chosen, neutral=None if neutral in (None, "none") else neutral,
                   layers=parse_layers(config.layers), token_offset=config.token_offset,
                   max_length=config.max_length, max_tokens_per_batch=config.max_tokens_per_batch,
                   on_short=config.on_short, read_as=config.read_as, out=out, checkpoint_every=config.checkpoint_every, progress=progress)
    stories, neutral_acts = acts.stories, acts.neutral
    stage(1, f"{len(acts)} texts, {len(acts.layers)} layers, {analysis.bootstrap} bootstrap resamples")
    vectors = emotion_vectors(stories, neutral_acts, neutral_variance)
    report = analyze(vectors, ratings, stories, progress=progress,
                     baselines=story_baselines(chosen, stories, vectors.emotions), settings=analysis)
    if out is None:
        return RunResult(adapter, chosen, acts, vectors, report, ratings)
    from workbench.analysis.persist import save_vectors

    # the analysis records the sha256 of the vectors it analysed, as `workbench analyze` does
    report = dataclasses.replace(report, inputs={**report.inputs,
                                                 "emotion_vectors.safetensors sha256": save_vectors(vectors, out)})
    report.save(out)
    view = _token_view(adapter, out, neutral, ratings, report, stage) if token_view else None
    stage(3, "")
    from workbench.report import write_report

    path = write_report(out, ratings=ratings)
    return RunResult(adapter, chosen, acts, vectors, report, ratings, out, path, view)


def story_baselines(corpus, stories, emotions) -> dict:
    """The no-model baseline features (bag of words, VADER) of the stories that were collected."""
    from workbench.analysis.baseline import text_features

    text = {(s.source, s.line, s.number): s.text for s in corpus.stories}
    texts = [text[(m.get("source"), m.get("line"), m.get("story"))] for m in stories.meta]
    return text_features(texts, [m.get("emotion") for m in stories.meta], emotions)


def peak_layer(report) -> int | None:
    """The peak PC1-valence layer of the report's first condition (the one place this module reads the peak)."""
    return report.peak.layer


def _token_view(model, out: Path, neutral, ratings, report, stage):
    """The token view saved into ``out``; optional: when it cannot be made, the report says it is absent."""
    import logging

    from workbench.collect.run import neutral_texts
    from workbench.report import make_token_view

    stage(2, f"layer {peak_layer(report)}")
    try:
        texts = None if neutral in (None, "none", "bundled") else neutral_texts(neutral)
        view = make_token_view(model, out, neutral_texts=texts, ratings=ratings)
    except WorkbenchError as exc:
        logging.getLogger(__name__).warning("token view not made: %s", exc)
        return None
    view.save(out)
    return view
