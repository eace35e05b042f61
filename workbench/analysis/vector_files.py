"""Emotion vectors from other tools' files, and the export that writes them.

Accepted (every refusal names the file):

- a folder of per-layer files named with their layer number (``layer_16.npz``,
  ``L16.npz``; also ``.safetensors`` and ``.pt``), each mapping emotion names to
  one ``[d_model]`` vector; every file must hold the same emotions;
- one ``.npz`` or ``.safetensors`` file with ``vectors`` ``[layer, emotion, d_model]``
  and the emotion names (an ``emotions`` string array in ``.npz``, the JSON list
  ``emotions`` in the ``.safetensors`` metadata), optionally ``layers``;
- one ``.pt`` file saved with ``torch.save`` holding a dict of the same keys,
  loaded with ``torch.load(weights_only=True)`` (a pickle of anything else is refused).

``.npz`` files are read with ``allow_pickle=False``. An optional ``neutral_basis``
``[layer, k, d_model]`` with ``neutral_k`` (what :func:`export_vectors` writes)
brings the neutral projection along.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from workbench.errors import InputError

__all__ = ["VectorFiles", "read_vector_files", "export_vectors", "SUFFIXES"]

SUFFIXES = (".npz", ".safetensors", ".pt")
_LAYER_FILE = re.compile(r"^(?:layer[_-]?|l)(\d+)$", re.IGNORECASE)


@dataclass(frozen=True, eq=False)
class VectorFiles:
    """What a vector file or folder holds: ``vectors`` float64 ``[layer, emotion, d_model]``."""

    emotions: tuple[str, ...]
    layers: tuple[int, ...]
    vectors: torch.Tensor
    source: str
    neutral_basis: torch.Tensor | None = None
    neutral_k: tuple[int, ...] | None = None
    n_model_layers: int | None = None


def _load(path: Path) -> dict:
    """The named arrays of one file, as tensors (strings kept as strings)."""
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as npz:
                return {k: _from_numpy(path, k, npz[k]) for k in npz.files}
        if path.suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(path), "pt") as fh:
                out = {k: fh.get_tensor(k) for k in fh.keys()}
                meta = fh.metadata() or {}
            for key in ("emotions", "layers", "neutral_k", "n_model_layers"):
                if key in meta:
                    out[key] = json.loads(meta[key])
            return out
        if path.suffix == ".pt":
            obj = torch.load(path, map_location="cpu", weights_only=True)
            if not isinstance(obj, dict):
                raise InputError(f"{path}: holds a {type(obj).__name__}, expected a dict of named tensors")
            return obj
    except InputError:
        raise
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise InputError(f"{path}: holds pickled objects, which are refused (allow_pickle=False); "
                             "save plain numeric and string arrays") from None
        raise InputError(f"{path}: cannot be read ({exc})") from None
    except Exception as exc:  # torch's UnpicklingError, safetensors' and zip errors: a file we cannot trust
        if "weights_only" in str(exc) or "Unpickl" in type(exc).__name__:
            raise InputError(f"{path}: a pickle payload that torch.load(weights_only=True) refuses "
                             f"({str(exc).splitlines()[0][:200]}); save a dict of tensors and lists") from None
        raise InputError(f"{path}: cannot be read ({type(exc).__name__}: {str(exc)[:200]})") from None
    raise InputError(f"{path}: not one of {SUFFIXES}")


def _from_numpy(path: Path, key: str, array: np.ndarray):
    if array.dtype.kind in "US":
        return [str(x) for x in array.reshape(-1)]
    if array.dtype.kind not in "fiu":
        raise InputError(f"{path}: array {key!r} has dtype {array.dtype}, not numbers")
    return torch.from_numpy(np.array(array))


def _vector(path: Path, name: str, value, d: int | None) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise InputError(f"{path}: {name!r} is a {type(value).__name__}, not an array")
    if value.ndim != 1 or (d is not None and value.shape[0] != d):
        want = f"[{d}]" if d is not None else "[d_model]"
        raise InputError(f"{path}: the vector of {name!r} has shape {list(value.shape)}, expected {want}")
    return value.double()


def _folder(folder: Path) -> VectorFiles:
    files = sorted(p for p in folder.iterdir() if p.suffix in SUFFIXES)
    if not files:
        raise InputError(f"vector folder {folder} holds no {'/'.join(SUFFIXES)} file")
    by_layer: dict[int, Path] = {}
    for path in files:
        match = _LAYER_FILE.match(path.stem)
        if match is None:
            raise InputError(f"{path}: the file name has no layer number (expected e.g. layer_16{path.suffix} "
                             f"or L16{path.suffix})")
        layer = int(match.group(1))
        if layer in by_layer:
            raise InputError(f"{path} and {by_layer[layer]}: two files for layer {layer}")
        by_layer[layer] = path
    layers = tuple(sorted(by_layer))
    emotions, d, rows = None, None, []
    for layer in layers:
        path = by_layer[layer]
        named = _load(path)
        if emotions is None:
            emotions = tuple(named)
        missing = [e for e in emotions if e not in named]
        extra = [e for e in named if e not in emotions]
        if missing or extra:
            first = by_layer[layers[0]].name
            raise InputError(f"{path}: the emotions differ from {first}'s: missing {missing}, extra {extra}")
        vecs = [_vector(path, e, named[e], d) for e in emotions]
        d = vecs[0].shape[0]
        rows.append(torch.stack(vecs))
    return VectorFiles(emotions or (), layers, torch.stack(rows), str(folder))


def _strings(path: Path, key: str, value) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [v.strip() for v in value.replace(",", "\n").splitlines() if v.strip()]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v for v in value):
        raise InputError(f"{path}: {key!r} must be a list of non-empty strings")
    return tuple(value)


def _ints(path: Path, key: str, value) -> tuple[int, ...]:
    values = value.tolist() if isinstance(value, torch.Tensor) else value
    if not isinstance(values, (list, tuple)) or not all(isinstance(v, int) and v >= 0 for v in values):
        raise InputError(f"{path}: {key!r} must be a list of non-negative integers")
    return tuple(values)


def _single(path: Path) -> VectorFiles:
    named = _load(path)
    for key in ("vectors", "emotions"):
        if key not in named:
            raise InputError(f"{path}: no {key!r} entry (it holds {sorted(named)}); expected 'vectors' "
                             "[layer, emotion, d_model] and the 'emotions' list")
    vectors, emotions = named["vectors"], _strings(path, "emotions", named["emotions"])
    if not isinstance(vectors, torch.Tensor) or vectors.ndim != 3:
        shape = list(vectors.shape) if isinstance(vectors, torch.Tensor) else type(vectors).__name__
        raise InputError(f"{path}: 'vectors' has shape {shape}, expected [layer, emotion, d_model]")
    if vectors.shape[1] != len(emotions):
        raise InputError(f"{path}: 'vectors' has shape {list(vectors.shape)}: {vectors.shape[1]} emotions, but "
                         f"'emotions' lists {len(emotions)}")
    layers = _ints(path, "layers", named["layers"]) if "layers" in named else tuple(range(vectors.shape[0]))
    if len(layers) != vectors.shape[0]:
        raise InputError(f"{path}: 'layers' lists {len(layers)} layers for {vectors.shape[0]} in 'vectors'")
    basis = named.get("neutral_basis")
    ks = _ints(path, "neutral_k", named["neutral_k"]) if basis is not None else None
    if basis is not None and ks is not None and (basis.ndim != 3 or basis.shape[0] != vectors.shape[0]
                                                 or basis.shape[2] != vectors.shape[2] or len(ks) != vectors.shape[0]):
        raise InputError(f"{path}: 'neutral_basis' has shape {list(basis.shape)}; expected [layer, k, d_model] "
                         f"matching 'vectors' {list(vectors.shape)} and one 'neutral_k' per layer")
    n_model = named.get("n_model_layers")
    n_model = int(n_model.item() if isinstance(n_model, torch.Tensor) else n_model) if n_model is not None else None
    return VectorFiles(emotions, layers, vectors.double(), str(path),
                       None if basis is None else basis.double(), ks, n_model)


def _check(files: VectorFiles) -> VectorFiles:
    if len(set(files.emotions)) != len(files.emotions):
        raise InputError(f"{files.source}: emotions listed twice: "
                         f"{sorted({e for e in files.emotions if files.emotions.count(e) > 1})}")
    if len(set(files.layers)) != len(files.layers):
        raise InputError(f"{files.source}: layers listed twice: {list(files.layers)}")
    bad = ~torch.isfinite(files.vectors)
    if bad.any():
        j, e, _ = (int(i) for i in torch.nonzero(bad)[0])
        raise InputError(f"{files.source}: NaN or infinite values, first in the vector of {files.emotions[e]!r} at "
                         f"layer {files.layers[j]} ({int(bad.any(-1).sum())} vectors affected)")
    return files


def read_vector_files(path: str | Path) -> VectorFiles:
    """Read a vector folder or file (see the module docstring); every problem names the file."""
    path = Path(path)
    if path.is_dir():
        return _check(_folder(path))
    if not path.is_file():
        raise InputError(f"vector file or folder {path} does not exist")
    if path.suffix not in SUFFIXES:
        raise InputError(f"{path}: not one of {SUFFIXES} (or a folder of per-layer files)")
    return _check(_single(path))


def export_vectors(vectors, path: str | Path, kind: str = "contrast") -> Path:
    """Write ``vectors`` as one ``.safetensors`` or ``.npz`` file that :func:`read_vector_files` reads.

    ``kind``: ``"contrast"`` (default: centred, so importing them changes nothing) or ``"raw"``. The
    neutral basis goes along, so an import can redo the neutral projection.
    """
    path = Path(path)
    tensors = {"vectors": vectors.kind(kind).float().contiguous()}
    meta = {"emotions": list(vectors.emotions), "layers": list(vectors.layers), "kind": kind,
            "n_model_layers": vectors.n_model_layers}
    if vectors.has_projection:
        tensors["neutral_basis"] = vectors.neutral_basis.float().contiguous()
        meta["neutral_k"] = list(vectors.neutral_k)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file(tensors, str(path), metadata={k: json.dumps(v) for k, v in meta.items() if v is not None})
    elif path.suffix == ".npz":
        arrays = {k: v.numpy() for k, v in tensors.items()}
        arrays.update({k: np.asarray(v) for k, v in meta.items() if v is not None and k != "kind"})
        np.savez(path, **arrays)
    else:
        raise InputError(f"export to {path}: the suffix must be .safetensors or .npz")
    return path
