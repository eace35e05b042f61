"""What to pool and how to batch it: tokenization, pooled spans, token-budget batches.

Positions count from a text's first token (the BOS token when the tokenizer
adds one), whatever the padding side. A text is pooled over positions
``>= token_offset``; padding and BOS are never pooled. A chat transcript (a
list of messages, see :mod:`workbench.data.chat`) is pooled over the content
tokens of the messages ``positions`` selects, from the ``token_offset``-th
token of that span on.
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
    """Token ids per text and where its pooled span starts (``start``; it ends at the text's end).

    ``pooled[i]``, when not ``None``, lists the pooled positions of text ``i`` instead (chat spans).
    """

    ids: tuple[tuple[int, ...], ...]
    start: tuple[int, ...]
    truncated: tuple[int, ...]  # indices of texts cut at max_length
    pooled: tuple[tuple[int, ...] | None, ...] | None = None

    def positions(self, i: int) -> range | tuple[int, ...]:
        """The pooled positions of text ``i``."""
        chosen = None if self.pooled is None else self.pooled[i]
        if chosen is not None:
            return chosen
        return range(self.start[i], max(self.start[i], len(self.ids[i])))

    def n_pooled(self, i: int) -> int:
        return len(self.positions(i))

    def short(self) -> list[int]:
        return [i for i in range(len(self.ids)) if self.n_pooled(i) == 0]


def plan_tokens(tokenizer, texts, token_offset: int, max_length: int, positions: str | None = None,
                chat_template: str | None = None) -> TokenPlan:
    if token_offset < 0:
        raise InputError(f"token_offset must be >= 0, got {token_offset}")
    if max_length <= token_offset:
        raise InputError(f"max_length ({max_length}) must exceed token_offset ({token_offset})")
    from workbench.data.chat import POSITIONS, is_transcript

    if positions is not None and positions not in POSITIONS:
        raise InputError(f"positions must be one of {list(POSITIONS)}, got {positions!r}")
    texts, bos = list(texts), tokenizer.bos_token_id
    chats = [i for i, t in enumerate(texts) if not isinstance(t, str)]
    for i in chats:
        if not is_transcript(texts[i]):
            raise InputError(f"text {i} is a {type(texts[i]).__name__}, not a string or a chat transcript "
                             "(a list of {'role', 'content'} messages)")
    if positions not in (None, "all") and len(chats) < len(texts):
        first = next(i for i, t in enumerate(texts) if isinstance(t, str))
        raise InputError(f"text {first} is a plain text: positions={positions!r} needs chat transcripts "
                         "(lists of messages), or read the texts as assistant turns (read_as='assistant')")
    ids = []  # (index, ids cut at max_length, start, cut?)
    plain = [i for i, t in enumerate(texts) if isinstance(t, str)]
    for begin in range(0, len(plain), _CHUNK):  # the untruncated ids of a whole large corpus would be big
        part = plain[begin:begin + _CHUNK]
        encoded = tokenizer([texts[i] for i in part], add_special_tokens=True, truncation=False,
                            return_attention_mask=False)["input_ids"]
        for i, row in zip(part, encoded):
            first_content = 1 if (bos is not None and row and row[0] == bos) else 0
            ids.append((i, tuple(row[:max_length]), max(token_offset, first_content), len(row) > max_length))
    pooled: dict[int, tuple[int, ...]] = {}
    for i in chats:
        row = _chat_row(tokenizer, texts[i], i, positions or "assistant", chat_template, token_offset, max_length,
                        pooled)
        ids.append((i, tuple(row[:max_length]), len(row), len(row) > max_length))
    ids.sort(key=lambda item: item[0])
    truncated = [i for i, _, _, cut in ids if cut]
    spans = tuple(pooled.get(i) for i in range(len(texts))) if chats else None
    return TokenPlan(tuple(r for _, r, _, _ in ids), tuple(s for _, _, s, _ in ids), tuple(truncated), spans)


def _chat_row(tokenizer, messages, i, positions, chat_template, token_offset, max_length, pooled):
    """Ids of transcript ``i`` and (into ``pooled``) its span's positions past the offset and inside max_length."""
    from workbench.data.chat import render_chat

    chat = render_chat(tokenizer, messages, row=i, chat_template=chat_template)
    span = chat.span(positions)
    if not span:
        raise InputError(f"transcript {i}: the {positions} span is empty (no {positions} message to pool)")
    pooled[i] = tuple(p for p in span[token_offset:] if p < max_length)
    return chat.ids


def make_batches(lengths, max_tokens_per_batch: int, order=None) -> list[list[int]]:
    """Texts sorted by length (longest first), batches filled up to ``max_tokens_per_batch`` padded tokens."""
    if max_tokens_per_batch < 1:
        raise InputError(f"max_tokens_per_batch must be >= 1, got {max_tokens_per_batch}")
    order = sorted(order if order is not None else range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    current: list[int] = []
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
        weights[row, [left + p for p in plan.positions(i)]] = 1.0
    return input_ids, mask, weights


def texts_sha256(texts) -> str:
    return hashlib.sha256(json.dumps(list(texts), ensure_ascii=False).encode("utf-8")).hexdigest()
