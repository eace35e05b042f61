"""``steering``: move a model's block output along a direction, inside a ``with`` block.

``alpha`` is a fraction of the layer's typical per-token residual norm, so one
alpha means the same across layers and models (METHOD.md section 6). The norm is
given (e.g. :func:`workbench.steer.directions.token_norm` from a run's story
tokens) or, when ``None``, measured by a small calibration pass over the steering
prompts with the same per-token definition (:func:`calibration_norm`).
"""

from __future__ import annotations

import contextlib
import inspect
import numbers
from collections.abc import Callable, Iterator

import torch

from workbench.errors import InputError

__all__ = ["steering", "residual_norm", "calibration_norm", "POSITIONS"]


def _all(hidden: torch.Tensor) -> slice:
    return slice(None)


def _last(hidden: torch.Tensor) -> slice:
    return slice(hidden.shape[1] - 1, None)


# positions name -> which sequence positions of each forward pass the hook changes.
# With a KV cache, generation runs the prompt once and then one position per new token,
# so "last" steers the last prompt token and every generated token; "all" steers everything.
POSITIONS: dict[str, Callable[[torch.Tensor], slice]] = {"all": _all, "last": _last}


def residual_norm(model, texts, layer: int, max_length: int = 256) -> float:
    """Mean L2 norm of ``resid_post`` at ``layer`` over the tokens of ``texts`` (BOS and padding excluded)."""
    (layer,) = model.check_layers([layer])
    if not texts:
        raise InputError("residual_norm needs at least one calibration text")
    enc = model.tokenizer(list(texts), return_tensors="pt", padding=True, padding_side="right",
                          truncation=True, max_length=max_length)
    mask = enc["attention_mask"].clone()
    bos = model.tokenizer.bos_token_id
    if bos is not None:
        mask[enc["input_ids"] == bos] = 0
    out: dict[str, torch.Tensor] = {}
    model.run_blocks(enc["input_ids"].to(model.device), enc["attention_mask"].to(model.device),
                     lambda _layer, h: out.__setitem__("h", h.float()), layers=[layer])
    norms = out["h"].norm(dim=-1)
    keep = mask.bool().to(norms.device)
    if not keep.any():
        raise InputError("residual_norm: the calibration texts have no token besides BOS")
    return float(norms[keep].mean())


def calibration_norm(model, layer: int, texts=None) -> float:
    """:func:`residual_norm` over ``texts`` (default: the project's steering prompts, ``data/steer_prompts.txt``)."""
    if texts is None:
        from workbench.steer.prompts import load_prompts

        texts = load_prompts()
    return residual_norm(model, texts, layer)


def _check_alpha(alpha) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not torch.isfinite(torch.tensor(float(alpha))):
        raise InputError(f"alpha must be a finite number, got {alpha!r}")
    return float(alpha)


def _restrict(fn, select):
    if select is _all:
        return fn

    def hook(hidden):
        new = fn(hidden)
        where = select(hidden)
        out = hidden.clone()
        out[:, where] = new[:, where]
        return out

    hook._restricted = (fn, select)  # type: ignore[attr-defined]  # read by the recipes' tests
    return hook


def shippable(fn):
    """The intervention ``fn`` without the recipe guard of :mod:`workbench.steer.recipes` (which reports a
    recipe's errors as the recipe's): the form a remote trace ships by value, where that module is absent."""
    parts = getattr(fn, "_restricted", None)
    if parts is not None:
        return _restrict(inspect.unwrap(parts[0]), parts[1])
    return inspect.unwrap(fn)


@contextlib.contextmanager
def steering(model, direction: torch.Tensor, alpha: float, layer: int, positions: str = "all",
             norm: float | None = None, hook: str | Callable = "add_direction") -> Iterator[None]:
    """Apply ``hook`` with scale ``alpha * norm`` along ``direction`` to the output of block ``layer``.

    Every forward pass and generation of ``model`` inside the block is steered;
    the intervention is removed on exit, also when the block raises.

    Args:
        direction: ``[d_model]``; only its direction matters (recipes use the unit vector).
        alpha: fraction of the layer's typical residual norm (0 changes nothing, exactly).
        layer: block index (negatives count from the end).
        positions: a key of :data:`POSITIONS` (``"all"`` or ``"last"``).
        norm: the layer's typical residual norm; ``None`` runs :func:`calibration_norm`.
        hook: a recipe name in ``hooks/``, the path of a recipe file, or a
            ``make_hook(direction, scale)`` factory.
    """
    from workbench.steer.recipes import load_recipe

    direction = torch.as_tensor(direction, dtype=torch.float32).flatten()
    if direction.shape != (model.d_model,):
        raise InputError(f"direction has {direction.numel()} values; {model.name} has d_model {model.d_model}")
    if not torch.isfinite(direction).all() or direction.norm() == 0:
        raise InputError("direction must be finite and non-zero")
    alpha = _check_alpha(alpha)
    (layer,) = model.check_layers([layer])
    if positions not in POSITIONS:
        raise InputError(f"positions must be one of {sorted(POSITIONS)}, got {positions!r}")
    if norm is None:
        norm = calibration_norm(model, layer)
    if isinstance(norm, bool) or not isinstance(norm, numbers.Real) or not float(norm) > 0 \
            or not torch.isfinite(torch.tensor(float(norm))):
        raise InputError(f"norm must be a positive finite number, got {norm!r}")
    factory = hook if callable(hook) else load_recipe(hook)
    fn = _restrict(factory(direction, alpha * float(norm)), POSITIONS[positions])
    with model.intervene(layer, fn):
        yield
