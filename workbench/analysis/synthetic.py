"""Synthetic story activations with a planted valence and arousal structure (tests, benchmarks, demos).

Every text's mean at layer ``l`` is a large constant (a "massive activation"
coordinate), plus ``valence_signal[l] * valence * u_l`` and
``arousal_signal[l] * arousal * w_l`` for the text's emotion, plus a random
"style" component in a few nuisance directions shared with the neutral texts,
plus emotion-level and story-level Gaussian noise. ``u_l`` drifts slowly with
depth, so valence directions of nearby layers are similar.
"""

from __future__ import annotations

import numpy as np
import torch

from workbench.collect.activations import StoryActivations

__all__ = ["synthetic_activations"]


def synthetic_activations(emotions, valence, arousal, *, n_layers: int = 4, d_model: int = 64,
                          stories: int = 4, valence_signal=1.0, arousal_signal=0.5, emotion_noise: float = 0.5,
                          story_noise: float = 1.0, style: float = 2.0, n_style: int = 3, n_neutral: int = 40,
                          decay: float = 0.0, seed: int = 0) -> tuple[StoryActivations, StoryActivations]:
    """(stories, neutral texts) as :class:`StoryActivations`; signals may be scalars or one per layer.

    ``decay`` shapes the noise spectrum: the k-th noise direction has standard deviation
    proportional to ``k ** (-decay / 2)`` (0: isotropic; about 1 resembles a residual stream),
    rescaled so that the total noise power equals the isotropic case's.
    """
    rng = np.random.default_rng(seed)
    emotions = tuple(emotions)
    valence = np.asarray(valence, dtype=np.float64)
    arousal = np.asarray(arousal, dtype=np.float64)
    sv = np.broadcast_to(np.asarray(valence_signal, dtype=np.float64), (n_layers,))
    sa = np.broadcast_to(np.asarray(arousal_signal, dtype=np.float64), (n_layers,))

    def unit(x):
        return x / np.linalg.norm(x, axis=-1, keepdims=True)

    u = unit(np.cumsum(rng.standard_normal((n_layers, d_model)) * [[1.0]] + [[0.0]], axis=0)
             + 3 * rng.standard_normal(d_model))
    w = unit(rng.standard_normal((n_layers, d_model)))
    nuisance = unit(rng.standard_normal((n_layers, n_style, d_model)))
    offset = np.zeros(d_model)
    offset[0] = 50.0
    scale = np.arange(1, d_model + 1, dtype=np.float64) ** (-decay / 2.0)
    scale *= np.sqrt(d_model / (scale**2).sum())
    rotation = np.linalg.qr(rng.standard_normal((d_model, d_model)))[0] if decay else np.eye(d_model)

    def noise(shape, sd):
        return (sd * rng.standard_normal(shape + (d_model,)) * scale) @ rotation

    emo_noise = noise((len(emotions), n_layers), emotion_noise)

    def style_part(n_texts):
        coef = style * rng.standard_normal((n_texts, n_layers, n_style))
        return np.einsum("tls,lsd->tld", coef, nuisance)

    n_texts = len(emotions) * stories
    e_idx = np.repeat(np.arange(len(emotions)), stories)
    signal = (sv[None, :, None] * valence[e_idx, None, None] * u[None]
              + sa[None, :, None] * arousal[e_idx, None, None] * w[None])
    means = (offset + signal + emo_noise[e_idx] + style_part(n_texts)
             + noise((n_texts, n_layers), story_noise))
    meta = tuple({"emotion": emotions[e], "topic": f"topic{s % 2}", "story": s, "kind": "story"}
                 for e in range(len(emotions)) for s in range(stories))
    neutral = offset + style_part(n_neutral) + noise((n_neutral, n_layers), story_noise)
    neutral_meta = tuple({"kind": "neutral", "story": i} for i in range(n_neutral))
    layers = tuple(range(n_layers))
    spec = {"name": "synthetic", "n_layers": n_layers}

    def acts(x, m):
        return StoryActivations(torch.as_tensor(x, dtype=torch.float32), torch.full((len(m),), 100), layers, m,
                                spec, {"token_offset": 50})

    return acts(means, meta), acts(neutral, neutral_meta)
