"""The check that a run folder is analysed: every required file there and the one its manifest recorded.

Used by the report (:mod:`workbench.report.folder`) and the token view (:mod:`workbench.report.tokens`).
"""

from __future__ import annotations

from pathlib import Path

from workbench.errors import RunFolderError

__all__ = ["check_run_folder", "check_analysed_run", "REQUIRED_FILES"]

# file -> what the report draws from it (all made by `workbench analyze`)
REQUIRED_FILES = {
    "layers.csv": "the per-layer table and the depth figure",
    "cka_debiased.csv": "the CKA heatmaps",
    "cka_biased.csv": "the CKA heatmaps",
    "valence_cosine.csv": "the valence-direction cosine figure",
    "valence_directions.safetensors": "the token view's valence direction",
    "emotion_vectors.safetensors": "the PCA figure",
    "summary.json": "the headline numbers",
}


def _make(run_dir: Path) -> str:
    return f"`workbench analyze {run_dir}` (after `workbench collect --out {run_dir}`), or `workbench run --out {run_dir}`"


def check_run_folder(run_dir: str | Path, digests: bool = True) -> dict:
    """The manifest of ``run_dir`` once every required file is there (and, with ``digests``, each the file
    its manifest recorded); else a RunFolderError naming the first missing file and the command that makes it."""
    from workbench.runfolder.layers import analysis_section
    from workbench.runfolder.manifest import run_manifest

    run_dir = Path(run_dir)
    path = run_dir / "manifest.json"
    manifest = run_manifest(run_dir)
    if not isinstance(manifest, dict) or ("collect" not in manifest and "imported" not in manifest):
        raise RunFolderError(f"{path} has no 'collect' section: collect again with `workbench collect --out {run_dir}`")
    analysis_section(run_dir, manifest)
    for name, used_for in REQUIRED_FILES.items():
        if not (run_dir / name).is_file():
            raise RunFolderError(f"{run_dir / name} is missing (needed for {used_for}): it is made by {_make(run_dir)}")
    if digests:
        _check_recorded(run_dir, manifest)
    return manifest


def check_analysed_run(run_dir: str | Path, **layers: int | None) -> tuple[dict, dict[str, int | None]]:
    """:func:`check_run_folder` with the layer settings (``field=value``) checked against the analysis
    first, from the manifest alone (before any file is hashed, and before torch is imported):
    ``(manifest, {field: block index})``."""
    from workbench.runfolder.layers import check_analysed_layers

    check_run_folder(run_dir, digests=False)
    checked = check_analysed_layers(run_dir, **layers)
    return check_run_folder(run_dir), checked


def _check_recorded(run_dir: Path, manifest: dict) -> None:
    """Every file whose sha256 the manifest records (collect, analysis) is the file it recorded (the vectors:
    :meth:`GeometryReport.load` checks them against the analysis' inputs)."""
    from workbench.runfolder import check_digests, damaged

    path = run_dir / "manifest.json"
    with damaged(path, f"collect and analyze again ({_make(run_dir)})"):
        sections = {"analysis": (manifest["analysis"].get("sha256") or {}, f"`workbench analyze {run_dir}`")}
        if "collect" in manifest or "imported" not in manifest:  # imported vectors have no collect section
            sections["collect"] = (manifest["collect"].get("sha256") or {}, f"`workbench collect --out {run_dir}`")
        for digests, remake in sections.values():
            check_digests(run_dir, digests, path, f"make it again with {remake}")
