"""Shards of one collect that merge into the one-process run, bit for bit.

``collect(..., shard=(i, n), out=DIR)`` runs batch ``b`` of the token-budget plan
when ``b % n == i`` and writes a partial run: ``shard.json`` (the plan: model
spec, settings, texts sha256, layers, every batch's texts; and which shard) and
``shard.safetensors`` (the pooled means and token counts of its texts).
:func:`merge_shards` checks that the shards share one plan and cover every batch
once, adds them into the full ``[n_texts, layer, d_model]`` array (each text's
row comes from exactly one shard, so the sum is exact) and saves a run folder.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from workbench.errors import InputError, RunFolderError, SettingError
from workbench.io import atomic_write_json, read_json, safetensors_writer, staged_writes

if TYPE_CHECKING:
    from workbench.collect.activations import StoryActivations

__all__ = ["parse_shard", "save_shard", "merge_shards", "SHARD_FILE"]

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


def save_shard(out: Path | None, acts: StoryActivations, shard: tuple[int, int], batches,
               skipped) -> StoryActivations:
    """Write shard ``shard`` of a collect whose full (zero outside the shard) result is ``acts``."""
    if out is None:
        raise InputError("a sharded collect needs a run folder (out=...) to write its partial run to")
    i, n = shard
    rows = sorted(r for b, batch in enumerate(batches) if b % n == i for r in batch)
    index = torch.tensor(rows, dtype=torch.int64)
    p = acts.params
    plan = {"model": acts.spec, "layers": list(acts.layers), "batches_sha256": _batches_sha256(batches),
            **{k: p[k] for k in PLAN_FIELDS if k in p}}
    if acts.token_norms is None:
        raise InputError("a sharded collect records per-token norms: this result has none")
    out = Path(out)
    with staged_writes() as stage:
        stage(out / TENSORS, safetensors_writer({"rows": index, "means": acts.means[index].contiguous(),
                                                 "n_tokens": acts.n_tokens[index].contiguous(),
                                                 "token_norms": acts.token_norms[index].contiguous()}))
    atomic_write_json(out / SHARD_FILE, {
        "shard": [i, n], "plan": plan, "batches": [list(b) for b in batches], "params": p, "spec": acts.spec,
        "meta": list(acts.meta), "skipped": sorted(skipped), "info": acts.info})
    return acts.select(rows)


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
    """Check that ``folders`` are all the shards of one plan, add them, and save the run folder ``out``."""
    from workbench.collect.activations import StoryActivations

    folders = [Path(f) for f in folders]
    if not folders:
        raise InputError("merge needs at least one shard folder")
    loaded = [_read(f) for f in folders]
    records = [r for r, _ in loaded]
    _check_same_plan(records, folders)
    n = _check_cover(records, folders)
    first, batches = records[0], records[0]["batches"]
    shape = loaded[0][1]["means"].shape  # [texts in the shard, layers, d_model]
    means = torch.zeros((len(first["meta"]), *shape[1:]), dtype=torch.float32)
    n_tokens = torch.zeros(len(first["meta"]), dtype=torch.int64)
    token_norms = torch.zeros((len(first["meta"]), shape[1]), dtype=torch.float32)
    for (record, tensors), folder in zip(loaded, folders):
        i = record["shard"][0]
        expected = sorted(r for b, batch in enumerate(batches) if b % n == i for r in batch)
        if tensors["rows"].tolist() != expected:
            raise RunFolderError(f"{folder}: its texts are not those of batches {i}, {i} + {n}, ... of the plan")
        if "token_norms" not in tensors:
            raise RunFolderError(f"{folder}/{TENSORS}: no token_norms (a shard written before per-token norms were "
                                 "recorded): collect the shard again")
        means[tensors["rows"]] += tensors["means"]  # each row from one shard: the sum is that shard's row
        n_tokens[tensors["rows"]] += tensors["n_tokens"]
        token_norms[tensors["rows"]] += tensors["token_norms"]
    info = dict(first["info"])
    info.update({"merged_from": [str(f) for f in folders], "shards": n, "resumed_at_batch": 0,
                 "seconds": round(sum(r["info"].get("seconds", 0) for r in records), 3),
                 "tokens": sum(r["info"].get("tokens", 0) for r in records)})
    info.pop("shard", None)
    acts = StoryActivations(means, n_tokens, tuple(first["plan"]["layers"]), tuple(first["meta"]), first["spec"],
                            first["params"], info, token_norms=token_norms)
    skipped = set(first["skipped"])
    if skipped:
        acts = acts.select([i for i in range(len(acts)) if i not in skipped])
    acts.save(out)
    return acts
