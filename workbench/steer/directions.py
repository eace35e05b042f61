"""Steering directions from an analysed run folder, random unit controls, and the layer norm.

A direction is named ``valence`` (the analysis' ridge valence axis at the layer,
oriented towards positive valence), ``EMOTION`` (that emotion's contrast vector:
its mean minus the mean over emotions), or ``EMOTION_A-EMOTION_B`` (the unit
vector from B's contrast vector to A's). Emotion names may themselves contain
hyphens (``self-conscious``); a split is accepted only when both sides are
emotions of the run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor

from workbench.errors import InputError, RunFolderError
from workbench.steer.names import NORM_DEFINITIONS

__all__ = ["Direction", "parse_direction", "resolve_direction", "valence_direction", "random_directions",
           "activation_norm", "token_norm", "NORMS", "default_readback_layer"]


@dataclass(frozen=True, eq=False)
class Direction:
    """A unit steering direction: ``name`` (``valence``, ``joy``, ``joy-sadness``, ``random0``),
    ``kind`` (``"direction"`` or ``"control"``), the block ``layer`` it belongs to, and ``vector``."""

    name: str
    kind: str
    layer: int
    vector: Float[Tensor, " d_model"]

    def __post_init__(self):
        if self.kind not in ("direction", "control"):
            raise InputError(f"direction {self.name!r}: kind must be 'direction' or 'control', got {self.kind!r}")
        v = self.vector
        if v.ndim != 1 or not torch.isfinite(v).all() or abs(float(v.norm()) - 1.0) > 1e-4:
            raise InputError(f"direction {self.name!r}: the vector must be a finite unit vector [d_model]")

    def apply(self, model, alpha: float, norm: float | None = None, hook="add_direction", positions: str = "all"):
        """A context manager steering ``model`` along this direction at its own layer (``alpha x norm``).

        ``norm``: the layer's per-token residual norm (e.g. :func:`token_norm` of the run's
        activations); ``None`` measures it on the steering prompts (:func:`workbench.steer.calibration_norm`).
        ``with direction.apply(model, 0.1): model.generate(...)``; the hook is removed on exit, also on error.
        """
        from workbench.steer.steering import steering

        return steering(model, self.vector, alpha, self.layer, positions=positions, norm=norm, hook=hook)


def _unit(v: Tensor, name: str) -> Tensor:
    v = torch.as_tensor(v, dtype=torch.float64).flatten()
    n = v.norm()
    if not torch.isfinite(v).all() or n == 0:
        raise InputError(f"direction {name!r} is zero or not finite at this layer")
    return (v / n).float()


def parse_direction(name: str, emotions) -> tuple[str, ...]:
    """``("valence",)``, ``(emotion,)`` or ``(emotion_a, emotion_b)``; an unknown name is an error naming it."""
    name = name.strip()
    emotions = tuple(emotions)
    if name == "valence":
        return ("valence",)
    if name in emotions:
        return (name,)
    splits = [(name[:i].strip(), name[i + 1:].strip()) for i, c in enumerate(name) if c == "-"]
    pairs = [(a, b) for a, b in splits if a in emotions and b in emotions]
    if len(pairs) == 1:
        a, b = pairs[0]
        if a == b:
            raise InputError(f"direction {name!r}: both sides are {a!r}")
        return pairs[0]
    if len(pairs) > 1:
        raise InputError(f"direction {name!r} is ambiguous: it splits into {pairs}")
    unknown = sorted({part for pair in splits for part in pair if part and part not in emotions}) or [name]
    raise InputError(f"unknown direction {name!r}: {unknown} is not an emotion of this run; expected 'valence', "
                     f"an emotion (e.g. {', '.join(emotions[:4])}, ...) or EMOTION_A-EMOTION_B")


def valence_direction(report, layer: int, neutral_projection: bool = False) -> Tensor:
    """The analysis' unit ridge valence direction at block ``layer`` (towards positive valence)."""
    if layer not in report.layers:
        raise InputError(f"layer {layer}: the analysis has no valence direction there (layers {list(report.layers)})")
    v = report.condition(neutral_projection).directions[report.layers.index(layer)]
    if not np.all(np.isfinite(v)):
        raise RunFolderError(f"the analysis' valence direction at layer {layer} is undefined (NaN)")
    return _unit(torch.as_tensor(v), f"valence at layer {layer}")


