"""Paired generation: every (prompt, sample) at every alpha and direction with the same sampling seed.

Sampling happens in :class:`RowSampler`, a logits processor with one
``torch.Generator`` per row, seeded from (seed, prompt, sample): top-k, then the
Gumbel-max trick, and the chosen token is the only finite logit, so the greedy
step of ``generate`` picks it. A row's random draws therefore depend on its own
seed only (not on the batch, the alpha or the direction), and steering with
alpha 0 gives exactly the unsteered text. Top-k avoids sorting the 262k-token
vocabulary that top-p would need.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass

import numpy as np
import torch
from transformers import LogitsProcessor, LogitsProcessorList

from workbench.steer.steering import steering

__all__ = ["Generation", "RowSampler", "sampling_seed", "generate_paired", "eos_ids"]

log = logging.getLogger(__name__)


def sampling_seed(seed: int, prompt_index: int, sample: int) -> int:
    """The sampling seed of one (prompt, sample): the same at every alpha and for every direction."""
    return int(np.random.SeedSequence([int(seed), int(prompt_index), int(sample)]).generate_state(1)[0])


class RowSampler(LogitsProcessor):
    """Sample each row from softmax(top-k logits / temperature) with its own generator."""

    def __init__(self, seeds, top_k: int, temperature: float):
        self.generators = [torch.Generator().manual_seed(int(s)) for s in seeds]
        self.top_k, self.temperature = int(top_k), float(temperature)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        k = min(self.top_k, scores.shape[-1])
        values, index = torch.topk(scores.float(), k, dim=-1)
        u = torch.stack([torch.rand(k, generator=g, dtype=torch.float64) for g in self.generators])
        gumbel = -torch.log(-torch.log(u.clamp_min(1e-300)))
        pick = (values.double().cpu() / self.temperature + gumbel).argmax(dim=-1, keepdim=True)
        token = index.gather(-1, pick.to(index.device))
        out = torch.full_like(scores, float("-inf"))
        return out.scatter_(-1, token, 0.0)


@dataclass(frozen=True)
class Generation:
    """One generated continuation (token ids without padding; ``new_ids`` end before the first EOS)."""

    direction: str
    kind: str
    alpha: float
    prompt_index: int
    sample: int
    sampling_seed: int
    prompt_ids: tuple[int, ...]
    new_ids: tuple[int, ...]
    text: str
    hit_eos: bool


def eos_ids(model) -> tuple[int, ...]:
    ids = {model.tokenizer.eos_token_id}
    configured = getattr(model.hf_model.generation_config, "eos_token_id", None)
    ids |= set(configured) if isinstance(configured, (list, tuple)) else {configured}
    return tuple(sorted(i for i in ids if i is not None))


def _batches(rows, size):
    for i in range(0, len(rows), size):
        yield rows[i:i + size]


def _generate_rows(model, prompts, rows, settings, stop):
    """Generate one batch of (prompt_index, sample, seed) rows with whatever steering is active."""
    tok = model.tokenizer
    enc = tok([prompts[p] for p, _, _ in rows], return_tensors="pt", padding=True, padding_side="left")
    pad = tok.pad_token_id if tok.pad_token_id is not None else stop[0]
    sampler = RowSampler([s for _, _, s in rows], settings.top_k, settings.temperature)
    out = model.generate(enc["input_ids"].to(model.device), enc["attention_mask"].to(model.device),
                         max_new_tokens=settings.max_new_tokens, do_sample=False, num_beams=1,
                         logits_processor=LogitsProcessorList([sampler]), pad_token_id=pad,
                         eos_token_id=list(stop))
    width = enc["input_ids"].shape[1]
    results = []
    for i in range(len(rows)):
        prompt_ids = tuple(enc["input_ids"][i][enc["attention_mask"][i].bool()].tolist())
        new = out[i, width:].tolist()
        ends = [j for j, t in enumerate(new) if t in stop]
        new_ids = tuple(new[:ends[0]] if ends else new)
        results.append((prompt_ids, new_ids, bool(ends)))
    return results


@contextlib.contextmanager
def torch_threads(n: int | None):
    """Torch's intra-op thread count set to ``n`` inside the block (``None``: unchanged)."""
    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def generate_paired(model, prompts, directions, settings, norm: float, progress: bool = False,
                    threads: int | None = None):
    """All generations: for each direction (``Direction``) and alpha, every prompt x sample.

    Returns ``(generations, info)`` where ``info`` holds the generation time and tokens.
    With ``settings.share_unsteered`` the alpha-0 texts are generated once (no hook)
    and reused for every direction. ``threads``: torch threads while generating. One
    step of a small model is hundreds of tiny parallel ops; on a shared CPU each one
    waits for a descheduled worker thread, so one thread can be much faster (embedded
    model, 2 busy cores: 15 tok/s with 2 threads, 40-105 with 1; idle: 160 vs 100).
    """
    from tqdm.auto import tqdm

    stop = eos_ids(model)
    rows = [(p, s, sampling_seed(settings.seed, p, s)) for p in range(len(prompts)) for s in range(settings.samples)]
    jobs = [(d, a) for d in directions for a in settings.alphas]
    shared = settings.share_unsteered and 0.0 in settings.alphas
    n_calls = sum(1 for d, a in jobs if not (shared and a == 0.0)) + (1 if shared else 0)
    bar = tqdm(total=n_calls * len(rows), desc="steer: generate", unit="text", disable=not progress)
    cache, out, new_tokens, start = {}, [], 0, time.perf_counter()

    def run(direction, alpha):
        nonlocal new_tokens
        got = []
        for batch in _batches(rows, settings.batch_size):
            if direction is None:
                got += _generate_rows(model, prompts, batch, settings, stop)
            else:
                with steering(model, direction.vector, alpha, direction.layer, positions=settings.positions,
                              norm=norm, hook=settings.hook):
                    got += _generate_rows(model, prompts, batch, settings, stop)
            new_tokens += sum(len(g[1]) for g in got[-len(batch):])
            bar.update(len(batch))
            bar.set_postfix_str(f"{new_tokens / (time.perf_counter() - start):.1f} tok/s")
        return got

    try:
        with torch_threads(threads):
            for direction, alpha in jobs:
                if shared and alpha == 0.0:
                    if "unsteered" not in cache:
                        cache["unsteered"] = run(None, 0.0)
                    got = cache["unsteered"]
                else:
                    got = run(direction, alpha)
                for (p, s, seed), (prompt_ids, new_ids, hit) in zip(rows, got):
                    text = model.tokenizer.decode(list(new_ids), skip_special_tokens=True)
                    out.append(Generation(direction.name, direction.kind, alpha, p, s, seed, prompt_ids, new_ids,
                                          text, hit))
    finally:
        bar.close()
    seconds = time.perf_counter() - start
    log.info("generated %d texts, %d new tokens in %.1f s", n_calls * len(rows), new_tokens, seconds)
    return out, {"generate_seconds": round(seconds, 3), "generated_texts": n_calls * len(rows),
                 "new_tokens": new_tokens, "tokens_per_s": round(new_tokens / seconds, 2) if seconds else None}
