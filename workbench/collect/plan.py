"""What to pool and how to batch it: tokenization, pooled spans, token-budget batches.

Positions count from a text's first token (the BOS token when the tokenizer
adds one), whatever the padding side. A text is pooled over positions
``>= token_offset``; padding and BOS are never pooled.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import torch

from workbench.errors import InputError

__all__ = ["TokenPlan", "plan_tokens", "make_batches", "texts_sha256", "pad_batch"]

_CHUNK = 256  # texts tokenized at a time


@dataclass(frozen=True)
class TokenPlan:
    """Token ids per text and where its pooled span starts (``start``; it ends at the text's end)."""

    ids: tuple[tuple[int, ...], ...]
    start: tuple[int, ...]
    truncated: tuple[int, ...]  # indices of texts cut at max_length

    def n_pooled(self, i: int) -> int:
        return max(0, len(self.ids[i]) - self.start[i])

    def short(self) -> list[int]:
        return [i for i in range(len(self.ids)) if self.n_pooled(i) == 0]


def plan_tokens(tokenizer, texts, token_offset: int, max_length: int) -> TokenPlan:
    if token_offset < 0:
        raise InputError(f"token_offset must be >= 0, got {token_offset}")
    if max_length <= token_offset:
        raise InputError(f"max_length ({max_length}) must exceed token_offset ({token_offset})")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise InputError(f"text {i} is a {type(text).__name__}, not a string")
    texts, bos = list(texts), tokenizer.bos_token_id
    ids, start, truncated = [], [], []
    for begin in range(0, len(texts), _CHUNK):  # the untruncated ids of a whole large corpus would be big
        encoded = tokenizer(texts[begin:begin + _CHUNK], add_special_tokens=True, truncation=False,
                            return_attention_mask=False)["input_ids"]
        for i, row in enumerate(encoded, start=begin):
            if len(row) > max_length:
                truncated.append(i)
                row = row[:max_length]
            first_content = 1 if (bos is not None and row and row[0] == bos) else 0
            ids.append(tuple(row))
            start.append(max(token_offset, first_content))
    return TokenPlan(tuple(ids), tuple(start), tuple(truncated))


def make_batches(lengths, max_tokens_per_batch: int, order=None) -> list[list[int]]:
    """Texts sorted by length (longest first), batches filled up to ``max_tokens_per_batch`` padded tokens."""
    if max_tokens_per_batch < 1:
        raise InputError(f"max_tokens_per_batch must be >= 1, got {max_tokens_per_batch}")
    order = sorted(order if order is not None else range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches, current = [], []
    for i in order:
        width = lengths[current[0]] if current else lengths[i]
        if current and (len(current) + 1) * width > max_tokens_per_batch:
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


def pad_batch(plan: TokenPlan, batch: list[int], pad_id: int, side: str = "right"):
    """``input_ids``, ``attention_mask`` and the pooling weights ``[batch, seq]`` (1 where pooled)."""
    width = max(len(plan.ids[i]) for i in batch)
    input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    weights = torch.zeros((len(batch), width), dtype=torch.float32)
    for row, i in enumerate(batch):
        tokens = plan.ids[i]
        left = width - len(tokens) if side == "left" else 0
        input_ids[row, left:left + len(tokens)] = torch.tensor(tokens)
        mask[row, left:left + len(tokens)] = 1
        weights[row, left + plan.start[i]:left + len(tokens)] = 1.0
    return input_ids, mask, weights


def texts_sha256(texts) -> str:
    return hashlib.sha256(json.dumps(list(texts), ensure_ascii=False).encode("utf-8")).hexdigest()
