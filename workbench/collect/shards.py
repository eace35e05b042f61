"""Shards of one collect that merge into the one-process run, bit for bit.

``collect(..., shard=(i, n), out=DIR)`` runs batch ``b`` of the token-budget plan
when ``b % n == i`` and writes a partial run: ``shard.json`` (the plan: model
spec, settings, texts sha256, layers, every batch's texts; and which shard) and
``shard.safetensors`` (the pooled means and token counts of its texts, written
row by row as its batches finish). :func:`merge_shards` checks that the shards
share one plan and cover every batch once, and writes each text's row, which
comes from exactly one shard (so the merge is exact), into the run folder's
``activations.safetensors`` a chunk at a time: neither a shard nor the merge
holds every mean in memory.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from workbench.collect.store import MeansFile, RowFile
from workbench.errors import InputError, RunFolderError, SettingError
from workbench.io import atomic_write_json, read_json, staged_writes

__all__ = ["parse_shard", "save_shard", "merge_shards", "shard_rows", "SHARD_FILE"]

SHARD_FILE = "shard.json"
TENSORS = "shard.safetensors"
# The plan fields shards must share, in the order a difference is reported.
PLAN_FIELDS = ("model", "texts_sha256", "token_offset", "layers", "max_length", "max_tokens_per_batch", "on_short",
               "padding_side", "batches_sha256")


def parse_shard(text) -> tuple[int, int]:
    """``"i/n"`` (0 <= i < n; shard 0 is the first) or a pair ``(i, n)``."""
    try:
        i, n = (int(p) for p in text.split("/")) if isinstance(text, str) else (int(text[0]), int(text[1]))
    except (ValueError, TypeError, IndexError):
        raise SettingError(f"shard must be I/N (e.g. 0/3 for the first of three shards), got {text!r}",
                           "shard") from None
    if n < 1 or not 0 <= i < n:
        raise SettingError(f"shard {i}/{n}: need 0 <= I < N (shards are numbered from 0)", "shard")
    return i, n


def _batches_sha256(batches) -> str:
    return hashlib.sha256(json.dumps([list(b) for b in batches]).encode()).hexdigest()


def shard_rows(batches, shard: tuple[int, int]) -> list[int]:
    """The texts of shard ``shard``'s batches, in text order (the rows of its ``shard.safetensors``)."""
    i, n = shard
    return sorted(r for b, batch in enumerate(batches) if b % n == i for r in batch)


def save_shard(out: Path, data_file: Path, meta, spec: dict, params: dict, info: dict, layers, shard: tuple[int, int],
               batches, skipped):
    """Write shard ``shard`` of a collect: ``data_file`` (its rows, filled by the collect) becomes
    ``shard.safetensors``, then ``shard.json`` records the plan. Returns the shard's texts, memory-mapped."""
    from workbench.collect.activations import StoryActivations

    i, n = shard
    plan = {"model": spec, "layers": list(layers), "batches_sha256": _batches_sha256(batches),
            **{k: params[k] for k in PLAN_FIELDS if k in params}}
    out = Path(out)
    with staged_writes() as stage:
        stage(out / TENSORS, Path(data_file))
    atomic_write_json(out / SHARD_FILE, {
        "shard": [i, n], "plan": plan, "batches": [list(b) for b in batches], "params": params, "spec": spec,
        "meta": list(meta), "skipped": sorted(skipped), "info": info})
    tensors = load_file(out / TENSORS)
    rows = tensors["rows"].tolist()
    return StoryActivations(tensors["means"], tensors["n_tokens"], tuple(layers), tuple(meta[r] for r in rows), spec,
                            params, info, tensors["token_norms"], MeansFile.open(out / TENSORS).bind(tensors["means"]))


def _read(folder: Path) -> tuple[dict, dict]:
    folder = Path(folder)
    if not (folder / SHARD_FILE).is_file():
        raise RunFolderError(f"{folder} is not a finished shard (no {SHARD_FILE}); run `workbench collect ... "
                             f"--shard I/N --out {folder}` (again)")
    record = read_json(folder / SHARD_FILE)
    try:
        tensors = load_file(folder / TENSORS)
    except (SafetensorError, OSError) as exc:
        raise RunFolderError(f"{folder / TENSORS} cannot be read ({exc}); run that shard again") from None
    return record, tensors


