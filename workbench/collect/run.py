"""``collect``: per-text mean ``resid_post`` at every layer, reduced inside the hooks.

No ``[layers, batch, seq, d]`` cache is ever built: each hook adds its block's
output, weighted by the pooling mask, into fp32 sums of shape ``[batch,
d_model]``, and the fp32 L2 norms of the same pooled tokens into ``[batch]``
(the per-token norm that calibrates steering). The LM head is never run. With ``out=``, the run checkpoints every
``checkpoint_every`` batches and a rerun continues where it stopped; a finished
run with the same key is loaded instead of recomputed.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import platform
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from safetensors.torch import load_file
from tqdm.auto import tqdm

from workbench.collect.activations import MANIFEST_FILE, StoryActivations
from workbench.collect.plan import make_batches, pad_batch, plan_tokens, texts_sha256
from workbench.collect.pooling import masked_norm_sum, masked_sum
from workbench.errors import InputError, RunFolderError
from workbench.io import atomic_write_json, read_json, safetensors_writer, staged_writes
from workbench.runfolder import COLLECT_FILES, writing_into

if TYPE_CHECKING:
    from workbench.data.corpus import Corpus
    from workbench.models.adapter import ModelAdapter

__all__ = ["collect", "neutral_texts"]

log = logging.getLogger(__name__)
_PARTIAL = ".partial"


def _versions() -> dict:
    import numpy
    import transformers

    return {"torch": torch.__version__, "transformers": transformers.__version__, "numpy": numpy.__version__,
            "python": platform.python_version()}


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
    means = torch.zeros((n, len(layer_ids), d), dtype=torch.float32)
    token_norms = torch.zeros((n, len(layer_ids)), dtype=torch.float32)
    start_batch = _resume(out, key, means, token_norms) if out is not None and not remote else 0
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

            remote_info = collect_batches_remote(model, plan, batches, layer_ids, means, token_norms, remote=remote,
                                                 padding_side=padding_side, pad_id=pad_id, key=key, bar=bar,
                                                 store=out / _PARTIAL / "remote" if out is not None else None,
                                                 only=None if shard is None else shard)
            run_tokens = remote_info.pop("tokens")
        for b, batch in enumerate([] if remote else batches[start_batch:], start=start_batch):
            if shard is not None and b % shard[1] != shard[0]:
                continue
            input_ids, mask, weights = pad_batch(plan, batch, pad_id, padding_side)
            counts = weights.sum(1, keepdim=True)
            rows = torch.tensor(batch)

            def read(layer, hidden, rows=rows, weights=weights, counts=counts):
                means[rows, column[layer]] = masked_sum(weights, hidden).to(counts.device) / counts
                token_norms[rows, column[layer]] = masked_norm_sum(weights, hidden).to(counts.device) / counts[:, 0]

            model.run_blocks(input_ids.to(model.device), mask.to(model.device), read, layers=layer_ids)
            tokens = sum(lengths[i] for i in batch)
            run_tokens += tokens
            bar.update(tokens)
            bar.set_postfix_str(f"{run_tokens / max(time.perf_counter() - t0, 1e-9):,.0f} tok/s")
            if out is not None and (b + 1) % checkpoint_every == 0 and b + 1 < len(batches):
                _checkpoint(out, key, means, token_norms, b + 1)
    finally:
        bar.close()
    seconds = time.perf_counter() - t0
    n_tokens = torch.tensor([plan.n_pooled(i) for i in range(n)], dtype=torch.int64)
    info = {"seconds": round(seconds, 3), "tokens": run_tokens, "tokens_per_s": round(run_tokens / max(seconds, 1e-9), 1),
            "n_batches": len(batches), "resumed_at_batch": start_batch, "corpus_sha256": corpus_sha,
            "truncated": list(plan.truncated), "skipped": [{"index": i, **meta[i]} for i in short],
            "versions": _versions(), **corpus_info, **({"remote": remote_info} if remote_info else {}),
            **(extra_info or {})}
    if plan.truncated:
        log.warning("%d text(s) were cut at max_length=%d tokens", len(plan.truncated), max_length)
    acts = StoryActivations(means, n_tokens, layer_ids, tuple(meta), model.spec.to_dict(), params, info,
                            token_norms=token_norms)
    if shard is not None:
        from workbench.collect.shards import save_shard

        info["shard"] = list(shard)
        shard_acts = save_shard(out, acts, shard, batches, short)  # refuses out=None
        if out is not None:
            shutil.rmtree(out / _PARTIAL, ignore_errors=True)
        return shard_acts
    if short:
        acts = acts.select([i for i in range(n) if i not in set(short)])
    if out is not None:
        acts.save(out)
        shutil.rmtree(out / _PARTIAL, ignore_errors=True)
    return acts


def _checkpoint(out: Path, key: str, means: torch.Tensor, token_norms: torch.Tensor, batches_done: int) -> None:
    folder = out / _PARTIAL
    with staged_writes() as stage:  # written from the tensor's memory: no copy of the means
        stage(folder / "means.safetensors", safetensors_writer({"means": means, "token_norms": token_norms}))
    atomic_write_json(folder / "state.json", {"key": key, "batches_done": batches_done})


def _resume(out: Path, key: str, means: torch.Tensor, token_norms: torch.Tensor) -> int:
    state_path = out / _PARTIAL / "state.json"
    if not state_path.is_file():
        return 0
    state = read_json(state_path)
    if state.get("key") != key:
        log.info("ignoring a checkpoint in %s made with other settings", out)
        return 0
    saved = load_file(out / _PARTIAL / "means.safetensors")
    if saved["means"].shape != means.shape or saved.get("token_norms", torch.empty(0)).shape != token_norms.shape:
        return 0  # another shape, or a checkpoint from before the token norms: start again
    means.copy_(saved["means"])
    token_norms.copy_(saved["token_norms"])
    log.info("resuming %s at batch %d", out, state["batches_done"])
    return int(state["batches_done"])
