"""Collect through nnsight's remote execution (NDIF, or its local simulation), one trace per batch.

The masked pooling runs inside the trace (:func:`workbench.collect.pooling.masked_sum`,
shipped by value), so a request returns ``[batch, layer, d_model]`` fp32 sums and
``[batch]`` token counts, never hidden states. Batches follow the token-budget
plan of :func:`workbench.collect.plan.make_batches`. With a run folder, each
returned batch is written to ``.partial/remote/`` (its sums, then a line of
``jobs.jsonl`` with its job id and the bytes that came back) before the next is
submitted, so an interrupted collect resumes without resubmitting finished
batches.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from workbench.collect.plan import pad_batch
from workbench.collect.pooling import masked_norm_sum, masked_sum
from workbench.errors import InputError
from workbench.io import atomic_write_bytes, safetensors_writer, staged_writes
from workbench.models.adapter import position_ids_from_mask

__all__ = ["collect_batches_remote", "JOBS_FILE"]

log = logging.getLogger(__name__)
JOBS_FILE = "jobs.jsonl"


def _block_envoys(model):
    envoy = model.native
    for part in model.spec.block_path.split("."):
        envoy = getattr(envoy, part)
    return envoy


def trace_batch(native, blocks, inputs: dict, weights: torch.Tensor, order, backend):
    """One request: ``(sums [batch, len(order), d_model], norms [batch, len(order)], counts [batch])`` of the
    masked pooling (the hidden states' weighted sums and the sums of their tokens' norms), in the trace."""
    import nnsight

    with torch.inference_mode(), native.trace(inputs, use_cache=False, backend=backend) as tracer:
        parts, norm_parts = [], []
        for layer in order:
            output = blocks[layer].output
            hidden = output[0] if isinstance(output, tuple) else output
            parts.append(masked_sum(weights, hidden))
            norm_parts.append(masked_norm_sum(weights, hidden))
        sums = nnsight.save(torch.stack(parts, 1).cpu())
        norms = nnsight.save(torch.stack(norm_parts, 1).cpu())
        counts = nnsight.save(weights.sum(1).cpu())
        tracer.stop()
    return sums, norms, counts


class _Store:
    """Finished batches of one collect key: ``batch_NNNNN.safetensors`` files and ``jobs.jsonl``."""

    def __init__(self, folder: Path, key: str):
        self.folder, self.key = folder, key

    def finished(self) -> dict[int, dict]:
        path = self.folder / JOBS_FILE
        if not path.is_file():
            return {}
        done = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:  # a line torn by a kill: that batch runs again
                continue
            if isinstance(row, dict) and row.get("key") == self.key and (self.folder / row["file"]).is_file():
                done[int(row["batch"])] = row
        return done

    def load(self, row: dict):
        try:
            tensors = load_file(self.folder / row["file"])
        except (SafetensorError, OSError):
            return None
        return tensors

    def write(self, batch: int, rows, sums, norms, counts, record: dict) -> None:
        name = f"batch_{batch:05d}.safetensors"
        with staged_writes() as stage:
            stage(self.folder / name, safetensors_writer({"rows": torch.tensor(rows), "sums": sums.contiguous(),
                                                          "norms": norms.contiguous(),
                                                          "counts": counts.contiguous()}))
        line = json.dumps({"key": self.key, "batch": batch, "file": name, **record}) + "\n"
        path = self.folder / JOBS_FILE
        if not path.exists():
            atomic_write_bytes(path, b"")
        with open(path, "a", encoding="utf-8") as fh:  # appended after the tensors are in place
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())


def _check_model(model, remote):
    if getattr(model, "backend", None) != "nnsight":
        raise InputError(f"remote collect runs nnsight traces: load {model.name} with backend='nnsight' "
                         f"(--backend nnsight), not {getattr(model, 'backend', type(model).__name__)!r}")
    if remote is True:
        from workbench.models.ndif import check_remote_ready

        if model.spec.source != "hub":
            raise InputError(f"remote=True runs on NDIF, which hosts Hugging Face hub models; {model.name} is a "
                             f"{model.spec.source} model. Use remote='local' to simulate it here")
        return check_remote_ready(model.spec.location, model.spec.revision)
    return None


def collect_batches_remote(model, plan, batches, layer_ids, sink, *, remote, padding_side: str, pad_id: int,
                           store: Path | None, key: str, bar=None, only: tuple[int, int] | None = None) -> dict:
    """Give ``sink.write(texts, means, token_norms)`` each batch's means (``[batch, n_layers, d_model]``) and
    mean token norms (``[batch, n_layers]``) as they come back from remote traces
    (:mod:`workbench.collect.sink`).

    Returns what to record in ``info["remote"]``: the mode, the job ids, the
    bytes of each result, how many batches were reused from ``store``, and the
    tokens run here. ``only=(i, n)`` runs batches ``i, i + n, ...`` (a shard) and no other.
    """
    from workbench.models.ndif import remote_backend, ship_by_value

    if remote not in (True, "local"):
        raise InputError(f"remote must be True (NDIF) or 'local' (simulated on this machine), got {remote!r}")
    key_value = _check_model(model, remote)
    ship_by_value()
    native, blocks = model.native, _block_envoys(model)
    order = sorted(layer_ids)
    columns = [order.index(layer) for layer in layer_ids]
    saved = _Store(store, key) if store is not None else None
    finished = saved.finished() if saved is not None else {}
    jobs, reused, tokens, result_bytes, returned = [], 0, 0, [], []
    for b, batch in enumerate(batches):
        if only is not None and b % only[1] != only[0]:
            continue
        input_ids, mask, weights = pad_batch(plan, batch, pad_id, padding_side)
        counts = weights.sum(1)
        got = saved.load(finished[b]) if saved is not None and b in finished else None
        if got is not None and got["rows"].tolist() == list(batch) and "norms" in got:
            sums, norms, reused = got["sums"], got["norms"], reused + 1
            jobs.append(finished[b].get("job_id"))
            result_bytes.append(finished[b].get("result_bytes"))
            returned.append(finished[b].get("returned"))
        else:
            inputs = {"input_ids": input_ids, "attention_mask": mask, "position_ids": position_ids_from_mask(mask)}
            backend = remote_backend(native, remote, key_value)
            start = time.perf_counter()
            sums, norms, pooled = trace_batch(native, blocks, inputs, weights, order, backend)
            if not torch.equal(pooled, counts):
                raise RuntimeError(f"batch {b}: the remote trace pooled {pooled.tolist()} tokens per text, "
                                   f"the plan {counts.tolist()}")
            record = {"job_id": backend.job_id, "result_bytes": backend.result_bytes, "returned": backend.returned,
                      "request_bytes": backend.request_bytes, "seconds": round(time.perf_counter() - start, 3)}
            if saved is not None:
                saved.write(b, batch, sums, norms, counts, record)
            jobs.append(backend.job_id)
            result_bytes.append(backend.result_bytes)
            returned.append(backend.returned)
            tokens += sum(len(plan.ids[i]) for i in batch)
        sink.write(batch, sums[:, columns] / counts[:, None, None], norms[:, columns] / counts[:, None])
        if bar is not None:
            bar.update(sum(len(plan.ids[i]) for i in batch))
    return {"mode": "ndif" if remote is True else "local", "job_ids": jobs, "result_bytes": result_bytes, "returned": returned,
            "batches_reused": reused, "tokens": tokens}
