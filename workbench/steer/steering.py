"""``steering``: move a model's block output along a direction, inside a ``with`` block.

``alpha`` is a fraction of the layer's typical residual norm, so one alpha means
the same across layers and models (METHOD.md section 6).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from workbench.errors import InputError

__all__ = ["steering", "residual_norm"]


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
    out = {}
    model.run_blocks(enc["input_ids"].to(model.device), enc["attention_mask"].to(model.device),
                     lambda _layer, h: out.__setitem__("h", h.float()), layers=[layer])
    norms = out["h"].norm(dim=-1)
    keep = mask.bool().to(norms.device)
    if not keep.any():
        raise InputError("residual_norm: the calibration texts have no token besides BOS")
    return float(norms[keep].mean())


@contextlib.contextmanager
def steering(model, direction: torch.Tensor, alpha: float, layer: int, norm: float,
             hook: str = "add_direction") -> Iterator[None]:
    """Apply ``hook`` (a recipe in ``hooks/``) with scale ``alpha * norm`` to block ``layer``.

    Every forward pass and generation of ``model`` inside the block is steered;
    the intervention is removed on exit, also when the block raises.
    """
    from workbench.steer.recipes import load_recipe

    direction = torch.as_tensor(direction, dtype=torch.float32).flatten()
    if direction.shape != (model.d_model,):
        raise InputError(f"direction has {direction.numel()} values; {model.name} has d_model {model.d_model}")
    if not torch.isfinite(direction).all() or direction.norm() == 0:
        raise InputError("direction must be finite and non-zero")
    if not (isinstance(alpha, (int, float)) and torch.isfinite(torch.tensor(float(alpha)))):
        raise InputError(f"alpha must be a finite number, got {alpha!r}")
    if not norm > 0:
        raise InputError(f"norm must be positive, got {norm!r}")
    fn = load_recipe(hook)(direction, float(alpha) * float(norm))
    with model.intervene(layer, fn):
        yield
