"""Adding a stage's section to a run folder's ``manifest.json`` (atomically, keeping the others)."""

from __future__ import annotations

import platform
from pathlib import Path

from workbench.errors import RunFolderError
from workbench.io import atomic_write_json, read_json, sha256_file

__all__ = ["update_manifest", "drop_manifest_section", "sha256_file", "versions", "MANIFEST_FILE"]

MANIFEST_FILE = "manifest.json"
FORMAT_VERSION = 1


def update_manifest(directory: str | Path, section: str, content: dict, drop: tuple[str, ...] = ()) -> Path:
    """Set ``manifest[section] = content``, drop the (now stale) sections ``drop``, keep the rest."""
    path = Path(directory) / MANIFEST_FILE
    manifest = read_json(path) if path.exists() else {"format_version": FORMAT_VERSION}
    if not isinstance(manifest, dict):
        raise RunFolderError(f"{path} does not hold a JSON object")
    for name in drop:
        manifest.pop(name, None)
    manifest[section] = content
    return atomic_write_json(path, manifest)


def drop_manifest_section(directory: str | Path, section: str) -> None:
    """Remove ``manifest[section]`` if present (before its files are rewritten, so that a save that
    fails half-way leaves a folder that is refused, never old metadata over new tables)."""
    path = Path(directory) / MANIFEST_FILE
    if not path.exists():
        return
    manifest = read_json(path)
    if isinstance(manifest, dict) and section in manifest:
        manifest.pop(section)
        atomic_write_json(path, manifest)


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    import numpy
    import scipy
    import torch

    try:
        workbench_version = version("workbench")
    except PackageNotFoundError:  # not installed as a distribution
        workbench_version = "unknown"
    return {"python": platform.python_version(), "numpy": numpy.__version__, "scipy": scipy.__version__,
            "torch": torch.__version__, "workbench": workbench_version}
