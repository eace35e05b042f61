"""Texts (or token ids) to a padded batch: the one text-to-tokens step of ``run_with_cache``.

Texts are tokenized as ``collect`` tokenizes them (raw text, the tokenizer's
special tokens, so BOS where it adds one; no truncation) and padded on
``padding_side`` with the pad token (0 when there is none).
"""

from __future__ import annotations

import torch
from torch import Tensor

from workbench.errors import InputError

__all__ = ["encode", "str_tokens"]


def _pad(rows: list[list[int]], pad_id: int, side: str) -> tuple[Tensor, Tensor]:
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        left = width - len(row) if side == "left" else 0
        ids[i, left:left + len(row)] = torch.tensor(row, dtype=torch.long)
        mask[i, left:left + len(row)] = 1
    return ids, mask


def encode(tokenizer, inputs, padding_side: str = "right", attention_mask: Tensor | None = None):
    """``(input_ids, attention_mask)`` ``[batch, pos]`` for a text, a list of texts, or token ids.

    Token ids may be a ``[pos]`` or ``[batch, pos]`` tensor (with ``attention_mask``, else
    every position counts) or a list of id lists (padded here).
    """
    if padding_side not in ("left", "right"):
        raise InputError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    if isinstance(inputs, Tensor):
        ids = inputs.long().unsqueeze(0) if inputs.ndim == 1 else inputs.long()
        if ids.ndim != 2:
            raise InputError(f"token ids must be [pos] or [batch, pos], got shape {tuple(inputs.shape)}")
        mask = torch.ones_like(ids) if attention_mask is None else attention_mask.long().reshape(ids.shape)
        return ids, mask
    if attention_mask is not None:
        raise InputError("attention_mask goes with a tensor of token ids, not with texts")
    if isinstance(inputs, str):
        inputs = [inputs]
    inputs = list(inputs)
    if not inputs:
        raise InputError("no texts to run")
    if all(isinstance(x, str) for x in inputs):
        rows = tokenizer(inputs, add_special_tokens=True, truncation=False, return_attention_mask=False)["input_ids"]
    elif all(isinstance(x, (list, tuple)) and all(isinstance(t, int) for t in x) for x in inputs):
        rows = [list(x) for x in inputs]
    else:
        raise InputError("expected a text, a list of texts, a tensor of token ids or a list of id lists")
    if any(len(r) == 0 for r in rows):
        raise InputError(f"text(s) {[i for i, r in enumerate(rows) if not r]} have no tokens")
    return _pad(rows, pad_id, padding_side)


def str_tokens(tokenizer, input_ids: Tensor, attention_mask: Tensor) -> tuple[tuple[str, ...], ...]:
    """Each row's real tokens (padding left out), each decoded on its own."""
    return tuple(tuple(tokenizer.decode([t]) for t in row[m.bool()].tolist())
                 for row, m in zip(input_ids, attention_mask))
