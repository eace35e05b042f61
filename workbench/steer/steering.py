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
from collections.abc import Callable, Iterator, Mapping, Sequence

import torch

from workbench.errors import InputError
from workbench.steer import spans as _spans

__all__ = ["steering", "residual_norm", "residual_norms", "calibration_norm", "calibration_norms", "plan_layers",
           "POSITIONS"]


# The span names (every position, the last, the generated tokens, the assistant's turn): workbench.steer.spans.
POSITIONS = _spans.POSITIONS


def residual_norm(model, texts, layer: int, max_length: int = 256) -> float:
    """Mean L2 norm of ``resid_post`` at ``layer`` over the tokens of ``texts`` (BOS and padding excluded)."""
    (layer,) = model.check_layers([layer])
    return residual_norms(model, texts, [layer], max_length)[layer]


def residual_norms(model, texts, layers, max_length: int = 256) -> dict[int, float]:
    """:func:`residual_norm` of each of ``layers``, from one forward pass over ``texts``."""
    layers = model.check_layers(layers)
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
                     lambda layer, h: out.__setitem__(layer, h.float().norm(dim=-1)), layers=list(layers))
    keep = mask.bool()
    if not keep.any():
        raise InputError("residual_norm: the calibration texts have no token besides BOS")
    return {layer: float(out[layer][keep.to(out[layer].device)].mean()) for layer in layers}


def calibration_norm(model, layer: int, texts=None) -> float:
    """:func:`residual_norm` over ``texts`` (default: the project's steering prompts, ``data/steer_prompts.txt``)."""
    (layer,) = model.check_layers([layer])
    return calibration_norms(model, [layer], texts)[layer]


def calibration_norms(model, layers, texts=None) -> dict[int, float]:
    """:func:`calibration_norm` of each of ``layers`` (one forward pass)."""
    if texts is None:
        from workbench.steer.prompts import load_prompts

        texts = load_prompts()
    return residual_norms(model, texts, layers)


def _check_alpha(alpha) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not torch.isfinite(torch.tensor(float(alpha))):
        raise InputError(f"alpha must be a finite number, got {alpha!r}")
    return float(alpha)


def _restrict(fn, select):
    if select is _spans._all:
        return fn

    def hook(hidden):
        new = fn(hidden)
        where = select(hidden)
        if isinstance(where, slice):
            out = hidden.clone()
            out[:, where] = new[:, where]
            return out
        return torch.where(where.unsqueeze(-1), new, hidden)

    hook._restricted = (fn, select)  # type: ignore[attr-defined]  # read by the recipes' tests
    return hook


def shippable(fn):
    """The intervention ``fn`` without the recipe guard of :mod:`workbench.steer.recipes` (which reports a
    recipe's errors as the recipe's): the form a remote trace ships by value, where that module is absent."""
    parts = getattr(fn, "_restricted", None)
    if parts is not None:
        return _restrict(inspect.unwrap(parts[0]), parts[1])
    return inspect.unwrap(fn)


def _check_norm(norm, layer: int) -> float:
    if isinstance(norm, bool) or not isinstance(norm, numbers.Real) or not float(norm) > 0 \
            or not torch.isfinite(torch.tensor(float(norm))):
        raise InputError(f"norm at layer {layer} must be a positive finite number, got {norm!r}")
    return float(norm)


def _check_direction(model, direction, layer: int) -> torch.Tensor:
    direction = torch.as_tensor(direction, dtype=torch.float32).flatten()
    if direction.shape != (model.d_model,):
        raise InputError(f"direction at layer {layer} has {direction.numel()} values; {model.name} has d_model "
                         f"{model.d_model}")
    if not torch.isfinite(direction).all() or direction.norm() == 0:
        raise InputError(f"direction at layer {layer} must be finite and non-zero")
    return direction


def _by_layer(values, given: list[int], what: str) -> list:
    """One value per entry of ``given`` from a mapping {layer: value} or a sequence in ``given``'s order."""
    if isinstance(values, Mapping):
        missing = [g for g in given if g not in values]
        if missing or len(values) != len(given):
            raise InputError(f"{what}: one per steered layer {given} is needed, got layers {sorted(values)}")
        return [values[g] for g in given]
    if len(values) != len(given):
        raise InputError(f"{what}: {len(values)} given for {len(given)} steered layers {given}")
    return list(values)