def resolve_direction(name: str, layer: int, report, vectors=None) -> Direction:
    """The named steering direction at ``layer`` (``vectors``: :class:`EmotionVectors`, needed for emotions)."""
    parts = parse_direction(name, report.emotions if vectors is None else vectors.emotions)
    if parts == ("valence",):
        return Direction("valence", "direction", layer, valence_direction(report, layer))
    if vectors is None:
        raise RunFolderError(f"direction {name!r} needs the run's emotion vectors (emotion_vectors.safetensors)")
    if len(parts) == 1:
        vector = _unit(vectors.vector(parts[0], layer, "contrast"), name)
    else:
        vector = vectors.direction(parts[0], parts[1], layer, "contrast").float()
    return Direction("-".join(parts), "direction", layer, vector)


def random_directions(d_model: int, n: int, seed: int, layer: int) -> tuple[Direction, ...]:
    """``n`` random unit controls: the rows of ``randn(n, d_model)`` from a generator seeded with ``seed``."""
    if n < 0:
        raise InputError(f"the number of random controls must be >= 0, got {n}")
    g = torch.Generator().manual_seed(int(seed))
    raw = torch.randn(n, d_model, generator=g, dtype=torch.float64)
    return tuple(Direction(f"random{i}", "control", layer, (r / r.norm()).float()) for i, r in enumerate(raw))


def _layer_column(acts, layer: int) -> int:
    if layer not in acts.layers:
        raise InputError(f"layer {layer} was not collected in this run (layers {list(acts.layers)})")
    return acts.layers.index(layer)


def activation_norm(acts, layer: int) -> float:
    """Mean over the run's texts of the norm of their mean ``resid_post`` at ``layer`` (``--norm text-mean``).

    Averaging over tokens cancels their token-specific parts, so for a model
    without massive activations this is far below a typical token's norm
    (:func:`token_norm`); on the embedded Gemma 3 270M a large component is shared
    by every token and the two are close.
    """
    norms = acts.means[:, _layer_column(acts, layer)].double().norm(dim=-1)
    if not torch.isfinite(norms).all() or len(norms) == 0:
        raise RunFolderError(f"the run's activations at layer {layer} are empty or not finite")
    return float(norms.mean())


def token_norm(acts, layer: int) -> float:
    """Mean per-token ``resid_post`` norm at ``layer`` over the run's story tokens (``--norm token-mean``).

    The tokens are those ``collect`` pooled (positions from the offset; BOS and
    padding never): each story's mean token norm weighted by its token count.
    """
    j = _layer_column(acts, layer)
    if acts.token_norms is None:
        raise RunFolderError("the run folder was collected before per-token norms were recorded: collect it "
                             "again with this version, or use the norm 'text-mean' (the norm of the texts' mean; `--norm text-mean` "
                             "at the CLI)")
    story = torch.tensor([m.get("kind") == "story" for m in acts.meta], dtype=torch.bool)
    if not story.any():
        raise InputError(f"the activations hold no story text (kinds {sorted({m.get('kind') for m in acts.meta})}):"
                         " the token-mean norm is taken over story tokens")
    counts = acts.n_tokens[story].double()
    norms = acts.token_norms[story, j].double()
    if not torch.isfinite(norms).all() or counts.sum() == 0:
        raise RunFolderError(f"the run's token norms at layer {layer} are empty or not finite")
    return float((norms * counts).sum() / counts.sum())


# --norm name -> (function of (acts, layer), what it is); the definition is recorded with every steering result.
_NORM_FUNCTIONS = {"token-mean": token_norm, "text-mean": activation_norm}
NORMS = {name: (_NORM_FUNCTIONS[name], definition) for name, definition in NORM_DEFINITIONS.items()}


def default_readback_layer(report, layer: int) -> int:
    """The block after ``layer`` whose ridge valence axis predicts held-out valence best (``valence_cv_r``)."""
    cond = report.condition(False)
    cv = np.asarray(cond.columns["valence_cv_r"], dtype=np.float64)
    later = [(cv[j], L) for j, L in enumerate(report.layers) if L > layer and np.isfinite(cv[j])]
    if not later:
        raise InputError(f"no analysed layer after layer {layer} with a valence axis: pass a read-back layer")
    return max(later)[1]
