"""Lining up the analysis inputs: vectors, ratings and (optionally) the story activations."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from workbench.analysis.checks import (
    MIN_EMOTIONS,
    check_finite,
    check_finite_vectors,
    emotion_sums,
    group_stories,
)
from workbench.errors import InputError

if TYPE_CHECKING:
    from workbench.analysis.vectors import EmotionVectors
    from workbench.collect.activations import StoryActivations
    from workbench.data.ratings import Ratings

__all__ = ["Prepared", "prepare"]


@dataclass(frozen=True)
class Prepared:
    vectors: EmotionVectors  # over the analysed emotions
    valence: np.ndarray
    arousal: np.ndarray
    excluded: tuple[str, ...]
    units: torch.Tensor | None  # [U, L, d] story means grouped by emotion, in vector order (when kept)
    counts: np.ndarray | None  # stories per emotion
    topics: tuple | None = None  # [U] each story's topic (None: a story without one)


def prepare(vectors: EmotionVectors, ratings: Ratings, story_acts: StoryActivations | None = None,
            exclude_estimated: bool = False, keep_units: bool = True) -> Prepared:
    """Check and line up the inputs. With ``story_acts``, the vectors must be their stories' means (checked a
    chunk of stories at a time); ``keep_units`` also gathers every story mean into ``units`` (the
    hierarchical bootstrap resamples them), which holds them all in memory."""
    unrated = [e for e in vectors.emotions if e not in ratings.emotions]
    if unrated:
        raise InputError(f"vectors and ratings do not match: {len(unrated)} emotion(s) of the vectors have no "
                         f"rating: {unrated}")
    rated = ratings.subset(vectors.emotions)
    excluded: tuple[str, ...] = ()
    if exclude_estimated:
        excluded = tuple(e for e, est in zip(rated.emotions, rated.is_estimated) if est)
        keep = [e for e in rated.emotions if e not in excluded]
        rated = rated.subset(keep)
        if excluded:
            vectors = vectors.select(keep)
    if len(vectors.emotions) < MIN_EMOTIONS:
        raise InputError(f"the analysis needs at least {MIN_EMOTIONS} emotions, got {len(vectors.emotions)}"
                         f"{' after excluding ' + str(list(excluded)) if excluded else ''}")
    for kind in ("raw", "contrast", "projected"):
        t = getattr(vectors, kind)
        if t is not None:
            check_finite_vectors(t, vectors.emotions, vectors.layers, f"emotion vectors ({kind})")
    spread = vectors.contrast.double().pow(2).sum(dim=(1, 2))
    flat = [vectors.layers[j] for j in torch.nonzero(spread <= 0).flatten().tolist()]
    if len(flat) == len(vectors.layers):
        raise InputError(f"emotion vectors: all emotions have the same vector at layer(s) {flat}; nothing to analyze")
    if flat:
        warnings.warn(f"emotion vectors: all emotions have the same vector at layer(s) {flat}: the statistics of "
                      "those layers are NaN", RuntimeWarning, stacklevel=3)
    units = counts = topics = None
    if story_acts is not None:
        units, counts, topics = _story_units(vectors, story_acts, excluded, keep_units)
    return Prepared(vectors, np.asarray(rated.valence, dtype=np.float64), np.asarray(rated.arousal, dtype=np.float64),
                    excluded, units, counts, topics)


def _story_units(vectors, story_acts, excluded, keep_units: bool = True):
    emotions, groups = group_stories(story_acts, "story_acts")
    wanted = set(vectors.emotions) | set(excluded)
    extra = sorted(set(emotions) - wanted)
    missing = sorted(set(vectors.emotions) - set(emotions))
    if extra or missing:
        raise InputError(f"story_acts and vectors hold different emotions: without stories {missing}, "
                         f"without a vector {extra}")
    if tuple(story_acts.layers) != tuple(vectors.layers):
        raise InputError(f"story_acts layers {list(story_acts.layers)} differ from the vectors' {list(vectors.layers)}")
    by_emotion = dict(zip(emotions, groups))
    order = [by_emotion[e] for e in vectors.emotions]
    single = [e for e, g in zip(vectors.emotions, order) if len(g) < 2]
    if single:
        raise InputError(f"story-level bootstrap and split-half need at least 2 stories per emotion; "
                         f"{len(single)} emotion(s) have one: {single}. Analyze without story activations "
                         "(emotion-level bootstrap only) or add stories")
    counts = np.array([len(g) for g in order])
    index, units = torch.cat(order), None
    if keep_units:
        units = story_acts.means[index]
        check_finite(units, [story_acts.meta[i] for i in index.tolist()], story_acts.layers, "story_acts")
        starts = np.cumsum(counts) - counts
        raw = torch.stack([units[s:s + c].double().mean(dim=0) for s, c in zip(starts, counts)], dim=1)
    else:
        raw = emotion_sums(story_acts, order, "story_acts") / torch.as_tensor(counts, dtype=torch.float64)[None, :, None]
    # The vectors must be the means of these stories.
    ref = vectors.raw.double()
    scale = ref.abs().amax().clamp_min(1e-30)
    if (raw - ref).abs().amax() > 1e-4 * scale:
        raise InputError("story_acts do not match the vectors: the vectors are not the means of these stories "
                         "(build them with emotion_vectors(story_acts, ...))")
    return units, counts, tuple(story_acts.meta[i].get("topic") for i in index.tolist())
