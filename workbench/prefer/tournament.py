"""The preference question, asked for ordered pairs of activities, read from two logits at the last position.

Each prompt asks which of two activities (A, then B) the model would rather do. A chat model gets the
question as a user message under its chat template, with the assistant's turn opened (the generation
prompt); a base model without a chat template gets the same question as plain text ending in an answer
cue (:data:`FORMATS`). The answer is read from the logits of the two answer tokens at the last
position only: the final norm and the two rows of the unembedding are applied to the last block's
output there (no LM head over the vocabulary or over the other positions). ``gap = logit(A) -
logit(B)``; ``P(A) = sigmoid(gap)`` is the model's choice between the two.

In the same forward pass, the block output at ``read_layer`` is averaged over each activity's tokens
and projected on unit directions (the valence projection of the activity text, in the prompt).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from workbench.errors import InputError, SettingError

__all__ = ["QuestionFormat", "FORMATS", "PairPrompt", "choose_format", "answer_ids", "build_prompts",
           "ask", "Answers"]


@dataclass(frozen=True)
class QuestionFormat:
    """``template`` holds ``{a}`` then ``{b}``; ``answers`` are the two answer tokens' text; ``chat``: send the
    question as a user message under the chat template (else plain text, BOS added)."""

    name: str
    template: str
    answers: tuple[str, str]
    chat: bool


FORMATS = {
    "chat": QuestionFormat("chat", "Which would you rather do?\nA: {a}\nB: {b}\nAnswer with the letter A or B only.",
                           ("A", "B"), True),
    "plain": QuestionFormat("plain", "Question: Which would you rather do?\nA: {a}\nB: {b}\nAnswer (A or B):",
                            (" A", " B"), False),
}


def choose_format(tokenizer, name: str = "auto") -> QuestionFormat:
    """``chat`` when the tokenizer has a chat template and ``name`` is ``auto``; ``plain`` otherwise."""
    if name == "auto":
        return FORMATS["chat" if getattr(tokenizer, "chat_template", None) else "plain"]
    if name not in FORMATS:
        raise SettingError(f"format must be 'auto' or one of {sorted(FORMATS)}, got {name!r}", "format")
    if FORMATS[name].chat and not getattr(tokenizer, "chat_template", None):
        raise SettingError("format chat: this model's tokenizer has no chat template; the plain format needs none",
                           "format")
    return FORMATS[name]


def answer_ids(tokenizer, fmt: QuestionFormat) -> tuple[int, int]:
    """The token ids of the two answers; an answer that is not one token is an error."""
    ids = []
    for answer in fmt.answers:
        got = tokenizer.encode(answer, add_special_tokens=False)
        if len(got) != 1:
            raise InputError(f"format {fmt.name!r}: the answer {answer!r} is {len(got)} tokens for this tokenizer, "
                             "not one; its logit cannot be read at one position")
        ids.append(got[0])
    if ids[0] == ids[1]:
        raise InputError(f"format {fmt.name!r}: both answers are the same token")
    return ids[0], ids[1]


@dataclass(frozen=True)
class PairPrompt:
    """One ordered pair: activity ``first`` shown as A, ``second`` as B; token ``ids``; the token positions
    of each activity (``spans``) and of the answer turn (``turn``: from there to the end)."""

    first: int
    second: int
    ids: tuple[int, ...]
    spans: tuple[tuple[int, ...], tuple[int, ...]]
    turn: int


def _question(fmt: QuestionFormat, a: str, b: str) -> tuple[str, tuple[int, int], tuple[int, int]]:
    head, rest = fmt.template.split("{a}")
    middle, tail = rest.split("{b}")
    sa = len(head)
    sb = sa + len(a) + len(middle)
    return head + a + middle + b + tail, (sa, sa + len(a)), (sb, sb + len(b))


def _render(tokenizer, fmt: QuestionFormat, question: str) -> tuple[str, int, int, bool]:
    """(text, where the question starts in it, where the answer turn starts, add BOS)."""
    if not fmt.chat:
        return question, 0, question.rindex("\n") + 1, True
    messages = [{"role": "user", "content": question}]
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    closed = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=False)
    if text.count(question) != 1 or not text.startswith(closed):
        raise SettingError("format chat: the chat template does not write the question verbatim once, followed "
                           "by the generation prompt; the plain format needs no template", "format")
    return text, text.index(question), len(closed), False


def build_prompts(tokenizer, fmt: QuestionFormat, texts, pairs) -> list[PairPrompt]:
    """The prompt of each ordered pair ``(first, second)`` of ``texts``."""
    out = []
    for first, second in pairs:
        question, span_a, span_b = _question(fmt, texts[first], texts[second])
        text, at, turn_char, bos = _render(tokenizer, fmt, question)
        enc = tokenizer(text, add_special_tokens=bos, return_offsets_mapping=True)
        offsets = enc["offset_mapping"]
        spans = []
        for s, e in (span_a, span_b):
            s, e = s + at, e + at
            spans.append(tuple(k for k, (ts, te) in enumerate(offsets) if te > ts and ts < e and te > s))
        turn = [k for k, (ts, te) in enumerate(offsets) if te > ts and ts >= turn_char]
        if not all(spans) or not turn:
            raise InputError(f"pair ({texts[first]!r}, {texts[second]!r}): an activity or the answer turn got no token")
        out.append(PairPrompt(first, second, tuple(enc["input_ids"]), (spans[0], spans[1]), turn[0]))
    return out


@dataclass(frozen=True)
class Answers:
    """Per prompt: ``gap`` = logit(A) - logit(B) at the last position; with a read layer, ``projections``
    ``[n_prompts, 2, n_directions]``: each activity's mean block output on its tokens, on each direction."""

    gap: np.ndarray
    projections: np.ndarray | None
    n_tokens: int


