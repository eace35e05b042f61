"""``collect``: per-text mean ``resid_post`` at every layer, reduced inside the hooks.

No ``[layers, batch, seq, d]`` cache is ever built: each hook adds its block's
output, weighted by the pooling mask, into fp32 sums of shape ``[batch,
d_model]``, and the fp32 L2 norms of the same pooled tokens into ``[batch]``
(the per-token norm that calibrates steering). The LM head is never run. With ``out=``, each batch's means
are written into the run folder as the batch finishes (:mod:`workbench.collect.sink`), so no more than one
batch of means is ever in memory, and the result is read back memory-mapped; the run checkpoints every
``checkpoint_every`` batches and a rerun continues where it stopped; a finished
run with the same key is loaded instead of recomputed.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from tqdm.auto import tqdm

from workbench.collect.activations import TENSORS_FILE, StoryActivations, write_run_folder
from workbench.collect.plan import make_batches, pad_batch, plan_tokens, texts_sha256
from workbench.collect.pooling import masked_norm_sum, masked_sum
from workbench.collect.sink import FileSink, MemorySink
from workbench.errors import InputError, RunFolderError
from workbench.io import read_json
from workbench.runfolder import COLLECT_FILES, MANIFEST_FILE, versions, writing_into

if TYPE_CHECKING:
    from workbench.data.corpus import Corpus
    from workbench.models.adapter import ModelAdapter

__all__ = ["collect", "neutral_texts"]

log = logging.getLogger(__name__)
_PARTIAL = ".partial"


def neutral_texts(neutral) -> tuple[str, ...]:
    """``"bundled"`` (the project's), ``"none"``, a JSONL path, or the texts themselves."""
    from workbench.data.neutral import load_neutral_texts

    if isinstance(neutral, str) and neutral == "none":
        return ()
    if isinstance(neutral, str) and neutral == "bundled":
        return load_neutral_texts()
    if isinstance(neutral, (str, Path)):
        return load_neutral_texts(neutral)
    texts = tuple(neutral)
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str) or not t.strip()]
    if bad:
        raise InputError(f"neutral texts {bad[:10]} are not non-empty strings")
    return texts


def _texts_and_meta(texts, meta, neutral):
    info = {}
    if hasattr(texts, "texts") and hasattr(texts, "meta") and meta is None:
        info = {"corpus": getattr(texts, "name", None), "dropped_stories": list(getattr(texts, "dropped", ()))}
        texts, meta, sha = list(texts.texts), [dict(m) for m in texts.meta()], getattr(texts, "sha256", None)
    else:
        texts, sha = list(texts), None
        meta = [{"kind": "text"} for _ in texts] if meta is None else [dict(m) for m in meta]
        if len(meta) != len(texts):
            raise InputError(f"{len(meta)} meta rows for {len(texts)} texts")
    if neutral is not None:
        extra = neutral_texts(neutral)
        texts += list(extra)
        meta += [{"kind": "neutral", "story": i} for i in range(len(extra))]
    return texts, meta, sha, info


def _chat_reading(texts, positions, read_as, chat_template):
    """The texts to plan (stories placed in assistant turns for ``read_as="assistant"``) and what to record."""
    from workbench.data.chat import STORY_PROMPT, as_assistant_turn, is_transcript

    if read_as not in ("raw", "assistant"):
        raise InputError(f"read_as must be 'raw' or 'assistant', got {read_as!r}")
    chat = {"read_as": read_as, "positions": positions}
    if any(not isinstance(t, str) and is_transcript(t) for t in texts):
        chat["positions"] = positions or "assistant"
    if read_as == "assistant":
        if positions not in (None, "assistant"):
            raise InputError(f"read_as='assistant' pools the assistant turn; positions={positions!r} contradicts it")
        texts = [as_assistant_turn(t) if isinstance(t, str) else t for t in texts]
        chat.update(positions="assistant", chat_prompt=STORY_PROMPT)
    if chat_template is not None:
        chat["chat_template"] = chat_template
    return texts, chat


