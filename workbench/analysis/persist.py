"""Reading and writing emotion vectors in a run folder."""

from __future__ import annotations

import hashlib
from pathlib import Path

from safetensors import SafetensorError
from safetensors.torch import load_file
from safetensors.torch import save as save_bytes

from workbench.errors import RunFolderError
from workbench.io import read_json, sha256_file
from workbench.runfolder import damaged
from workbench.runfolder.manifest import MANIFEST_FILE, check_format

__all__ = ["vectors_payload", "save_vectors", "load_vectors", "check_format"]


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
        "source": vectors.source,
    }
    return blob, section


def save_vectors(vectors, directory) -> str:
    """Write ``emotion_vectors.safetensors`` and the manifest's ``vectors`` section (dropping the now
    stale analysis) under the folder's writer lock; the sha256 of the bytes written."""
    from workbench.io import atomic_write_bytes
    from workbench.runfolder import run_lock
    from workbench.runfolder.manifest import update_manifest

    directory = Path(directory)
    blob, section = vectors_payload(vectors)
    directory.mkdir(parents=True, exist_ok=True)
    with run_lock(directory):
        atomic_write_bytes(directory / section["file"], blob)
        update_manifest(directory, "vectors", section, drop=("analysis",))
    return section["sha256"]


def load_vectors(cls, directory: Path):
    manifest_path = directory / MANIFEST_FILE
    manifest = read_json(manifest_path)
    check_format(manifest, manifest_path)
    section = manifest.get("vectors")
    if not section:
        raise RunFolderError(f"{manifest_path} has no 'vectors' section: the vectors were not saved completely; "
                             f"run `workbench analyze {directory}` again")
    with damaged(manifest_path, f"run `workbench analyze {directory}` again"):
        if not isinstance(section, dict):
            raise TypeError(f"its vectors section is a {type(section).__name__}")
        return _load(cls, directory, manifest_path, section)


def _load(cls, directory: Path, manifest_path: Path, section: dict):
    path = directory / str(section.get("file", "emotion_vectors.safetensors"))
    # The manifest is written after the file: a file that does not match it comes from an interrupted save.
    if section.get("sha256") and path.is_file() and sha256_file(path) != section["sha256"]:
        raise RunFolderError(f"{path} does not match {manifest_path} (sha256 differs): a save was interrupted "
                             f"or the file was changed; run `workbench analyze {directory}` again")
    try:
        tensors = load_file(path)
    except (SafetensorError, OSError) as exc:
        raise RunFolderError(f"{path} cannot be read ({exc})") from None
    missing = [k for k in section.get("tensors", ["raw", "contrast"]) if k not in tensors]
    if missing:
        raise RunFolderError(f"{directory}/emotion_vectors.safetensors lacks {missing}")
    ks = section.get("neutral_k")
    n_stories = section.get("n_stories")
    return cls(tuple(section["emotions"]), tuple(section["layers"]), tensors["raw"], tensors["contrast"],
               tensors.get("projected"), tensors.get("neutral_basis"), None if ks is None else tuple(ks),
               section.get("neutral_variance"), None if n_stories is None else tuple(n_stories),
               section.get("n_model_layers"), section.get("source"))
