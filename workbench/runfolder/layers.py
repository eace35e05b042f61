"""A layer setting checked against a run folder's analysis, from its manifest alone.

The analysis section of ``manifest.json`` records the analysed layers and the
run model's block count, so a layer a run does not have is refused before torch,
the tensors or a model are loaded (``workbench steer RUN --layer 99`` answers in
a fraction of a second). The same check serves the in-memory results
(:func:`check_layer`), so the message is one wherever the layer comes from.
"""

from __future__ import annotations

from pathlib import Path

from workbench.errors import RunFolderError, SettingError
from workbench.runfolder.integrity import damaged
from workbench.runfolder.manifest import check_format, run_manifest

__all__ = ["analysis_section", "analysed_layers", "check_layer", "check_analysed_layers"]


def check_layer(layer: int, n_layers: int, analysed, field: str = "layer") -> int:
    """``layer`` as a block index in ``0..n_layers - 1`` (negative counts from the end), one of ``analysed``;
    else a :class:`SettingError` naming ``field``."""
    if not -n_layers <= layer < n_layers:
        raise SettingError(f"{field} {layer} is out of range: the run's model has {n_layers} blocks "
                           f"(0..{n_layers - 1})", field)
    layer %= n_layers
    if layer not in analysed:
        raise SettingError(f"{field} {layer} was not analysed in this run (layers {list(analysed)})", field)
    return layer


def analysis_section(run_dir: str | Path, manifest: dict | None = None) -> dict:
    """The analysis section of ``run_dir/manifest.json`` (``manifest``: what it holds, when already read),
    a manifest of this workbench's format; a folder that is missing or was not analysed is refused with the
    command that makes it."""
    run_dir = Path(run_dir)
    manifest = run_manifest(run_dir) if manifest is None else manifest
    check_format(manifest, run_dir / "manifest.json")
    section = manifest.get("analysis")
    if not section:
        raise RunFolderError(f"{run_dir}/manifest.json has no 'analysis' section: run `workbench analyze "
                             f"{run_dir}` (again; an interrupted analysis writes no section)")
    if not isinstance(section, dict):
        raise RunFolderError(f"{run_dir}/manifest.json: its analysis section is a {type(section).__name__}; "
                             f"run `workbench analyze {run_dir}` again")
    return section


def analysed_layers(run_dir: str | Path) -> tuple[int, tuple[int, ...]]:
    """``(blocks of the run's model, analysed layers)`` from ``run_dir``'s :func:`analysis_section`."""
    section = analysis_section(run_dir)
    with damaged(Path(run_dir) / "manifest.json", f"run `workbench analyze {run_dir}` again"):
        return int(section["n_model_layers"]), tuple(int(x) for x in section["layers"])


def check_analysed_layers(run_dir: str | Path, **layers: int | None) -> dict[str, int | None]:
    """Each layer setting (``field=value``; ``None`` is left as it is) checked against ``run_dir``'s
    analysis by :func:`check_layer`: ``{field: block index}``."""
    n_layers, analysed = analysed_layers(run_dir)
    return {field: None if layer is None else check_layer(layer, n_layers, analysed, field)
            for field, layer in layers.items()}