def _two_logits(model, hidden: torch.Tensor, ids: tuple[int, int]) -> torch.Tensor:
    from workbench.lens.head import unembedding

    head = model.hf_model.get_output_embeddings()
    rows = unembedding(model)[list(ids)]
    logits = model.final_norm(hidden) @ rows.T.to(hidden.dtype)
    if getattr(head, "bias", None) is not None:
        logits = logits + head.bias[list(ids)].to(logits.dtype)
    logits = logits.float()
    cap = getattr(model.hf_model.config.get_text_config(), "final_logit_softcapping", None)
    return torch.tanh(logits / cap) * cap if cap else logits


def ask(model, prompts: list[PairPrompt], ids: tuple[int, int], read_layer: int | None = None,
        directions: torch.Tensor | None = None, batch_size: int = 32, steer=None, bar=None) -> Answers:
    """Run every prompt (left padded, in batches of similar length) and read the answer.

    ``steer``: ``None``, or a function of ``(the batch's prompts, its attention mask)`` returning the
    context manager that steers that batch (a span that starts at the answer turn differs per batch).
    ``bar``: a tqdm bar updated per prompt.
    """
    import contextlib

    last = model.n_layers - 1
    layers = sorted({last} | ({read_layer} if read_layer is not None else set()))
    gap = np.full(len(prompts), np.nan)
    proj = None if read_layer is None or directions is None else np.full((len(prompts), 2, len(directions)), np.nan)
    units = None if directions is None else directions.float()
    pad = model.tokenizer.pad_token_id if model.tokenizer.pad_token_id is not None else 0
    order = sorted(range(len(prompts)), key=lambda k: len(prompts[k].ids))
    n_tokens = 0
    for b in range(0, len(order), batch_size):
        batch = order[b:b + batch_size]
        width = max(len(prompts[k].ids) for k in batch)
        input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for r, k in enumerate(batch):
            n = len(prompts[k].ids)
            input_ids[r, width - n:] = torch.tensor(prompts[k].ids)
            mask[r, width - n:] = 1
        n_tokens += int(mask.sum())
        got: dict[int, torch.Tensor] = {}
        context = contextlib.nullcontext() if steer is None else steer([prompts[k] for k in batch], mask)
        with context:
            model.run_blocks(input_ids.to(model.device), mask.to(model.device), got.__setitem__, layers=layers)
        with torch.inference_mode():
            logits = _two_logits(model, got[last][:, -1], ids).double().cpu()
            gap[batch] = (logits[:, 0] - logits[:, 1]).numpy()
            if read_layer is not None and proj is not None and units is not None:
                h = got[read_layer].float()
                for r, k in enumerate(batch):
                    shift = width - len(prompts[k].ids)
                    for side, span in enumerate(prompts[k].spans):
                        pooled = h[r, [shift + t for t in span]].mean(dim=0)
                        proj[k, side] = (units.to(pooled.device) @ pooled).double().cpu().numpy()
        if bar is not None:
            bar.update(len(batch))
    return Answers(gap, proj, n_tokens)
