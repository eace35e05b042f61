"""Story generation, the paper's step 1: a model writes stories in which a character feels an emotion.

:func:`generate_stories` asks a model (``.hf_model``, a Hugging Face causal LM, and ``.tokenizer``)
for stories per (emotion, topic), in batches, through its chat template when it has one. Stories
that name their emotion, are too short or are missing are asked for again, one at a time, up to
``max_tries`` attempts; what still fails is recorded in the row. Finished rows are appended and
fsynced, so a rerun skips the rows already there and continues where a killed run stopped.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.data.forms import names_emotion
from workbench.data.story_file import append_row, check_out_file, read_done
from workbench.errors import InputError
from workbench.resources import data_path

if TYPE_CHECKING:
    from workbench.models.adapter import ModelAdapter

__all__ = ["GenerationConfig", "GenerationResult", "generate_stories", "split_stories", "story_prompt",
           "load_topics", "check_out_file", "DEFAULT_TOPICS"]

log = logging.getLogger(__name__)
DEFAULT_TOPICS = data_path("topics.txt")

_NUMBER_WORDS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
_BRACKET_MARK = re.compile(r"[*_]*\[[ \t]*story[ \t]*(\d+)[ \t]*\][*_]*[ \t]*[:.\-–—]?", re.IGNORECASE)
_STORY_MARK = re.compile(
    r"^[ \t]*(?:#+[ \t]*)?[*_]*[ \t]*story[ \t]*(\d+|" + "|".join(_NUMBER_WORDS)
    + r")\b[ \t]*[*_]*[ \t]*[:.)\-–—]?[ \t]*[*_]*", re.IGNORECASE | re.MULTILINE)
_LIST_MARK = re.compile(r"^[ \t]*[*_]*(\d+)[.)][*_]*[ \t]+", re.MULTILINE)
_RULE_LINE = re.compile(r"^[ \t]*(?:-{3,}|\*{3,}|_{3,})[ \t]*$", re.MULTILINE)


def _first_heading(text: str) -> bool:
    return any(m.group(1) == "1" for m in _BRACKET_MARK.finditer(text))


def _clean(text: str) -> str:
    """Without rule lines, and without the white space and emphasis marks (``*``, ``_``) around it in any
    mix, so that cleaning a clean story changes nothing."""
    text = _RULE_LINE.sub("", text)
    while (cleaned := text.strip().strip("*_")) != text:
        text = cleaned
    return text


def _pieces(response: str, marks: list[re.Match], expected: int) -> list[str]:
    """The text after each heading numbered 1..expected (first non-empty one per number), in number order."""
    out: dict[int, str] = {}
    for m, nxt in zip(marks, marks[1:] + [None]):
        body = response[m.end(): nxt.start() if nxt else len(response)]
        first, nl, rest = body.partition("\n")
        heading = m.group(0).lstrip().startswith("#") or first.rstrip().endswith(("**", "__"))
        if nl and first.strip() and heading:
            body = rest  # "**Story 1: A Title**" or "## Story 1 - Title": drop the title line
        text, key = _clean(body), m.group(1).lower()
        number = _NUMBER_WORDS.index(key) + 1 if key in _NUMBER_WORDS else int(key)
        if 1 <= number <= expected and number not in out and re.search(r"\w", text):
            out[number] = text
    return [out[k] for k in sorted(out)]


def split_stories(response: str, expected: int) -> list[str]:
    """The stories of a response, at most ``expected`` of them.

    Recognises ``[story 1]`` (anywhere), ``Story 1:`` (at a line start), ``**Story 1**``, ``## Story One``
    (titles on the heading's line are dropped) and, failing those, a numbered list ``1. ... 2. ...``.
    Text before the first heading, headings numbered above ``expected`` and repeated or empty headings
    are dropped. A response without headings is one story when one was expected, else nothing.
    """
    if expected < 1:
        raise ValueError(f"split_stories: expected must be >= 1, got {expected}")
    marks = list(_BRACKET_MARK.finditer(response)) or list(_STORY_MARK.finditer(response))
    if not marks:  # a numbered list: its items 1, 2, 3... (other numbered lines are text)
        for m in _LIST_MARK.finditer(response):
            marks += [m] if int(m.group(1)) == len(marks) + 1 else []
        marks = marks if len(marks) >= min(2, expected) else []
    if marks:
        return _pieces(response, marks, expected)
    text = _clean(response)
    return [text] if expected == 1 and re.search(r"\w", text) else []  # as for a headed story: words needed


class _StopAtHeading:
    """Stops a row once its new text holds the heading ``[story {n + 1}]``: it has written what was asked.

    A transformers stopping criterion (any callable of this signature; torch is imported when it runs).
    """

    def __init__(self, tokenizer, start: int, n: int, every: int = 8):
        self.tok, self.start, self.every = tokenizer, start, every
        self.pattern = re.compile(rf"\[[ \t]*story[ \t]*{n + 1}[ \t]*\]", re.IGNORECASE)

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        if (input_ids.shape[1] - self.start) % self.every == 0:
            for i, row in enumerate(input_ids[:, self.start:].tolist()):
                done[i] = bool(self.pattern.search(self.tok.decode(row, skip_special_tokens=True)))
        return done


def story_prompt(emotion: str, topic: str, n: int) -> str:
    """The request for ``n`` stories on ``topic`` whose character feels ``emotion`` without naming it."""
    if n == 1:
        ask, heads = "1 short story", "Begin the story with the heading [story 1] on a line of its own."
    else:
        ask = f"{n} short stories"
        heads = ("Begin each story with its heading on a line of its own: "
                 + ", ".join(f"[story {i}]" for i in range(1, n + 1)) + ". Each story starts afresh, with "
                 "different people and places and its own turns of phrase; use first-person narration in "
                 "some stories and third-person in others.")
    return (f"Write {ask} of 100 to 180 words on this premise: {topic}\n"
            f"In {'the story' if n == 1 else 'each story'}, a character feels {emotion}.\n{heads}\n"
            f"Never write the word '{emotion}', any form of it, or a close synonym. Let the reader infer "
            "the feeling from what the character does, says, senses and thinks, and from the situation.")


@dataclass(frozen=True)
class GenerationConfig:
    """Batching, sampling and retry settings of :func:`generate_stories` (recorded in every row)."""

    batch_size: int = field(default=4, metadata={"help": "prompts generated together"})
    tokens_per_story: int = field(default=320, metadata={"help": "new-token budget per requested story"})
    temperature: float = field(default=0.9, metadata={"help": "sampling temperature (0: greedy)"})
    top_p: float = field(default=0.95, metadata={"help": "nucleus sampling mass"})
    max_tries: int = field(default=3, metadata={"help": "attempts per story before it is recorded as failed"})
    min_words: int = field(default=40, metadata={"help": "shorter stories are asked for again"})
    chat_template: bool | None = field(default=None, metadata={
        "help": "use the tokenizer's chat template (default: when it has one)"})

    def __post_init__(self):
        bad = [f"{n} must be >= {lo}, got {getattr(self, n)}" for n, lo in (
            ("batch_size", 1), ("tokens_per_story", 1), ("max_tries", 1), ("min_words", 0), ("temperature", 0))
            if getattr(self, n) < lo] + ([f"top_p must be in (0, 1], got {self.top_p}"] if not 0 < self.top_p <= 1 else [])
        if bad:
            raise InputError("GenerationConfig: " + "; ".join(bad))


@dataclass(frozen=True)
class GenerationResult:
    """What one call wrote: rows written and skipped (already there), stories kept and failed."""

    out_path: Path
    rows_written: int
    rows_skipped: int
    stories_written: int
    stories_failed: int


def load_topics(path: str | Path | None = None) -> tuple[str, ...]:
    """One premise per line (blank lines and ``#`` comments skipped); default ``data/topics.txt``."""
    path = Path(path) if path is not None else DEFAULT_TOPICS
    from workbench.io import read_text

    text = read_text(path, f"topics file {path}")
    seen: dict[str, int] = {}
    for line, raw in enumerate(text.splitlines(), start=1):
        t = raw.strip()
        if t in seen:
            raise InputError(f"topics file {path}, line {line}: same topic as line {seen[t]}")
        if t and not t.startswith("#"):
            seen[t] = line
    if not seen:
        raise InputError(f"topics file {path} has no topics")
    return tuple(seen)


def _seed(seed: int, *parts) -> int:
    return int(hashlib.sha256(json.dumps([seed, *parts]).encode()).hexdigest()[:8], 16)


class _Generator:
    """Batched sampling from ``model`` with left padding; the caller's tokenizer is not modified."""

    def __init__(self, model, config: GenerationConfig):
        self.hf, self.tok, self.cfg = model.hf_model, model.tokenizer, config
        has_template = bool(getattr(self.tok, "chat_template", None))
        self.chat = has_template if config.chat_template is None else config.chat_template
        if self.chat and not has_template:
            raise InputError("chat_template=True, but the model's tokenizer has no chat template")
        self.pad = self.tok.pad_token_id if self.tok.pad_token_id is not None else self.tok.eos_token_id
        if self.pad is None:
            raise InputError("the model's tokenizer has neither a pad nor an end-of-sequence token")
        self.prefill = "" if self.chat else "\n\n[story 1]\n"  # a plain prompt is primed with the first heading

    def sampling(self) -> dict:
        return {**dataclasses.asdict(self.cfg), "do_sample": self.cfg.temperature > 0, "chat_template": self.chat}

    def _ids(self, prompt: str) -> list[int]:
        if self.chat:
            text = self.tok.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                                add_generation_prompt=True)
            return list(self.tok(text, add_special_tokens=False)["input_ids"])
        return list(self.tok(prompt + self.prefill, add_special_tokens=True)["input_ids"])

    def __call__(self, prompts: list[str], n_stories: int, seed: int) -> list[str]:
        import torch
        from transformers import StoppingCriteriaList

        ids = [self._ids(p) for p in prompts]
        width = max(len(x) for x in ids)
        device = next(self.hf.parameters()).device
        input_ids = torch.full((len(ids), width), self.pad, dtype=torch.long)
        mask = torch.zeros((len(ids), width), dtype=torch.long)
        for i, x in enumerate(ids):
            input_ids[i, width - len(x):] = torch.tensor(x, dtype=torch.long)
            mask[i, width - len(x):] = 1
        kw: dict[str, bool | float] = {"do_sample": False}
        if self.cfg.temperature > 0:
            kw = {"do_sample": True, "temperature": self.cfg.temperature, "top_p": self.cfg.top_p}
        torch.manual_seed(seed)
        with torch.no_grad():
            stop = StoppingCriteriaList([_StopAtHeading(self.tok, width, n_stories)])
            out = self.hf.generate(input_ids=input_ids.to(device), attention_mask=mask.to(device),
                                   max_new_tokens=self.cfg.tokens_per_story * n_stories + 16,
                                   pad_token_id=self.pad, stopping_criteria=stop, **kw)
        texts = [self.tok.decode(row, skip_special_tokens=True) for row in out[:, width:].tolist()]
        # the primed heading belongs to the response, unless the model wrote its own
        return [t if _first_heading(t) else self.prefill.lstrip() + t for t in texts]


class _Row:
    """One (emotion, topic) in progress: its story slots and their attempts."""

    def __init__(self, emotion: str, topic: str, n: int, min_words: int):
        self.emotion, self.topic, self.n, self.min_words = emotion, topic, n, min_words
        self.raw_response, self.n_parsed, self.tries = "", 0, [0] * n
        self.texts: list[str | None] = [None] * n
        self.last: list[str | None] = [None] * n
        self.why = ["missing from the response"] * n

    def offer(self, slot: int, text: str | None) -> None:
        self.tries[slot] += 1
        if text is None:
            self.why[slot] = "missing from the response"
            return
        named, n_words = names_emotion(text, self.emotion), len(text.split())
        if named:
            self.why[slot], self.last[slot] = "names the emotion: " + ", ".join(dict.fromkeys(named)), text
        elif n_words < self.min_words:
            self.why[slot], self.last[slot] = f"too short: {n_words} words (needs {self.min_words})", text
        else:
            self.texts[slot] = text

    def open_slots(self, max_tries: int) -> list[int]:
        return [i for i, t in enumerate(self.texts) if t is None and self.tries[i] < max_tries]

    def to_json(self, prompt: str, sampling: dict, seed: int, model_name: str | None) -> dict:
        failed = [{"story": i + 1, "attempts": self.tries[i], "reason": self.why[i], "last_text": self.last[i]}
                  for i, t in enumerate(self.texts) if t is None]
        return {"emotion": self.emotion, "topic": self.topic, "prompt": prompt, "raw_response": self.raw_response,
                "stories": [t for t in self.texts if t is not None], "n_stories_parsed": self.n_parsed,
                "attempts": self.tries, "failed": failed, "model": model_name, "sampling": {**sampling, "seed": seed},
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def _chunks(items: list, size: int):
    for i in range(0, len(items), size):
        yield items[i: i + size]


def generate_stories(model: ModelAdapter, emotions: Sequence[str], topics: Sequence[str], stories_per_topic: int, out_path: str | Path, seed: int = 0,
                     config: GenerationConfig | None = None, model_name: str | None = None) -> GenerationResult:
    """Write ``stories_per_topic`` stories for every (emotion, topic) to ``out_path`` (JSONL, appended).

    Rows already in ``out_path`` are skipped, so a killed run continues on rerun
    without duplicating rows. Each row holds the paper's fields (``emotion``,
    ``topic``, ``prompt``, ``raw_response``, ``stories``) plus ``attempts`` per
    story, ``failed`` (stories still missing or naming the emotion after
    ``max_tries``), ``sampling`` (settings and seed) and ``model``.
    """
    config = config or GenerationConfig()
    emotions, topics = [str(e).strip() for e in emotions], [str(t).strip() for t in topics]
    for what, items in (("emotions", emotions), ("topics", topics)):
        if not items or not all(items):
            raise InputError(f"generate_stories: {what} must be a non-empty list of non-empty names")
        dup = sorted({x for x in items if items.count(x) > 1})
        if dup:
            raise InputError(f"generate_stories: {what} listed twice: {dup}")
    if stories_per_topic < 1:
        raise InputError(f"generate_stories: stories_per_topic must be >= 1, got {stories_per_topic}")
    out_path = Path(out_path)
    check_out_file(out_path)  # refused before anything is created or changed
    out_path.parent.mkdir(parents=True, exist_ok=True)
    gen = _Generator(model, config)
    written = stories = failed = 0
    with open(out_path, "ab") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError(f"{out_path} is being written by another generate run") from None
        done = read_done(out_path, fh)
        pairs = [(e, t) for e in emotions for t in topics]
        todo = [p for p in pairs if p not in done]
        # Batches are cut from the full list, so a batch and its seed do not depend on where an earlier run
        # stopped: a batch that was partly written is generated again whole and only its missing rows are
        # written, which makes a resumed run write what an uninterrupted one would have written.
        for chunk in _chunks(pairs, config.batch_size):
            if all(p in done for p in chunk):
                continue
            rows = [_Row(e, t, stories_per_topic, config.min_words) for e, t in chunk]
            prompts = [story_prompt(e, t, stories_per_topic) for e, t in chunk]
            batch_seed = _seed(seed, *chunk[0], 0)
            for row, response in zip(rows, gen(prompts, stories_per_topic, batch_seed)):
                row.raw_response = response
                parsed = split_stories(response, stories_per_topic)
                row.n_parsed = len(parsed)
                for slot in range(stories_per_topic):
                    row.offer(slot, parsed[slot] if slot < len(parsed) else None)
            while jobs := [(r, s) for r in rows for s in r.open_slots(config.max_tries)]:
                for part in _chunks(jobs, config.batch_size):
                    r0, s0 = part[0]
                    responses = gen([story_prompt(r.emotion, r.topic, 1) for r, _ in part], 1,
                                    _seed(seed, r0.emotion, r0.topic, s0, r0.tries[s0]))
                    for (r, s), response in zip(part, responses):
                        got = split_stories(response, 1)
                        r.offer(s, got[0] if got else None)
            for row, prompt in zip(rows, prompts):
                if (row.emotion, row.topic) in done:
                    continue
                data = row.to_json(prompt, gen.sampling(), batch_seed, model_name)
                append_row(fh, out_path, (json.dumps(data, ensure_ascii=False) + "\n").encode("utf-8"))
                written, stories, failed = written + 1, stories + len(data["stories"]), failed + len(data["failed"])
                log.info("%s / %s: %d stories, %d failed", row.emotion, row.topic, len(data["stories"]),
                         len(data["failed"]))
    return GenerationResult(out_path, written, len(emotions) * len(topics) - len(todo), stories, failed)
