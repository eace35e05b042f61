"""A run folder's ``manifest.json``: its format version, its sections, the versions that wrote them,
and the NaN-safe JSON its result files are written in.

Each stage (collect, vectors, analysis, steer, lens, battery...) owns one section, written last and
holding the sha256 of the files it describes (:func:`workbench.runfolder.check_digests` checks them
on load); :func:`update_manifest` replaces one section and keeps the others.
"""

from __future__ import annotations

import hashlib
import json
import math
import platform
from pathlib import Path

from workbench.errors import RunFolderError
from workbench.io import atomic_write_bytes, atomic_write_json, read_json

__all__ = ["MANIFEST_FILE", "FORMAT_VERSION", "read_manifest", "run_manifest", "collect_section", "check_format", "update_manifest",
           "drop_manifest_section", "versions", "json_safe", "write_json"]

MANIFEST_FILE = "manifest.json"
FORMAT_VERSION = 1  # of the run folder's layout; each stage's section may carry its own (analysis_format)


def check_format(manifest, manifest_path: str | Path) -> None:
    """A manifest of another run folder format (older or newer) is refused, never guessed at."""
    if not isinstance(manifest, dict):
        raise RunFolderError(f"{manifest_path} does not hold a JSON object")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise RunFolderError(f"{manifest_path}: run folder format {version!r}; this workbench reads format "
                             f"{FORMAT_VERSION}: collect and analyze again with this version")


def read_manifest(directory: str | Path) -> dict:
    """The manifest of ``directory``, checked to be of this workbench's format."""
    path = Path(directory) / MANIFEST_FILE
    manifest = read_json(path)
    check_format(manifest, path)
    return manifest


def run_manifest(run_dir: str | Path):
    """What ``run_dir/manifest.json`` holds (its format is the caller's to check); a missing folder or
    manifest, or a collect that did not finish, is refused with the command that makes or resumes it."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunFolderError(f"run folder {run_dir} does not exist: make it with `workbench run --out {run_dir}` "
                             f"(or `workbench collect --out {run_dir}` then `workbench analyze {run_dir}`)")
    path = run_dir / MANIFEST_FILE
    if not path.is_file() and (run_dir / ".partial" / "state.json").is_file():
        raise RunFolderError(f"{run_dir} has no {MANIFEST_FILE}: the collect did not finish "
                             f"(run `workbench collect ... --out {run_dir}` again to resume)")
    if not path.is_file():
        raise RunFolderError(f"{path} is missing: the run folder is made by `workbench collect --out {run_dir}` "
                             f"then `workbench analyze {run_dir}` (or `workbench run --out {run_dir}`)")
    return read_json(path)


def collect_section(directory: str | Path) -> dict:
    """The collect section of a collect's run folder, from its manifest alone (no tensor is read); a folder
    that is missing, unfinished or of another format is refused with the command that makes it."""
    path = Path(directory) / MANIFEST_FILE
    manifest = run_manifest(directory)
    if not isinstance(manifest, dict):
        raise RunFolderError(f"{path} does not hold a JSON object; collect again")
    if manifest.get("format_version") != FORMAT_VERSION or "collect" not in manifest:
        raise RunFolderError(f"{path}: run folder format {manifest.get('format_version')!r}"
                             f"{'' if 'collect' in manifest else ' without a collect section'}; this "
                             f"workbench reads format {FORMAT_VERSION}: collect again with this version")
    return manifest["collect"]


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
    """The versions of Python, the workbench and the libraries its numbers depend on (without importing them)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in ("numpy", "scipy", "torch", "transformers", "workbench"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:  # not installed as a distribution (a checkout on the path)
            out[name] = "unknown"
    return out


def json_safe(obj):
    """``obj`` with numpy values as Python ones, tuples as lists and non-finite floats as None (valid JSON)."""
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if hasattr(obj, "tolist") and not isinstance(obj, (str, bytes)):  # numpy arrays and scalars
        obj = obj.tolist()
        if isinstance(obj, list):
            return json_safe(obj)
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def write_json(path: str | Path, obj) -> str:
    """Write ``obj`` as indented, NaN-safe JSON (:func:`json_safe`; never a bare ``NaN``) atomically;
    the sha256 of the bytes written (for the manifest)."""
    data = (json.dumps(json_safe(obj), indent=2, allow_nan=False) + "\n").encode("utf-8")
    atomic_write_bytes(path, data)
    return hashlib.sha256(data).hexdigest()
