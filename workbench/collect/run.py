"""``collect``: per-text mean ``resid_post`` at every layer, reduced inside the hooks.

No ``[layers, batch, seq, d]`` cache is ever built: each hook adds its block's
output, weighted by the pooling mask, into fp32 sums of shape ``[batch,
d_model]``. The LM head is never run. With ``out=``, the run checkpoints every
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
from pathlib import Path

import torch
from safetensors.torch import load_file
from tqdm.auto import tqdm

from workbench.collect.activations import MANIFEST_FILE, StoryActivations
from workbench.collect.plan import make_batches, pad_batch, plan_tokens, texts_sha256
from workbench.errors import InputError, RunFolderError
from workbench.io import atomic_write_json, read_json, safetensors_writer, staged_writes
from workbench.runfolder import COLLECT_FILES, writing_into

__all__ = ["collect"]

log = logging.getLogger(__name__)
_PARTIAL = ".partial"


def _versions() -> dict:
    import numpy
    import transformers

    return {"torch": torch.__version__, "transformers": transformers.__version__, "numpy": numpy.__version__,
            "python": platform.python_version()}


def _texts_and_meta(texts, meta):
    if hasattr(texts, "texts") and hasattr(texts, "meta") and meta is None:
        return list(texts.texts), [dict(m) for m in texts.meta()], getattr(texts, "sha256", None)
    texts = list(texts)
    if meta is None:
        meta = [{"kind": "text"} for _ in texts]
    meta = [dict(m) for m in meta]
    if len(meta) != len(texts):
        raise InputError(f"{len(meta)} meta rows for {len(texts)} texts")
    return texts, meta, None


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
def collect(model, texts, *, meta=None, layers="all", token_offset: int = 50, max_length: int = 512,
            max_tokens_per_batch: int = 4096, on_short: str = "error", out: str | Path | None = None,
            checkpoint_every: int = 10, padding_side: str = "right", progress: bool = True,
            corpus_sha256: str | None = None, extra_info: dict | None = None) -> StoryActivations:
    """Mean ``resid_post`` of every text at every requested layer.

    Args:
        model: a :class:`~workbench.models.ModelAdapter`.
        texts: a ``Corpus`` (its stories and their meta) or a list of strings (with ``meta``).
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
    """
    if on_short not in ("error", "skip"):
        raise InputError(f"on_short must be 'error' or 'skip', got {on_short!r}")
    if padding_side not in ("left", "right"):
        raise InputError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
    layer_ids = model.check_layers(layers)
    texts, meta, corpus_sha = _texts_and_meta(texts, meta)
    corpus_sha = corpus_sha256 or corpus_sha
    if not texts:
        raise InputError("no texts to collect (empty corpus)")
    plan = plan_tokens(model.tokenizer, texts, token_offset, max_length)
    short = plan.short()
    if short and on_short == "error":
        listed = "; ".join(_describe(i, meta, plan) for i in short[:10])
        more = f" (and {len(short) - 10} more)" if len(short) > 10 else ""
        raise InputError(f"{len(short)} text(s) have no token at or past token_offset={token_offset}: "
                         f"{listed}{more}. Use on_short='skip' (--on-short skip) to leave them out.")
    keep = [i for i in range(len(texts)) if i not in set(short)]
    params = {"token_offset": token_offset, "max_length": max_length, "max_tokens_per_batch": max_tokens_per_batch,
              "on_short": on_short, "padding_side": padding_side, "texts_sha256": texts_sha256(texts)}
    key = hashlib.sha256(json.dumps({"model": model.spec.to_dict(), "layers": list(layer_ids), **params},
                                    sort_keys=True).encode()).hexdigest()
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
    start_batch = _resume(out, key, means) if out is not None else 0
    pad_id = model.tokenizer.pad_token_id if model.tokenizer.pad_token_id is not None else 0
    column = {layer: j for j, layer in enumerate(layer_ids)}
    total_tokens = sum(lengths[i] for i in keep)
    done_tokens = sum(lengths[i] for b in batches[:start_batch] for i in b)
    t0, run_tokens = time.perf_counter(), 0
    bar = tqdm(total=total_tokens, initial=done_tokens, unit="tok", unit_scale=True, disable=not progress,
               desc=f"collect {model.name}", dynamic_ncols=True)
    try:
        for b, batch in enumerate(batches[start_batch:], start=start_batch):
            input_ids, mask, weights = pad_batch(plan, batch, pad_id, padding_side)
            counts = weights.sum(1, keepdim=True)
            rows = torch.tensor(batch)

            def read(layer, hidden, rows=rows, weights=weights, counts=counts):
                pooled = torch.bmm(weights.unsqueeze(1), hidden.float()).squeeze(1) / counts
                means[rows, column[layer]] = pooled

            model.run_blocks(input_ids.to(model.device), mask.to(model.device), read, layers=layer_ids)
            tokens = sum(lengths[i] for i in batch)
            run_tokens += tokens
            bar.update(tokens)
            bar.set_postfix_str(f"{run_tokens / max(time.perf_counter() - t0, 1e-9):,.0f} tok/s")
            if out is not None and (b + 1) % checkpoint_every == 0 and b + 1 < len(batches):
                _checkpoint(out, key, means, b + 1)
    finally:
        bar.close()
    seconds = time.perf_counter() - t0
    n_tokens = torch.tensor([plan.n_pooled(i) for i in range(n)], dtype=torch.int64)
    info = {"seconds": round(seconds, 3), "tokens": run_tokens, "tokens_per_s": round(run_tokens / max(seconds, 1e-9), 1),
            "n_batches": len(batches), "resumed_at_batch": start_batch, "corpus_sha256": corpus_sha,
            "truncated": list(plan.truncated), "skipped": [{"index": i, **meta[i]} for i in short],
            "versions": _versions(), **(extra_info or {})}
    if plan.truncated:
        log.warning("%d text(s) were cut at max_length=%d tokens", len(plan.truncated), max_length)
    acts = StoryActivations(means, n_tokens, layer_ids, tuple(meta), model.spec.to_dict(), params, info)
    if short:
        acts = acts.select([i for i in range(n) if i not in set(short)])
    if out is not None:
        acts.save(out)
        shutil.rmtree(out / _PARTIAL, ignore_errors=True)
    return acts


def _checkpoint(out: Path, key: str, means: torch.Tensor, batches_done: int) -> None:
    folder = out / _PARTIAL
    with staged_writes() as stage:  # written from the tensor's memory: no copy of the means
        stage(folder / "means.safetensors", safetensors_writer({"means": means}))
    atomic_write_json(folder / "state.json", {"key": key, "batches_done": batches_done})


def _resume(out: Path, key: str, means: torch.Tensor) -> int:
    state_path = out / _PARTIAL / "state.json"
    if not state_path.is_file():
        return 0
    state = read_json(state_path)
    if state.get("key") != key:
        log.info("ignoring a checkpoint in %s made with other settings", out)
        return 0
    saved = load_file(out / _PARTIAL / "means.safetensors")["means"]
    if saved.shape != means.shape:
        return 0
    means.copy_(saved)
    log.info("resuming %s at batch %d", out, state["batches_done"])
    return int(state["batches_done"])