def _check_same_plan(records, folders) -> None:
    first = records[0]["plan"]
    for record, folder in zip(records[1:], folders[1:]):
        for name in PLAN_FIELDS:
            a, b = first.get(name), record["plan"].get(name)
            if a != b:
                if isinstance(a, dict) and isinstance(b, dict):
                    keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
                    a, b = ({k: d.get(k) for k in keys} for d in (a, b))
                raise InputError(f"shards of different plans: {folder} has {name} {b!r}, {folders[0]} has {a!r}; "
                                 "merge only the shards of one collect")


def _check_cover(records, folders) -> int:
    counts = {r["shard"][1] for r in records}
    if len(counts) != 1:
        raise InputError(f"shards of different splits: {sorted(f'{r[0]}/{r[1]}' for r in (x['shard'] for x in records))}")
    (n,) = counts
    seen: dict[int, Path] = {}
    for record, folder in zip(records, folders):
        i = record["shard"][0]
        if i in seen:
            raise InputError(f"shard {i}/{n} given twice: {seen[i]} and {folder}")
        seen[i] = folder
    missing = sorted(set(range(n)) - set(seen))
    if missing:
        raise InputError(f"shard(s) {', '.join(f'{i}/{n}' for i in missing)} missing: merge needs all {n} shards")
    return n


def merge_shards(folders, out: str | Path):
    """Check that ``folders`` are all the shards of one plan, and write their rows into the run folder ``out``
    (returned memory-mapped)."""
    import shutil

    from workbench.collect.activations import TENSORS_FILE, write_run_folder
    from workbench.runfolder import mark_run_folder, run_lock

    folders = [Path(f) for f in folders]
    if not folders:
        raise InputError("merge needs at least one shard folder")
    loaded = [_read(f) for f in folders]
    records = [r for r, _ in loaded]
    _check_same_plan(records, folders)
    n = _check_cover(records, folders)
    first, batches = records[0], records[0]["batches"]
    skipped = set(first["skipped"])
    kept = [t for t in range(len(first["meta"])) if t not in skipped]
    row_of = {t: r for r, t in enumerate(kept)}
    n_tokens = torch.zeros(len(kept), dtype=torch.int64)
    for (record, tensors), folder in zip(loaded, folders):
        i = record["shard"][0]
        if tensors["rows"].tolist() != shard_rows(batches, (i, n)):
            raise RunFolderError(f"{folder}: its texts are not those of batches {i}, {i} + {n}, ... of the plan")
        if "token_norms" not in tensors:
            raise RunFolderError(f"{folder}/{TENSORS}: no token_norms (a shard written before per-token norms were "
                                 "recorded): collect the shard again")
        n_tokens[[row_of[t] for t in tensors["rows"].tolist()]] = tensors["n_tokens"]
    info = dict(first["info"])
    info.update({"merged_from": [str(f) for f in folders], "shards": n, "resumed_at_batch": 0,
                 "seconds": round(sum(r["info"].get("seconds", 0) for r in records), 3),
                 "tokens": sum(r["info"].get("tokens", 0) for r in records)})
    info.pop("shard", None)
    shape, out = loaded[0][1]["means"].shape, Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with run_lock(out):
        mark_run_folder(out)
        target = RowFile.create(out / ".partial" / TENSORS_FILE, shape[1], shape[2], {"n_tokens": n_tokens})
        for (_, tensors), folder in zip(loaded, folders):  # each text's row from its one shard, a chunk at a time
            rows = [row_of[t] for t in tensors["rows"].tolist()]
            for start, chunk in MeansFile.open(folder / TENSORS).chunks():
                target.write(rows[start:start + len(chunk)], chunk, tensors["token_norms"][start:start + len(chunk)])
        target.sync()
        target.close()
        acts = write_run_folder(out, target.path, tuple(first["meta"][t] for t in kept),
                                layers=first["plan"]["layers"], spec=first["spec"], params=first["params"], info=info)
        shutil.rmtree(out / ".partial", ignore_errors=True)
    return acts