def _describe(i, meta, plan):
    m = meta[i]
    label = ", ".join(f"{k}={m[k]}" for k in ("emotion", "topic", "story", "kind") if k in m)
    where = f" at {m['source']}:{m['line']}" if "source" in m and "line" in m else ""
    return f"text {i} ({label}){where}: {len(plan.ids[i])} tokens"


def _into_run_folder(fn):
    """``out=`` is claimed as a run folder (refused when it is a folder the workbench did not make,
    unless ``force=True``) and locked against a second writer for the whole collect."""
    @functools.wraps(fn)
    def wrapper(model, texts, *, out=None, force: bool = False, **kwargs):
        if out is None:
            return fn(model, texts, **kwargs)
        with writing_into(out, "run", force=force, writes=COLLECT_FILES):
            return fn(model, texts, out=out, **kwargs)
    return wrapper


@_into_run_folder
def collect(model: ModelAdapter, texts: Corpus | Sequence[str | list[dict]], *,
            neutral: str | Sequence[str] | None = None, meta: Sequence[dict] | None = None,
            layers: str | Sequence[int] = "all", token_offset: int = 50, max_length: int = 512,
            max_tokens_per_batch: int = 4096, on_short: str = "error", out: str | Path | None = None,
            checkpoint_every: int = 10, padding_side: str = "right", progress: bool = True,
            corpus_sha256: str | None = None, extra_info: dict | None = None, positions: str | None = None,
            read_as: str = "raw", chat_template: str | None = None, remote: bool | str = False,
            shard: tuple[int, int] | str | None = None) -> StoryActivations:
    """Mean ``resid_post`` of every text at every requested layer.

    Args:
        model: a :class:`~workbench.models.ModelAdapter`.
        texts: a ``Corpus`` (its stories and their meta) or a list of strings or chat transcripts
            (lists of ``{"role", "content"}`` messages), with ``meta``.
        neutral: neutral texts to collect after them (kind ``"neutral"``): ``"bundled"``, a JSONL
            path or a list of strings; ``None`` for none.
        layers: ``"all"`` or block indices.
        token_offset: first pooled position, counting the BOS token as position 0.
        max_length: texts are cut to this many tokens (recorded in ``info["truncated"]``).
        max_tokens_per_batch: padded tokens per forward pass (texts are sorted by length).
        on_short: ``"error"`` for a text with no token at or past the offset, or ``"skip"``
            (skipped texts are recorded in ``info["skipped"]``).
        out: a folder to save to; enables checkpoints, resume and reuse. It must be new, empty or a
            run folder (``force=True``: write into another folder anyway); it is locked while collecting.
            Each batch's means are written there as the batch finishes, and the result is memory-mapped
            from the folder (without ``out``, every mean is held in memory).
        padding_side: ``"right"`` or ``"left"``; the result does not depend on it.
        corpus_sha256: recorded in the manifest (taken from ``texts`` when it is a ``Corpus``).
        extra_info: more to record in ``info`` (e.g. the stories a validation dropped).
        positions: for chat transcripts, the span pooled: ``"assistant"`` (the default), ``"user"`` or
            ``"all"`` (every message's content tokens); ``token_offset`` then counts the span's tokens.
        read_as: ``"raw"`` (the default: texts as they are) or ``"assistant"`` (each text placed as the
            assistant's reply to :data:`~workbench.data.chat.STORY_PROMPT`, pooled over that reply).
        chat_template: a Jinja template instead of the tokenizer's own.
        remote: ``True`` runs every batch as an nnsight trace on NDIF, ``"local"`` through the local
            simulation of it (:mod:`workbench.collect.remote`); the pooling is reduced inside the trace.
        shard: ``(i, n)`` or ``"i/n"``: run batches ``i, i + n, ...`` of the plan and write a partial run to
            ``out`` (:mod:`workbench.collect.shards`); returns the shard's texts only.
    """
    if on_short not in ("error", "skip"):
        raise InputError(f"on_short must be 'error' or 'skip', got {on_short!r}")
    if padding_side not in ("left", "right"):
        raise InputError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
    layer_ids = model.check_layers(layers)
    if shard is not None:
        from workbench.collect.shards import parse_shard

        shard = parse_shard(shard)
        if out is None:
            raise InputError("a sharded collect needs a run folder (out=...) to write its partial run to")
    texts, meta, corpus_sha, corpus_info = _texts_and_meta(texts, meta, neutral)
    corpus_sha = corpus_sha256 or corpus_sha
    if not texts:
        raise InputError("no texts to collect (empty corpus)")
    texts, chat = _chat_reading(texts, positions, read_as, chat_template)
    plan = plan_tokens(model.tokenizer, texts, token_offset, max_length, chat.get("positions"), chat_template)
    short = plan.short()
    if short and on_short == "error":
        listed = "; ".join(_describe(i, meta, plan) for i in short[:10])
        more = f" (and {len(short) - 10} more)" if len(short) > 10 else ""
        raise InputError(f"{len(short)} text(s) have no token at or past token_offset={token_offset}: "
                         f"{listed}{more}. Use on_short='skip' (--on-short skip) to leave them out.")
    keep = [i for i in range(len(texts)) if i not in set(short)]
    params = {"token_offset": token_offset, "max_length": max_length, "max_tokens_per_batch": max_tokens_per_batch,
              "on_short": on_short, "padding_side": padding_side, "texts_sha256": texts_sha256(texts)}
    keyed = {**params, **chat} if chat["read_as"] != "raw" or chat["positions"] is not None else params
    key = hashlib.sha256(json.dumps({"model": model.spec.to_dict(), "layers": list(layer_ids), **keyed},
                                    sort_keys=True).encode()).hexdigest()
    params.update(chat)
    params["key"] = key
    params["n_layers"] = model.n_layers  # the model's block count (layers may be a subset)
    out = Path(out) if out is not None else None
    if out is not None and (out / MANIFEST_FILE).is_file():
        manifest = read_json(out / MANIFEST_FILE)
        done = manifest.get("collect", {}).get("params", {}) if isinstance(manifest, dict) else {}
        if done.get("key") == key:
            try:
                acts = StoryActivations.load(out)
                log.info("reusing the finished collect in %s", out)
                return acts
            except RunFolderError as exc:  # e.g. a save interrupted between its renames: compute again
                log.warning("not reusing %s (%s); collecting again", out, exc)

    lengths = [len(row) for row in plan.ids]
    batches = make_batches(lengths, max_tokens_per_batch, order=keep)
    n, d = len(texts), model.d_model
    n_tokens = torch.tensor([plan.n_pooled(i) for i in range(n)], dtype=torch.int64)
    sink = _sink(out, key, n, layer_ids, d, n_tokens, keep, batches, shard, resume=not remote)
    start_batch = sink.start_batch
    pad_id = model.tokenizer.pad_token_id if model.tokenizer.pad_token_id is not None else 0
    column = {layer: j for j, layer in enumerate(layer_ids)}
    total_tokens = sum(lengths[i] for i in keep)
    done_tokens = sum(lengths[i] for b in batches[:start_batch] for i in b)
    t0, run_tokens = time.perf_counter(), 0
    bar = tqdm(total=total_tokens, initial=done_tokens, unit="tok", unit_scale=True, disable=not progress,
               desc=f"collect {model.name}", dynamic_ncols=True)
    remote_info = None
    try:
        if remote:
            from workbench.collect.remote import collect_batches_remote

            remote_info = collect_batches_remote(model, plan, batches, layer_ids, sink, remote=remote,
                                                 padding_side=padding_side, pad_id=pad_id, key=key, bar=bar,
                                                 store=out / _PARTIAL / "remote" if out is not None else None,
                                                 only=None if shard is None else shard)
            run_tokens = remote_info.pop("tokens")
        for b, batch in enumerate([] if remote else batches[start_batch:], start=start_batch):
            if shard is not None and b % shard[1] != shard[0]:
                continue
            input_ids, mask, weights = pad_batch(plan, batch, pad_id, padding_side)
            counts = weights.sum(1, keepdim=True)
            means = torch.zeros((len(batch), len(layer_ids), d), dtype=torch.float32)
            token_norms = torch.zeros((len(batch), len(layer_ids)), dtype=torch.float32)

            def read(layer, hidden, means=means, token_norms=token_norms, weights=weights, counts=counts):
                means[:, column[layer]] = masked_sum(weights, hidden).to(counts.device) / counts
                token_norms[:, column[layer]] = masked_norm_sum(weights, hidden).to(counts.device) / counts[:, 0]

            model.run_blocks(input_ids.to(model.device), mask.to(model.device), read, layers=layer_ids)
            sink.write(batch, means, token_norms)
            tokens = sum(lengths[i] for i in batch)
            run_tokens += tokens
            bar.update(tokens)
            bar.set_postfix_str(f"{run_tokens / max(time.perf_counter() - t0, 1e-9):,.0f} tok/s")
            if (b + 1) % checkpoint_every == 0 and b + 1 < len(batches):
                sink.checkpoint(b + 1)
        sink.checkpoint(len(batches))  # every row is in place: a rerun after a kill from here only saves
    finally:
        bar.close()
    seconds = time.perf_counter() - t0
    info = {"seconds": round(seconds, 3), "tokens": run_tokens, "tokens_per_s": round(run_tokens / max(seconds, 1e-9), 1),
            "n_batches": len(batches), "resumed_at_batch": start_batch, "corpus_sha256": corpus_sha,
            "truncated": list(plan.truncated), "skipped": [{"index": i, **meta[i]} for i in short],
            "versions": versions(), **corpus_info, **({"remote": remote_info} if remote_info else {}),
            **(extra_info or {})}
    if plan.truncated:
        log.warning("%d text(s) were cut at max_length=%d tokens", len(plan.truncated), max_length)
    spec = model.spec.to_dict()
    if shard is not None:
        from workbench.collect.shards import save_shard

        info["shard"] = list(shard)
        if out is None:
            raise InputError("a sharded collect needs a run folder (out=...) to write its partial run to")
        sink.close()
        shard_acts = save_shard(out, sink.path, tuple(meta), spec, params, info, layer_ids, shard, batches, short)
        shutil.rmtree(out / _PARTIAL, ignore_errors=True)
        return shard_acts
    kept = tuple(meta[i] for i in keep)
    if out is None:
        acts = StoryActivations(sink.means, n_tokens, layer_ids, tuple(meta), spec, params, info,
                                token_norms=sink.token_norms)
        return acts.select(keep) if short else acts
    sink.close()
    acts = write_run_folder(out, sink.path, kept, layers=layer_ids, spec=spec, params=params, info=info)
    shutil.rmtree(out / _PARTIAL, ignore_errors=True)
    return acts


def _sink(out, key, n, layer_ids, d, n_tokens, keep, batches, shard, resume: bool):
    """Where the batches' means go: memory without ``out``; else the run folder's ``.partial`` file of the
    kept texts (in text order), or for a shard of its batches' texts (with their ``rows``)."""
    if out is None:
        return MemorySink(n, len(layer_ids), d)
    if shard is None:
        texts, name, extra = keep, TENSORS_FILE, {}
    else:
        from workbench.collect.shards import TENSORS, shard_rows

        texts, name = shard_rows(batches, shard), TENSORS
        extra = {"rows": torch.tensor(texts, dtype=torch.int64)}
    fixed = {"n_tokens": n_tokens[torch.tensor(texts, dtype=torch.long)].contiguous(), **extra}
    return FileSink(out / _PARTIAL, name, texts, fixed, len(layer_ids), d, key, resume=resume)
