"""Synthetic story activations with a planted valence and arousal structure (tests, benchmarks, demos).

Every text's mean at layer ``l`` is a large constant (a "massive activation"
coordinate), plus ``valence_signal[l] * valence * u_l`` and
``arousal_signal[l] * arousal * w_l`` for the text's emotion, plus a random
"style" component in a few nuisance directions shared with the neutral texts,
plus emotion-level and story-level Gaussian noise. ``u_l`` drifts slowly with
depth, so valence directions of nearby layers are similar.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from workbench.collect.activations import StoryActivations

__all__ = ["synthetic_activations", "nuisance_data", "NuisanceData"]


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


@dataclass(frozen=True)
class NuisanceData:
    """One simulated data set of :func:`nuisance_data` (a calibration replicate)."""

    units: np.ndarray  # [n * stories, L, d] story means, grouped by emotion
    counts: np.ndarray  # [n] stories per emotion
    valence: np.ndarray  # [n]
    arousal: np.ndarray  # [n]
    population_r: np.ndarray  # [L] |r| of the population PC1 with valence (infinitely many emotions)
    cov: np.ndarray | None = None  # [L, d, d] population covariance of the emotion means
    cross: np.ndarray | None = None  # [L, d] population covariance of the emotion means with valence

    def direction_r(self, axes: np.ndarray) -> np.ndarray:
        """The population r with valence of the scores on ``axes`` ``[L, d]`` (one direction per layer,
        signed): ``a' cov(x, v) / sqrt(a' cov(x) a)``, what a direction found in a sample gives on new emotions."""
        if self.cov is None or self.cross is None:
            raise ValueError("this data set was made without its population covariance")
        a = np.asarray(axes, dtype=np.float64)
        var = np.einsum("ld,lde,le->l", a, self.cov, a)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(var > 0, (a * self.cross).sum(axis=1) / np.sqrt(var), np.nan)

    @property
    def vectors(self) -> np.ndarray:
        """``[L, n, d]`` emotion means (the mean of each emotion's story means), centred over emotions."""
        n, k = len(self.counts), int(self.counts[0])
        X = self.units.reshape(n, k, *self.units.shape[1:]).mean(axis=1).transpose(1, 0, 2)
        return X - X.mean(axis=1, keepdims=True)


def nuisance_data(rng: np.random.Generator, *, n_emotions: int = 171, n_layers: int = 8, d_model: int = 32,
                  stories: int = 4, valence_signal=0.0, valence_noise: float = 0.0, nuisance: float = 1.5,
                  n_nuisance: int = 1, emotion_noise: float = 0.5, story_noise: float = 1.0) -> NuisanceData:
    """Emotion-level nuisance axes per layer, optionally a planted valence direction; ratings drawn iid N(0, 1).

    Story ``s`` of emotion ``e`` at layer ``l``: ``(valence_signal[l] * v_e + valence_noise * z_e) * u_l
    + sum_j nuisance * f_elj * m_lj + emotion_noise * g_el + story_noise * h_els``: ``z_e`` is an emotion-level
    factor on the valence axis that is not valence (it sets the population r while PC1 stays the valence axis). The nuisance factors ``f`` (independent of the ratings) and
    ``g`` belong to the emotion, shared by all its stories: a story split cannot remove them. ``u_l`` and
    ``m_lj`` are random unit directions, new for every data set. ``population_r`` is exact: from the
    population covariance of the emotion means, ``|corr(e1' x, v)| = |e1' s u| / sqrt(lambda_1)``.
    """
    n, L, d, k = n_emotions, n_layers, d_model, stories
    sv = np.broadcast_to(np.asarray(valence_signal, dtype=np.float64), (L,))
    valence, arousal = rng.standard_normal(n), rng.standard_normal(n)

    def unit(x):
        return x / np.linalg.norm(x, axis=-1, keepdims=True)

    u = unit(rng.standard_normal((L, d)))
    m = unit(rng.standard_normal((L, n_nuisance, d)))
    f = nuisance * rng.standard_normal((n, L, n_nuisance))
    z = rng.standard_normal(n)
    on_axis = sv[None, :] * valence[:, None] + valence_noise * (sv[None, :] > 0) * z[:, None]  # [n, L]
    emo = (on_axis[:, :, None] * u[None] + np.einsum("elj,ljd->eld", f, m)
           + emotion_noise * rng.standard_normal((n, L, d)))
    units = np.repeat(emo, k, axis=0) + story_noise * rng.standard_normal((n * k, L, d))
    cov = ((sv**2 + valence_noise**2 * (sv > 0))[:, None, None] * u[:, :, None] * u[:, None, :] + nuisance**2 * np.einsum("ljd,lje->lde", m, m)
           + (emotion_noise**2 + story_noise**2 / k) * np.eye(d)[None])
    vals, vecs = np.linalg.eigh(cov)
    e1 = vecs[:, :, -1]
    pop = np.abs((e1 * u).sum(axis=1) * sv) / np.sqrt(vals[:, -1])
    return NuisanceData(units, np.full(n, k), valence, arousal, pop, cov, sv[:, None] * u)
