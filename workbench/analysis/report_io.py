"""CSV, JSON and safetensors reading and writing of the analysis tables (no knowledge of the result types)."""

from __future__ import annotations

import csv
import hashlib
import io
import math
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save as save_bytes

from workbench.errors import RunFolderError
from workbench.io import atomic_write_bytes
from workbench.runfolder import damaged
from workbench.runfolder.manifest import json_safe
from workbench.runfolder.manifest import write_json as write_run_json

__all__ = ["scalar", "listify", "write_layers_csv", "write_matrix_csv", "write_tensors", "write_json",
           "read_layers_csv", "read_matrix_csv", "matrix_from_json"]

_BOOL_COLUMNS = ("neutral_projection", "pc1_flipped", "pc2_flipped")
_INT_COLUMNS = ("layer", "n_emotions", "best_valence_pc", "best_arousal_pc")


def scalar(x):
    """A numpy scalar as a plain Python value (NaN stays a float NaN)."""
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    return float(x)


_clean = json_safe  # the run folder's NaN-safe JSON values (workbench.runfolder.manifest)


def listify(a) -> list:
    """Nested lists of an array, NaN as None (valid JSON)."""
    return _clean(np.asarray(a, dtype=np.float64))


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    v = float(v)
    return "" if math.isnan(v) else format(v, ".10g")


def _write(path: Path, data: bytes) -> str:
    """Write ``data`` to ``path`` atomically; its sha256 (recorded in the manifest, checked on load)."""
    atomic_write_bytes(path, data)
    return hashlib.sha256(data).hexdigest()


def write_layers_csv(path: Path, columns, rows) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for row in rows:
        w.writerow([_cell(row[c]) for c in columns])
    return _write(path, buf.getvalue().encode("utf-8"))


def write_matrix_csv(path: Path, layers, matrix) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["layer"] + [str(x) for x in layers])
    for layer, row in zip(layers, np.asarray(matrix)):
        w.writerow([str(layer)] + [_cell(v) for v in row])
    return _write(path, buf.getvalue().encode("utf-8"))


def write_tensors(path: Path, arrays: dict) -> str:
    tensors = {k: torch.as_tensor(np.ascontiguousarray(v), dtype=torch.float32) for k, v in arrays.items()}
    return _write(path, save_bytes(tensors))


def write_json(path: Path, obj) -> str:
    """:func:`workbench.runfolder.write_json`: NaN-safe indented JSON, written atomically; its sha256."""
    return write_run_json(path, obj)


def _parse(name: str, text: str, path: Path, line: int):
    if name in _BOOL_COLUMNS:
        if text not in ("true", "false"):
            raise RunFolderError(f"{path}, line {line}: {name} is {text!r}, expected true or false")
        return text == "true"
    if text == "":
        return math.nan
    try:
        return int(text) if name in _INT_COLUMNS else float(text)
    except ValueError:
        raise RunFolderError(f"{path}, line {line}: {name} is {text!r}, not a number") from None


def _text(path: Path) -> str:
    from workbench.io import read_text

    return read_text(path, error=RunFolderError, remake=f"run `workbench analyze {path.parent}` (again)")


def read_layers_csv(path: Path, columns) -> list[dict]:
    reader = csv.DictReader(_text(path).splitlines())
    missing = [c for c in columns if c not in (reader.fieldnames or [])]
    if missing:
        raise RunFolderError(f"{path} lacks column(s) {missing}; analyze again with this version")
    rows = []
    for i, row in enumerate(reader, start=2):
        if None in row or None in row.values():
            raise RunFolderError(f"{path}, line {i}: {len(row) - (None in row)} cells where the header has "
                                 f"{len(reader.fieldnames or ())}: the file is damaged; run `workbench analyze "
                                 f"{path.parent}` again")
        rows.append({c: _parse(c, row[c], path, i) for c in columns})
    return rows


def _number(text: str, path: Path, line: int) -> float:
    try:
        return math.nan if text == "" else float(text)
    except ValueError:
        raise RunFolderError(f"{path}, line {line}: {text!r} is not a number") from None


def read_matrix_csv(path: Path, layers) -> np.ndarray:
    rows = list(csv.reader(_text(path).splitlines()))
    with damaged(path, f"run `workbench analyze {path.parent}` again"):
        header = [int(x) for x in rows[0][1:]] if rows else []
        labels = [int(r[0]) if r else None for r in rows[1:]]
    if header != list(layers) or labels != list(layers) or any(len(r) != len(header) + 1 for r in rows[1:]):
        raise RunFolderError(f"{path}: its layers do not match layers.csv ({list(layers)}), or a row is cut short")
    return np.array([[_number(v, path, i) for v in r[1:]] for i, r in enumerate(rows[1:], start=2)])


def matrix_from_json(obj) -> np.ndarray:
    """A matrix written by :func:`listify` (None for NaN) as a float64 array."""
    return np.array([[math.nan if v is None else v for v in row] for row in obj], dtype=np.float64)
