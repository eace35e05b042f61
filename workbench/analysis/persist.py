"""Reading and writing emotion vectors in a run folder."""

from __future__ import annotations

import hashlib
from pathlib import Path

from safetensors import SafetensorError
from safetensors.torch import load_file
from safetensors.torch import save as save_bytes

from workbench.analysis.manifest import MANIFEST_FILE
from workbench.errors import RunFolderError
from workbench.io import read_json

__all__ = ["vectors_payload", "load_vectors"]


def vectors_payload(vectors):
    """(safetensors bytes, manifest ``vectors`` section) for ``vectors``."""
    tensors = {"raw": vectors.raw, "contrast": vectors.contrast}
    if vectors.projected is not None:
        tensors["projected"] = vectors.projected
        tensors["neutral_basis"] = vectors.neutral_basis
    blob = save_bytes({k: v.float().contiguous() for k, v in tensors.items()})
    section = {
        "file": "emotion_vectors.safetensors",
        "sha256": hashlib.sha256(blob).hexdigest(),
        "emotions": list(vectors.emotions),
        "layers": list(vectors.layers),
        "d_model": vectors.d_model,
        "dtype": "float32",
        "tensors": sorted(tensors),
        "neutral_projection": vectors.projected is not None,
        "neutral_k": None if vectors.neutral_k is None else list(vectors.neutral_k),
        "neutral_variance": vectors.neutral_variance,
        "n_stories": None if vectors.n_stories is None else list(vectors.n_stories),
        "n_model_layers": vectors.n_model_layers,
    }
    return blob, section


def load_vectors(cls, directory: Path):
    manifest_path = directory / MANIFEST_FILE
    manifest = read_json(manifest_path)
    section = manifest.get("vectors") if isinstance(manifest, dict) else None
    if not section:
        raise RunFolderError(f"{manifest_path} has no 'vectors' section: the vectors were not saved completely; "
                             f"run `workbench analyze {directory}` again")
    try:
        tensors = load_file(directory / section.get("file", "emotion_vectors.safetensors"))
    except (SafetensorError, OSError) as exc:
        raise RunFolderError(f"{directory}/emotion_vectors.safetensors cannot be read ({exc})") from None
    missing = [k for k in section.get("tensors", ["raw", "contrast"]) if k not in tensors]
    if missing:
        raise RunFolderError(f"{directory}/emotion_vectors.safetensors lacks {missing}")
    ks = section.get("neutral_k")
    n_stories = section.get("n_stories")
    return cls(tuple(section["emotions"]), tuple(section["layers"]), tensors["raw"], tensors["contrast"],
               tensors.get("projected"), tensors.get("neutral_basis"), None if ks is None else tuple(ks),
               section.get("neutral_variance"), None if n_stories is None else tuple(n_stories),
               section.get("n_model_layers"))
