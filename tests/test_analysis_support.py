"""Shared builders for the analysis tests (no tests here): synthetic ratings, activations and run folders."""

from __future__ import annotations

import numpy as np
import torch

from workbench.analysis.synthetic import synthetic_activations
from workbench.collect.activations import StoryActivations
from workbench.data.ratings import Ratings


def make_ratings(n: int, seed: int = 0, estimated: int = 0) -> Ratings:
    rng = np.random.default_rng(seed)
    emotions = tuple(f"emo{i:03d}" for i in range(n))
    source = tuple("estimate_from_proxy" if i < estimated else "nrc_vad" for i in range(n))
    return Ratings(emotions, rng.uniform(-1, 1, n), rng.uniform(-1, 1, n), source)


def make_acts(ratings: Ratings, **kw) -> tuple[StoryActivations, StoryActivations]:
    return synthetic_activations(ratings.emotions, ratings.valence, ratings.arousal, **kw)


def combined(stories: StoryActivations, neutral: StoryActivations | None) -> StoryActivations:
    """Stories and neutral texts in one StoryActivations, as a collect run folder holds them."""
    if neutral is None:
        return stories
    return StoryActivations(torch.cat([stories.means, neutral.means]), torch.cat([stories.n_tokens, neutral.n_tokens]),
                            stories.layers, stories.meta + neutral.meta, stories.spec, stories.params)


def naive_pc(X: np.ndarray, k: int = 2):
    """(scores [n, k], axes [k, d], explained [k]) by plain SVD of the centred matrix."""
    Xc = X - X.mean(axis=0)
    _, s, vt = np.linalg.svd(Xc, full_matrices=False)
    return Xc @ vt[:k].T, vt[:k], (s**2 / (s**2).sum())[:k]


def naive_bootstrap_r(units, draws, setups, ref_axes, valence, arousal):
    """r per (condition, replicate, layer, PC): build each resample, PCA by SVD, sign by the reference axis."""
    C, B, L = len(setups), draws.emotions.shape[0], units.shape[1]
    out = np.zeros((C, B, L, 2))
    for b in range(B):
        for layer in range(L):
            rows = np.array([(draws.weights[b, e][:, None] * units[draws.units[b, e], layer]).sum(axis=0)
                             for e in draws.emotions[b]])
            for c, basis in enumerate(setups):
                X = rows if basis is None else rows - rows @ basis[layer].T @ basis[layer]
                scores, axes, _ = naive_pc(X, 2)
                for j, y in enumerate((valence, arousal)):
                    sign = np.sign(axes[j] @ ref_axes[c][layer, j])
                    out[c, b, layer, j] = np.corrcoef(sign * scores[:, j], y[draws.emotions[b]])[0, 1]
    return out
