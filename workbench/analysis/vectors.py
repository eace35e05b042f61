"""Emotion vectors: per layer, the mean of story means per emotion, centred, optionally neutral-projected.

METHOD.md section 4. ``raw[l, e]`` is the mean over emotion ``e``'s stories of their
mean ``resid_post`` at layer ``layers[l]`` (every story weighs the same);
``contrast`` subtracts the mean over emotions; ``projected`` also removes the
subspace spanned by the smallest number of principal components of the
centred neutral-text means that explains ``neutral_variance`` of their variance.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor

from workbench.analysis.checks import check_finite, emotion_sums, group_stories
from workbench.analysis.threads import single_threaded
from workbench.errors import InputError, RunFolderError

if TYPE_CHECKING:
    from workbench.collect.activations import StoryActivations

__all__ = ["EmotionVectors", "emotion_vectors", "neutral_basis", "VECTORS_FILE"]

VECTORS_FILE = "emotion_vectors.safetensors"
KINDS = ("raw", "contrast", "projected")


@dataclass(frozen=True, eq=False)
class EmotionVectors:
    """One vector per (layer, emotion); float32 tensors ``[n_layers, n_emotions, d_model]``.

    ``neutral_basis[l, :neutral_k[l]]`` are the orthonormal neutral directions removed at
    layer ``l`` (rows past ``neutral_k[l]`` are padding); ``n_model_layers`` is the model's
    block count (fractional depth = layer / (n_model_layers - 1)).
    """

    emotions: tuple[str, ...]
    layers: tuple[int, ...]
    raw: Float[Tensor, "layer emotion d_model"]
    contrast: Float[Tensor, "layer emotion d_model"]
    projected: Float[Tensor, "layer emotion d_model"] | None = None
    neutral_basis: Float[Tensor, "layer k d_model"] | None = None
    neutral_k: tuple[int, ...] | None = None
    neutral_variance: float | None = None
    n_stories: tuple[int, ...] | None = None
    n_model_layers: int | None = None
    source: str | None = None  # the file or folder the vectors were imported from (None: built here)

    def __post_init__(self):
        shape = (len(self.layers), len(self.emotions))
        for kind in KINDS:
            t = getattr(self, kind)
            if t is None:
                continue
            if t.ndim != 3 or tuple(t.shape[:2]) != shape:
                raise InputError(f"emotion vectors: {kind} has shape {tuple(t.shape)}, expected {shape} + (d_model,)")
        if len(set(self.emotions)) != len(self.emotions):
            raise InputError(f"emotion vectors: emotions listed twice: "
                             f"{sorted({e for e in self.emotions if self.emotions.count(e) > 1})}")
        if (self.projected is None) != (self.neutral_basis is None):
            raise InputError("emotion vectors: projected vectors need their neutral_basis (and vice versa)")

    def _repr_html_(self) -> str:
        """A small table, shown when the object ends a Jupyter cell."""
        from workbench.display import vectors_html

        return vectors_html(self)

    @property
    def d_model(self) -> int:
        return self.raw.shape[2]

    @property
    def has_projection(self) -> bool:
        return self.projected is not None

    # ---- construction ---------------------------------------------------------------------
    @classmethod
    def from_raw(cls, emotions, layers, raw, neutral=None, neutral_variance: float = 0.5,
                 n_stories=None, n_model_layers: int | None = None) -> EmotionVectors:
        """Build from per-emotion means ``raw`` ``[n_layers, n_emotions, d]`` and optional
        neutral-text means ``neutral`` ``[n_layers, n_neutral, d]``."""
        raw = torch.as_tensor(raw).double()
        emotions, layers = tuple(emotions), tuple(int(x) for x in layers)
        contrast = raw - raw.mean(dim=1, keepdim=True)
        projected = basis = ks = None
        if neutral is not None:
            basis, ks = neutral_basis(torch.as_tensor(neutral).double(), neutral_variance)
            projected = project_out(contrast, basis)
        return cls(emotions, layers, raw.float(), contrast.float(),
                   None if projected is None else projected.float(),
                   None if basis is None else basis.float(), ks,
                   None if neutral is None else float(neutral_variance),
                   None if n_stories is None else tuple(int(n) for n in n_stories), n_model_layers)

    @classmethod
    def from_files(cls, path: str | Path, n_model_layers: int | None = None) -> EmotionVectors:
        """Vectors made by another tool (formats: :mod:`workbench.analysis.vector_files`), centred here.

        ``n_model_layers`` (the model's block count, for fractional depth) defaults to what the
        file records, else the highest layer + 1.
        """
        from workbench.analysis.vector_files import read_vector_files

        f = read_vector_files(path)
        contrast = f.vectors - f.vectors.mean(dim=1, keepdim=True)
        projected = None if f.neutral_basis is None else project_out(contrast, f.neutral_basis).float()
        return cls(f.emotions, f.layers, f.vectors.float(), contrast.float(), projected,
                   None if f.neutral_basis is None else f.neutral_basis.float(), f.neutral_k,
                   n_model_layers=n_model_layers or f.n_model_layers, source=f.source)

    def export(self, path: str | Path, kind: str = "contrast") -> Path:
        """One ``.safetensors`` or ``.npz`` file that :meth:`from_files` (and other tools) read."""
        from workbench.analysis.vector_files import export_vectors

        return export_vectors(self, path, kind)

    def select(self, emotions) -> EmotionVectors:
        """These emotions only, in this order; contrast and projection recomputed over them."""
        emotions = tuple(emotions)
        missing = [e for e in emotions if e not in self.emotions]
        if missing:
            raise InputError(f"emotion vectors: no vector for {missing}")
        idx = torch.tensor([self.emotions.index(e) for e in emotions], dtype=torch.long)
        raw = self.raw.double()[:, idx]
        contrast = raw - raw.mean(dim=1, keepdim=True)
        projected = None if self.neutral_basis is None else project_out(contrast, self.neutral_basis.double()).float()
        n_stories = None if self.n_stories is None else tuple(self.n_stories[i] for i in idx.tolist())
        return replace(self, emotions=emotions, raw=raw.float(), contrast=contrast.float(), projected=projected,
                       n_stories=n_stories)

    # ---- access ---------------------------------------------------------------------------
    def kind(self, kind: str) -> Tensor:
        if kind not in KINDS:
            raise InputError(f"emotion vectors: kind must be one of {KINDS}, got {kind!r}")
        t = getattr(self, kind)
        if t is None:
            raise InputError("emotion vectors: no projected vectors (built without neutral texts)")
        return t

    def layer_index(self, layer: int) -> int:
        if layer not in self.layers:
            raise InputError(f"emotion vectors: layer {layer} not among the layers {list(self.layers)}")
        return self.layers.index(layer)

    def emotion_index(self, emotion: str) -> int:
        if emotion not in self.emotions:
            raise InputError(f"emotion vectors: unknown emotion {emotion!r}")
        return self.emotions.index(emotion)

    def vector(self, emotion: str, layer: int, kind: str = "contrast") -> Float[Tensor, " d_model"]:
        """The vector of ``emotion`` at block ``layer``."""
        return self.kind(kind)[self.layer_index(layer), self.emotion_index(emotion)]

    def direction(self, emotion_a: str, emotion_b: str, layer: int | None = None,
                  kind: str = "contrast") -> Tensor:
        """Unit vector from ``emotion_b`` to ``emotion_a``: ``[d]`` at ``layer``, else ``[n_layers, d]``."""
        t = self.kind(kind)
        diff = t[:, self.emotion_index(emotion_a)] - t[:, self.emotion_index(emotion_b)]
        norm = diff.norm(dim=-1, keepdim=True)
        if (norm == 0).any():
            raise InputError(f"emotion vectors: {emotion_a!r} and {emotion_b!r} are identical at some layer")
        unit = diff / norm
        return unit if layer is None else unit[self.layer_index(layer)]

    def normalized(self) -> EmotionVectors:
        """Every vector scaled to unit norm (the neutral basis is kept)."""
        def unit(t):
            return None if t is None else t / t.norm(dim=-1, keepdim=True).clamp_min(1e-30)
        return replace(self, raw=unit(self.raw), contrast=unit(self.contrast), projected=unit(self.projected))

    # ---- arithmetic -----------------------------------------------------------------------
    def _combine(self, other, op) -> EmotionVectors:
        if isinstance(other, EmotionVectors):
            if other.emotions != self.emotions or other.layers != self.layers:
                raise InputError("emotion vectors: arithmetic needs the same emotions and layers in the same order")
            keep = (self.neutral_basis is not None and other.neutral_basis is not None
                    and self.neutral_k == other.neutral_k and torch.equal(self.neutral_basis, other.neutral_basis))
            proj = op(self.projected, other.projected) if keep else None
            return replace(self, raw=op(self.raw, other.raw), contrast=op(self.contrast, other.contrast),
                           projected=proj, neutral_basis=self.neutral_basis if keep else None,
                           neutral_k=self.neutral_k if keep else None)
        if isinstance(other, (int, float)):
            proj = None if self.projected is None else op(self.projected, other)
            return replace(self, raw=op(self.raw, other), contrast=op(self.contrast, other), projected=proj)
        return NotImplemented

    def __add__(self, other):
        if not isinstance(other, EmotionVectors):
            return NotImplemented
        return self._combine(other, lambda a, b: a + b)

    def __sub__(self, other):
        if not isinstance(other, EmotionVectors):
            return NotImplemented
        return self._combine(other, lambda a, b: a - b)

    def __mul__(self, other):
        if isinstance(other, EmotionVectors):
            return NotImplemented
        return self._combine(other, lambda a, b: a * b)

    __rmul__ = __mul__

    def __truediv__(self, other):
        if isinstance(other, EmotionVectors):
            return NotImplemented
        return self._combine(other, lambda a, b: a / b)

    def __neg__(self):
        return self * -1.0

    # ---- persistence ----------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """Write ``emotion_vectors.safetensors`` and the ``vectors`` section of ``manifest.json``."""
        from workbench.analysis.persist import save_vectors

        save_vectors(self, directory)
        return Path(directory)

    @classmethod
    def load(cls, directory: str | Path) -> EmotionVectors:
        from workbench.analysis.persist import load_vectors

        directory = Path(directory)
        if not (directory / VECTORS_FILE).is_file():
            raise RunFolderError(f"{directory} has no {VECTORS_FILE}: run `workbench analyze {directory}` first")
        return load_vectors(cls, directory)


def emotion_vectors(story_acts: StoryActivations, neutral_acts: StoryActivations | None = None,
                    neutral_variance: float = 0.5) -> EmotionVectors:
    """Emotion vectors from story activations (every text of kind ``story``), optionally
    neutral-projected with ``neutral_acts`` (every text of kind ``neutral``)."""
    with single_threaded():
        return _emotion_vectors(story_acts, neutral_acts, neutral_variance)


def _emotion_vectors(story_acts, neutral_acts, neutral_variance) -> EmotionVectors:
    emotions, groups = group_stories(story_acts, "story_acts")
    if len(emotions) < 2:
        raise InputError(f"story_acts: {len(emotions)} emotion(s); contrast vectors need at least 2")
    # streamed: a chunk of stories at a time, so memory does not grow with their number
    counts = torch.tensor([len(g) for g in groups], dtype=torch.float64)
    raw = emotion_sums(story_acts, groups, "story_acts") / counts[None, :, None]
    neutral = None
    if neutral_acts is not None:
        kinds = sorted({m.get("kind") for m in neutral_acts.meta} - {"neutral"}, key=str)
        if kinds:
            raise InputError(f"neutral_acts: holds texts of kind {kinds}; only kind 'neutral' belongs there")
        if tuple(neutral_acts.layers) != tuple(story_acts.layers):
            raise InputError(f"neutral_acts: layers {list(neutral_acts.layers)} differ from the stories' "
                             f"{list(story_acts.layers)}")
        if neutral_acts.d_model != story_acts.d_model:
            raise InputError(f"neutral_acts: d_model {neutral_acts.d_model} differs from the stories' {story_acts.d_model}")
        if len(neutral_acts) < 2:
            raise InputError(f"neutral_acts: {len(neutral_acts)} neutral text(s); the neutral PCA needs at least 2")
        check_finite(neutral_acts.means, neutral_acts.meta, neutral_acts.layers, "neutral_acts")
        neutral = neutral_acts.means.double().transpose(0, 1)
    return EmotionVectors.from_raw(emotions, story_acts.layers, raw, neutral, neutral_variance,
                                   n_stories=[len(g) for g in groups],
                                   n_model_layers=model_layer_count(story_acts))


def neutral_basis(neutral: Tensor, variance: float = 0.5):
    """Per layer, the top principal axes of centred ``neutral`` ``[n_layers, n, d]`` whose
    explained variance first reaches ``variance``: (basis ``[n_layers, k_max, d]``, k per layer)."""
    if not 0.0 < variance <= 1.0:
        raise InputError(f"neutral_variance must be in (0, 1], got {variance}")
    centred = neutral - neutral.mean(dim=1, keepdim=True)
    _, s, vt = torch.linalg.svd(centred, full_matrices=False)
    power = s**2
    total = power.sum(dim=1, keepdim=True)
    if (total <= 0).any():
        bad = torch.nonzero(total.flatten() <= 0).flatten().tolist()
        raise InputError(f"neutral texts: identical means at layer position(s) {bad}; no neutral variance to remove")
    frac = (power / total).cumsum(dim=1)
    ks = tuple(int(k) for k in ((frac < variance - 1e-12).sum(dim=1) + 1).tolist())
    kmax = max(ks)
    basis = vt[:, :kmax].clone()
    for layer, k in enumerate(ks):
        basis[layer, k:] = 0.0
    return basis, ks


def project_out(x: Tensor, basis: Tensor) -> Tensor:
    """``x`` ``[L, n, d]`` minus its projection on the (zero-padded, orthonormal) rows of ``basis``."""
    coef = x @ basis.transpose(1, 2)
    return x - coef @ basis


def model_layer_count(acts) -> int:
    """The model's block count as recorded by collect, else the highest collected block + 1."""
    for source in (acts.spec, acts.params, acts.info):
        value = source.get("n_layers") if isinstance(source, dict) else None
        if isinstance(value, int) and value > 0:
            return value
    return int(max(acts.layers)) + 1


def to_numpy(t: Tensor) -> np.ndarray:
    return t.detach().double().cpu().numpy()
