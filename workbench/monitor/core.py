"""``monitor``: every emotion vector read token by token over texts and chat transcripts.

At block ``layer``, each token's ``resid_post`` ``h_t`` is projected on every
emotion's unit vector ``u_e`` and z-scored against the same projection over the
neutral texts' tokens: ``z = (h_t . u_e - mean_e) / sd_e``. Position 0 is never
scored, in the monitored texts or the neutral ones: it is the BOS token, or
without one the first token, whose residual (the attention sink) dwarfs the rest.
The monitored inputs are read in batches (one forward pass per batch, right
padding, positions from the attention mask); the neutral statistics come from
one forward pass over all neutral texts, and are recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

from workbench.collect.plan import make_batches, texts_sha256
from workbench.errors import InputError
from workbench.monitor.result import MonitorResult, MonitorText

if TYPE_CHECKING:
    from workbench.analysis.vectors import EmotionVectors
    from workbench.data.ratings import Ratings
    from workbench.models.adapter import ModelAdapter

__all__ = ["monitor", "unit_vectors", "neutral_token_stats", "block_outputs"]


def unit_vectors(vectors, layer: int, emotions="all", kind: str = "contrast") -> tuple[tuple[str, ...], torch.Tensor]:
    """The chosen emotions and their unit vectors ``[n_emotions, d_model]`` (float64) at ``layer``."""
    names = tuple(vectors.emotions) if emotions == "all" else tuple(emotions)
    if not names:
        raise InputError("monitor: no emotions chosen")
    table = vectors.kind(kind)[vectors.layer_index(layer)].double()
    rows = table[[vectors.emotion_index(e) for e in names]]
    norms = rows.norm(dim=1)
    if not torch.isfinite(rows).all() or (norms == 0).any():
        bad = [names[i] for i in torch.nonzero(~(norms > 0) | ~torch.isfinite(norms)).flatten().tolist()]
        raise InputError(f"monitor: the {kind} vectors of {bad} at layer {layer} are zero or not finite")
    return names, rows / norms[:, None]


def block_outputs(model, rows: list[list[int]], layer: int, max_tokens_per_batch: int | None = None) -> list[torch.Tensor]:
    """``resid_post`` of block ``layer`` for each token sequence: float64 ``[len(row), d_model]`` each.

    Sequences are batched (longest first, up to ``max_tokens_per_batch`` padded tokens; ``None``: all in
    one batch) and right-padded.
    """
    lengths = [len(r) for r in rows]
    budget = max_tokens_per_batch or max(lengths) * len(rows)
    pad = model.tokenizer.pad_token_id if model.tokenizer.pad_token_id is not None else 0
    out: list[torch.Tensor | None] = [None] * len(rows)
    for batch in make_batches(lengths, budget):
        width = max(lengths[i] for i in batch)
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for j, i in enumerate(batch):
            ids[j, :lengths[i]] = torch.tensor(rows[i])
            mask[j, :lengths[i]] = 1
        held: dict = {}

        def read(_layer, h, held=held):
            held["h"] = h.detach().double().cpu()

        model.run_blocks(ids.to(model.device), mask.to(model.device), read, layers=[layer])
        for j, i in enumerate(batch):
            out[i] = held["h"][j, :lengths[i]]
    return out


def neutral_token_stats(model, units: torch.Tensor, layer: int, neutral_texts, max_length: int = 512):
    """Mean and standard deviation (ddof 1) of each unit vector's projection over the neutral texts'
    tokens (position 0 left out), from one forward pass over all of them; and what was used."""
    texts = list(neutral_texts)
    if not texts or not all(isinstance(t, str) and t.strip() for t in texts):
        raise InputError("monitor: the neutral texts must be non-empty strings (at least one)")
    rows = [list(r)[:max_length] for r in model.tokenizer(texts, add_special_tokens=True)["input_ids"]]
    hidden = block_outputs(model, rows, layer)
    proj = torch.cat([h[1:] for h in hidden]) @ units.T
    if proj.shape[0] < 2:
        raise InputError(f"monitor: the neutral texts hold {proj.shape[0]} scored token(s); at least 2 are needed")
    sd = proj.std(dim=0)
    if (sd == 0).any():
        raise InputError("monitor: an emotion's projection does not vary over the neutral tokens (sd 0)")
    info = {"neutral_texts": len(texts), "neutral_tokens": int(proj.shape[0]), "neutral_sha256": texts_sha256(texts),
            "neutral_max_length": max_length}
    return proj.mean(dim=0), sd, info


def _pieces(text: str, offsets) -> list[str]:
    """Each token as it reads in ``text``, with the spacing before it."""
    out, end = [], 0
    for a, b in offsets:
        out.append(text[end:b] if a >= end else text[a:b])
        end = max(end, b)
    return out


def _encode(tokenizer, item, row: int, chat_template):
    """``(ids, pieces, message, roles, messages)`` of a plain text or a transcript."""
    from workbench.data.chat import is_transcript, render_chat

    if isinstance(item, str):
        enc = tokenizer(item, add_special_tokens=True, return_offsets_mapping=True)
        ids = list(enc["input_ids"])
        if len(ids) < 2 or not item.strip():
            raise InputError(f"monitor: text {row} is shorter than one token (after the first position, "
                             f"which is not scored): {item!r:.60}")
        pieces = _pieces(item, enc["offset_mapping"])
        return ids, pieces, [0] * len(ids), ["text"] * len(ids), [{"role": "text", "content": item}]
    if not is_transcript(item):
        raise InputError(f"monitor: input {row} is a {type(item).__name__}, not a text or a chat transcript "
                         "(a list of {'role', 'content'} messages)")
    chat = render_chat(tokenizer, item, row=row, chat_template=chat_template)
    return (list(chat.ids), _pieces(chat.text, chat.offsets), list(chat.message), list(chat.roles),
            list(chat.messages))


def monitor(model: ModelAdapter, vectors: EmotionVectors, text_or_messages: str | list[dict] | Sequence[str | list[dict]],
            layer: int, emotions: str | Sequence[str] = "all", *, kind: str = "contrast",
            neutral_texts: Sequence[str] | None = None, ratings: Ratings | None = None,
            labels: Sequence[str] | None = None, max_length: int = 2048,
            max_tokens_per_batch: int = 8192, chat_template: str | None = None) -> MonitorResult:
    """Per-token z-scores of every emotion vector at block ``layer`` over one or more texts/transcripts.

    Args:
        model: a :class:`~workbench.models.ModelAdapter` (the run's model).
        vectors: :class:`~workbench.analysis.EmotionVectors` with ``layer`` among their layers.
        text_or_messages: a text, a transcript (a list of ``{"role", "content"}`` messages), or a list of them.
        emotions: ``"all"`` or the emotions to read.
        kind: which vectors: ``"contrast"`` (default), ``"projected"`` or ``"raw"``; made unit length.
        neutral_texts: the z-score baseline (default: the bundled neutral texts), read raw.
        ratings: valences for ordering figures (default: the project's ratings).
        labels: a label per input (default ``text 1``, ``text 2``, ...).
        max_length: inputs longer than this many tokens are an error (the monitor never cuts a transcript).
        max_tokens_per_batch: padded tokens per forward pass over the inputs.
        chat_template: a Jinja template instead of the tokenizer's own.
    """
    from workbench.data.chat import is_transcript

    (layer,) = model.check_layers([layer])
    if vectors.d_model != model.d_model:
        raise InputError(f"monitor: the vectors have d_model {vectors.d_model}, {model.name} has {model.d_model}")
    single = isinstance(text_or_messages, str) or is_transcript(text_or_messages)
    items = [text_or_messages] if single else list(text_or_messages)
    if not items:
        raise InputError("monitor: no text or transcript given")
    labels = [f"text {i + 1}" for i in range(len(items))] if labels is None else list(labels)
    if len(labels) != len(items):
        raise InputError(f"monitor: {len(labels)} labels for {len(items)} inputs")
    names, units = unit_vectors(vectors, layer, emotions, kind)
    encoded = [_encode(model.tokenizer, item, i, chat_template) for i, item in enumerate(items)]
    for i, (ids, *_rest) in enumerate(encoded):
        if len(ids) > max_length:
            raise InputError(f"monitor: input {i} has {len(ids)} tokens, more than max_length={max_length}")
    if neutral_texts is None:
        from workbench.data.neutral import load_neutral_texts

        neutral_texts = load_neutral_texts()
    mean, sd, info = neutral_token_stats(model, units, layer, neutral_texts)
    hidden = block_outputs(model, [e[0] for e in encoded], layer, max_tokens_per_batch)
    texts = []
    for label, (_ids, pieces, message, roles, messages), h in zip(labels, encoded, hidden):
        z = ((h[1:] @ units.T - mean) / sd).numpy()
        texts.append(MonitorText(label, tuple(pieces[1:]), z, tuple(message[1:]), tuple(roles[1:]), tuple(messages)))
    if ratings is None:
        from workbench.data.ratings import load_ratings

        ratings = load_ratings()
    rated = dict(zip(ratings.emotions, map(float, ratings.valence)))
    valence = tuple(rated.get(e, float("nan")) for e in names)
    info.update(model=model.name, kind=kind, vectors="unit length", first_position="not scored",
                weights_sha256=getattr(model.spec, "weights_sha256", None))
    return MonitorResult(layer, names, tuple(texts), mean.numpy(), sd.numpy(), valence, info)
