"""The logit lens of a direction: how moving the residual stream along it changes the next-token logits.

Definition (METHOD.md section 7). At block ``layer`` the stream is read as if it
went straight to the head: ``logits(x) = W_U · final_norm(x)`` (then the final
soft-cap, when the model has one). The lens of a unit direction ``u`` is the
first-order change of those logits when the stream moves along ``u`` from the
mean residual ``m`` of that layer::

    lens(u) = d/da logits(m + a·u) at a = 0 = W_U · J_norm(m) · u

computed exactly with a Jacobian-vector product through the model's own final
norm module. Why this and not ``W_U · final_norm(u)`` (the direction read as if
it were the whole stream): RMSNorm divides by the norm of the *whole* stream,
and in Gemma that norm is dominated by a few massive-activation dimensions. The
Jacobian at ``m`` keeps what the norm really does to a small push at a typical
point: it rescales by ``1 / rms(m)``, applies the gain, and removes the push's
component along ``m`` (moving along ``m`` only rescales the stream, which the
norm undoes). Read alone, a direction's component along ``m`` would promote the
model's frequency prior (``W_U · gain · m``), not the emotion. The lens is
linear in ``u``: its token ranking does not depend on the push's size, so
random directions "of equal norm" need no scaling. Later blocks are skipped, as
in any logit lens.

The LM head is run on the directions only (``[n, d] -> [n, vocab]``), in
vocabulary chunks, keeping a running top-k; no text is unembedded.
"""

from __future__ import annotations

import copy

import torch

from workbench.errors import InputError

__all__ = ["head_lens", "LensTopK", "unembedding"]

VOCAB_CHUNK = 16384  # vocabulary rows unembedded at a time


def unembedding(model) -> torch.Tensor:
    """The LM head's weight ``[vocab, d_model]`` (tied or not)."""
    head = model.hf_model.get_output_embeddings()
    if head is None or getattr(head, "weight", None) is None:
        raise InputError(f"{model.name}: no output embedding (LM head) to unembed through")
    if head.weight.shape[1] != model.d_model:
        raise InputError(f"{model.name}: LM head has width {head.weight.shape[1]}, not d_model {model.d_model}")
    return head.weight


def _softcap(model) -> float | None:
    cap = getattr(model.hf_model.config.get_text_config(), "final_logit_softcapping", None)
    return float(cap) if cap else None


def normed_tangents(model, point: torch.Tensor, directions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``final_norm(m)`` ``[d]`` and ``J_norm(m) · u`` for each row ``u`` of ``directions`` ``[n, d]`` (float32)."""
    norm = copy.deepcopy(model.final_norm).float().requires_grad_(False)
    rows = directions.float().reshape(len(directions), 1, -1)  # the norm acts on each row alone
    p = point.float().reshape(1, 1, -1).expand_as(rows).contiguous()
    value, tangents = torch.func.jvp(norm, (p,), (rows,))
    return value[0].reshape(-1), tangents.reshape(len(directions), -1)


class LensTopK:
    """A running top-k (largest and smallest) over vocabulary chunks, for ``n`` rows."""

    def __init__(self, n: int, k: int):
        self.k = k
        self.top_v = torch.full((n, 0), float("-inf"))
        self.top_i = torch.zeros((n, 0), dtype=torch.long)
        self.bot_v = torch.full((n, 0), float("inf"))
        self.bot_i = torch.zeros((n, 0), dtype=torch.long)

    def add(self, values: torch.Tensor, offset: int) -> None:
        ids = torch.arange(offset, offset + values.shape[1]).expand_as(values)
        v, i = torch.cat([self.top_v, values], 1), torch.cat([self.top_i, ids], 1)
        kk = min(self.k, v.shape[1])
        best = v.topk(kk, dim=1)
        self.top_v, self.top_i = best.values, i.gather(1, best.indices)
        v, i = torch.cat([self.bot_v, values], 1), torch.cat([self.bot_i, ids], 1)
        worst = v.topk(kk, dim=1, largest=False)
        self.bot_v, self.bot_i = worst.values, i.gather(1, worst.indices)


def head_lens(model, directions: torch.Tensor, point: torch.Tensor, k: int = 20):
    """Top-``k`` promoted and suppressed token ids and lens values for each unit row of ``directions``.

    Returns ``(top_ids, top_values, bottom_ids, bottom_values)``, each ``[n, k]``, ordered from the
    most promoted (resp. most suppressed). Values are logit change per unit push (float32).
    """
    directions = torch.as_tensor(directions).float()
    point = torch.as_tensor(point).float().flatten()
    if directions.ndim != 2 or directions.shape[1] != model.d_model or point.shape != (model.d_model,):
        raise InputError(f"logit lens: directions must be [n, {model.d_model}] and the point [{model.d_model}], "
                         f"got {tuple(directions.shape)} and {tuple(point.shape)}")
    norms = directions.norm(dim=1, keepdim=True)
    if not torch.isfinite(directions).all() or (norms == 0).any():
        raise InputError("logit lens: every direction must be finite and non-zero")
    if not 1 <= k:
        raise InputError(f"logit lens: k must be >= 1, got {k}")
    units = directions / norms
    with torch.no_grad():
        at_point, tangents = normed_tangents(model, point, units)
        weight = unembedding(model)
        cap = _softcap(model)
        best = LensTopK(len(units), k)
        for start in range(0, weight.shape[0], VOCAB_CHUNK):
            w = weight[start:start + VOCAB_CHUNK].detach().float().cpu()
            delta = tangents @ w.T
            if cap is not None:  # d/dz cap*tanh(z/cap) = 1 - tanh(z/cap)^2, at the point's logits
                delta = delta * (1 - torch.tanh((w @ at_point) / cap) ** 2)
            best.add(delta, start)
    return best.top_i, best.top_v, best.bot_i, best.bot_v
