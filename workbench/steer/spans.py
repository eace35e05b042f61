"""Which sequence positions a steering hook changes: every position, the last, the generated tokens, the
assistant's turn.

A hook sees one forward pass at a time. With a KV cache, generation runs the prompt once and then one
position per new token, so a span that names absolute positions ("from position ``start`` on") has to
know where a pass starts. :class:`PositionTracker` counts it: a pass longer than one token starts a
sequence at position 0 (a prompt, or a whole text read at once); a one-token pass after another pass
continues it (a decoding step). A fresh one-token pass right after another pass is therefore read as
a decoding step: use a new ``with steering(...)`` block for each generate call or text batch.

Spans (:data:`POSITIONS`):

- ``all``: every position of every pass.
- ``last``: the last position of each pass (the last prompt token and every generated token).
- ``generated``: positions from ``start`` on; ``start`` defaults to the length of the first pass in the
  block (the prompt of a generate call), so the prompt is never steered and every generated token is.
- ``assistant``: positions from ``start`` on, where ``start`` (required) is the first position of the
  assistant's turn (:func:`assistant_start`): its header, then everything it generates.

``start`` is an int or one int per row (left-padded batches: absolute positions in the padded rows).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from workbench.errors import InputError
from workbench.steer import names as _names

__all__ = ["POSITIONS", "PositionTracker", "make_select", "assistant_start"]

POSITIONS = _names.POSITIONS
NEEDS_START = ("assistant",)


class PositionTracker:
    """Absolute positions of successive forward passes (see the module docstring)."""

    def __init__(self):
        self.end: int | None = None
        self.first_length: int | None = None

    def __call__(self, seq: int) -> torch.Tensor:
        first = self.end if (seq == 1 and self.end is not None) else 0
        if self.first_length is None:
            self.first_length = seq
        self.end = first + seq
        return torch.arange(first, first + seq)


def _all(hidden: torch.Tensor) -> slice:
    return slice(None)


def _last(hidden: torch.Tensor) -> slice:
    return slice(hidden.shape[1] - 1, None)


def _start_tensor(start) -> torch.Tensor | None:
    if start is None:
        return None
    t = torch.as_tensor(start)
    if t.dtype.is_floating_point or t.dtype == torch.bool or t.ndim > 1 or (t < 0).any():
        raise InputError(f"start must be a non-negative integer or one per row, got {start!r}")
    return t.long()


def make_select(positions: str, start=None) -> Callable[[torch.Tensor], slice | torch.Tensor]:
    """``select(hidden)``: the positions of this pass to change (a slice, or a bool mask ``[batch, seq]``).

    Each call makes a new tracker: one per layer's hook, so every layer counts the same passes.
    """
    if positions not in POSITIONS:
        raise InputError(f"positions must be one of {list(POSITIONS)}, got {positions!r}")
    if positions in NEEDS_START and start is None:
        raise InputError(f"positions={positions!r} needs start= (the first position of the assistant's turn, "
                         "e.g. from workbench.steer.spans.assistant_start)")
    if positions == "all":
        return _all
    if positions == "last":
        return _last
    begin = _start_tensor(start)
    tracker = PositionTracker()

    def select(hidden: torch.Tensor) -> torch.Tensor:
        batch, seq = hidden.shape[:2]
        pos = tracker(seq)
        at = begin if begin is not None else torch.tensor(tracker.first_length)
        if at.ndim == 1 and len(at) != batch:
            raise InputError(f"start has {len(at)} rows; the forward pass has {batch}")
        mask = pos[None, :] >= at.reshape(-1, 1)
        return mask.expand(batch, seq).to(hidden.device)

    return select


def assistant_start(attention_mask: torch.Tensor, n_turn_tokens) -> torch.Tensor:
    """Per row, the absolute position of the first of its last ``n_turn_tokens`` real tokens: where the
    assistant's turn starts when each prompt ends with a chat template's generation prompt of that many
    tokens (left or right padding)."""
    mask = torch.as_tensor(attention_mask).long()
    lengths = mask.sum(dim=1)
    n = torch.as_tensor(n_turn_tokens).long().expand_as(lengths)
    if (n < 1).any() or (n > lengths).any():
        raise InputError(f"assistant_start: {n_turn_tokens} turn tokens do not fit rows of {lengths.tolist()} tokens")
    left_padded = mask[:, -1] == 1
    ends = torch.where(left_padded, torch.full_like(lengths, mask.shape[1]), lengths)
    return ends - n