def plan_layers(model, direction, layer, norm) -> list[tuple[int, torch.Tensor, float | None]]:
    """``(block, direction, norm)`` per steered layer, validated (``norm`` None: to be calibrated).

    ``layer``: an int or a sequence of ints (``None`` when ``direction`` is a mapping {layer: direction}).
    ``direction``: one ``[d_model]`` vector for every layer, ``[n_layers, d_model]`` (a row per layer, in
    the order of ``layer``), or a mapping {layer: vector} (e.g. the direction found at each layer).
    ``norm``: a number (one layer only: each layer has its own norm), one per layer (mapping or
    sequence), or ``None``.
    """
    if layer is None:
        if not isinstance(direction, Mapping):
            raise InputError("steering: name the layer(s), or give the direction as {layer: vector}")
        layer = list(direction)
    given: list[int] = [layer] if isinstance(layer, numbers.Integral) and not isinstance(layer, bool) else list(layer)  # type: ignore[list-item]
    blocks = [model.check_layers([g])[0] for g in given]
    if len(set(blocks)) != len(blocks):
        raise InputError(f"layers listed twice: {given}")
    if isinstance(direction, Mapping):
        directions = _by_layer(direction, given, "direction")
    else:
        tensor = torch.as_tensor(direction, dtype=torch.float32)
        directions = [tensor] * len(given) if tensor.ndim <= 1 else _by_layer(list(tensor), given, "direction")
    directions = [_check_direction(model, d, b) for d, b in zip(directions, blocks)]
    norms: list[float | None]
    if norm is None:
        norms = [None] * len(given)
    elif isinstance(norm, (Mapping, Sequence)) and not isinstance(norm, str):
        norms = [_check_norm(n, b) for n, b in zip(_by_layer(norm, given, "norm"), blocks)]
    elif len(given) > 1:
        raise InputError(f"norm: each steered layer has its own norm; give one per layer {given} "
                         "(a mapping or a sequence) or None to measure them")
    else:
        norms = [_check_norm(norm, blocks[0])]
    return list(zip(blocks, directions, norms))


@contextlib.contextmanager
def steering(model, direction, alpha: float, layer, positions: str = "all", norm=None,
             hook: str | Callable = "add_direction", start=None) -> Iterator[None]:
    """Apply ``hook`` with scale ``alpha * norm_l`` along the direction of each steered layer ``l`` to
    the output of block ``l``.

    Every forward pass and generation of ``model`` inside the block is steered; the
    interventions are removed on exit, also when the block raises.

    Args:
        direction: ``[d_model]`` (the same at every layer), ``[n_layers, d_model]`` or {layer: vector};
            only the direction matters (recipes use the unit vector).
        alpha: fraction of each layer's typical residual norm (0 changes nothing, exactly).
        layer: a block index or several (negatives count from the end); ``None`` with a mapping.
        positions: a span of :mod:`workbench.steer.spans` (``all``, ``last``, ``generated``, ``assistant``).
        norm: each layer's typical residual norm (a number for one layer, else one per layer); ``None``
            measures them (:func:`calibration_norm`).
        hook: a recipe name in ``hooks/``, the path of a recipe file, or a
            ``make_hook(direction, scale)`` factory.
        start: the first absolute position steered, an int or one per row (``assistant``: required;
            ``generated``: default the prompt's length).
    """
    from workbench.steer.recipes import load_recipe

    plan = plan_layers(model, direction, layer, norm)
    alpha = _check_alpha(alpha)
    _spans.make_select(positions, start)  # a bad span fails before any hook is registered
    missing = [b for b, _, n in plan if n is None]
    if missing:
        measured = calibration_norms(model, missing)
        plan = [(b, d, measured[b] if n is None else n) for b, d, n in plan]
    factory = hook if callable(hook) else load_recipe(hook)
    fns = [(b, _restrict(factory(d, alpha * float(n)), _spans.make_select(positions, start))) for b, d, n in plan]  # type: ignore[arg-type]
    with contextlib.ExitStack() as stack:
        for b, fn in fns:
            stack.enter_context(model.intervene(b, fn))
        yield
