"""Reading the battery: the residual stream at block ``layer`` where each item is scored.

Every item is a chat transcript ending with a user message (a ladder rung is its
template with the rung's value, as one user message), rendered with the chat
template *and its generation prompt*, so the assistant's turn is open. Two
readings per item:

- ``user_last``: the last token of the last user message's content;
- ``opening``: the mean over the generation prompt's tokens, the assistant
  turn's first tokens before any reply (ChatML ``<|im_start|>assistant\\n``:
  4 tokens for SmolLM2, whose tokenizer splits "assistant"; Gemma
  ``<start_of_turn>model\\n``: 3 tokens). They are the tokens the rendered
  text gains with ``add_generation_prompt=True``.
  Nothing is generated, so the reading is deterministic and one forward pass
  per item gives both.

The neutral texts (read raw, every token but the first) give the mean and covariance
of the stream at the layer, against which projections are z-scored.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from workbench.data.chat import render_chat
from workbench.errors import InputError

__all__ = ["BatteryStates", "read_battery", "battery_items", "chat_readings", "block_states", "neutral_stats"]


@dataclass(frozen=True, eq=False)
class BatteryStates:
    """The battery's readings at one layer (float64 arrays) and the neutral tokens' statistics there."""

    layer: int
    items: tuple[dict, ...]  # kind, name, target, rung (None for a scenario), value
    user_last: np.ndarray  # [n_items, d_model]
    opening: np.ndarray  # [n_items, d_model]
    n_opening: tuple[int, ...]
    neutral_mean: np.ndarray  # [d_model]
    neutral_cov: np.ndarray  # [d_model, d_model]
    n_neutral_tokens: int
    info: dict = field(default_factory=dict)


def battery_items(battery) -> list[tuple[dict, list[dict]]]:
    """``(item, messages)`` for every ladder rung (in rung order) then every scenario."""
    out = []
    for ladder in battery.ladders:
        for rung, value in enumerate(ladder.values):
            out.append(({"kind": "ladder", "name": ladder.name, "target": ladder.target, "rung": rung,
                         "value": value, "line": ladder.line}, ladder.messages(rung)))
    for s in battery.scenarios:
        out.append(({"kind": "scenario", "name": s.name, "target": s.target, "rung": None, "value": None,
                     "line": s.line}, list(s.messages)))
    return out


def chat_readings(tokenizer, messages, row, chat_template=None) -> tuple[list[int], int, list[int]]:
    """Token ids (generation prompt included), the user's last content position and the opening positions."""
    open_ = render_chat(tokenizer, messages, row=row, chat_template=chat_template, add_generation_prompt=True)
    closed = render_chat(tokenizer, messages, row=row, chat_template=chat_template, add_generation_prompt=False)
    n = len(closed.ids)
    if len(open_.ids) <= n or open_.ids[:n] != closed.ids:
        raise InputError(f"{row}: the chat template's generation prompt does not extend the transcript's tokens "
                         "(no assistant opening to read)")
    user = [i for i, r in enumerate(open_.roles) if r == "user"]
    if not user:
        raise InputError(f"{row}: no user token to read")
    return list(open_.ids), user[-1], list(range(n, len(open_.ids)))


def block_states(model, rows: list[list[int]], positions: list[list[int]], layer: int,
                 max_tokens_per_batch: int = 2048) -> list[torch.Tensor]:
    """``resid_post`` of block ``layer`` at ``positions[i]`` of each id row: float64 ``[len(positions[i]), d]``."""
    from workbench.collect.plan import make_batches

    out: list[torch.Tensor | None] = [None] * len(rows)
    pad = model.tokenizer.pad_token_id if model.tokenizer.pad_token_id is not None else 0
    for batch in make_batches([len(r) for r in rows], max_tokens_per_batch):
        width = max(len(rows[i]) for i in batch)
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for b, i in enumerate(batch):
            ids[b, :len(rows[i])] = torch.tensor(rows[i])
            mask[b, :len(rows[i])] = 1
        held: dict = {}

        def read(_layer, h, held=held):
            held["h"] = h.detach().double().cpu()

        model.run_blocks(ids.to(model.device), mask.to(model.device), read, layers=[layer])
        for b, i in enumerate(batch):
            out[i] = held["h"][b, positions[i]]
    return out


def neutral_stats(model, texts, layer: int, max_length: int = 512) -> tuple[np.ndarray, np.ndarray, int]:
    """Mean ``[d]`` and covariance ``[d, d]`` (ddof 1) of the stream at ``layer`` over the texts' tokens.

    Position 0 is left out whether or not it is a BOS token: without one, the first token is the
    attention sink, whose residual dwarfs the rest (the same rule as the monitor's). Texts are cut at
    ``max_length`` tokens.
    """
    rows = [list(r)[:max_length] for r in model.tokenizer(list(texts), add_special_tokens=True)["input_ids"]]
    positions = [list(range(1, len(r))) for r in rows]
    states = torch.cat(block_states(model, rows, positions, layer)).numpy()
    if len(states) < 2:
        raise InputError("neutral texts: fewer than 2 tokens to z-score against")
    return states.mean(axis=0), np.cov(states, rowvar=False), len(states)


def read_battery(model, battery, layer: int, neutral_texts=None, chat_template: str | None = None) -> BatteryStates:
    """Read every battery item at block ``layer`` (see the module docstring); ``neutral_texts``: default
    the project's bundled ones."""
    from workbench.data.neutral import load_neutral_texts

    (layer,) = model.check_layers([layer])
    items, rows, positions, n_open = [], [], [], []
    for item, messages in battery_items(battery):
        where = f"battery item at line {item['line']} ({item['name']}" + (
            f", rung {item['rung'] + 1})" if item["rung"] is not None else ")")
        ids, last, opening = chat_readings(model.tokenizer, messages, where, chat_template)
        items.append(item)
        rows.append(ids)
        positions.append([last, *opening])
        n_open.append(len(opening))
    states = block_states(model, rows, positions, layer)
    user_last = torch.stack([s[0] for s in states]).numpy()
    opening = torch.stack([s[1:].mean(dim=0) for s in states]).numpy()
    texts = list(neutral_texts) if neutral_texts is not None else list(load_neutral_texts())
    mean, cov, n = neutral_stats(model, texts, layer)
    info = {"model": model.name, "source": battery.source, "n_neutral_texts": len(texts),
            "opening": "mean over the generation prompt's tokens (the assistant turn opened, nothing generated)"}
    return BatteryStates(int(layer), tuple(items), user_last, opening, tuple(n_open), mean, cov, n, info)
