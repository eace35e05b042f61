"""An analysed run folder, read for the report: every required file checked first, with the command that makes it.

Required (``workbench analyze RUN_DIR`` writes them, after ``workbench collect``):
``manifest.json`` with ``collect`` and ``analysis`` sections, ``layers.csv``,
``cka_debiased.csv``, ``cka_biased.csv``, ``valence_cosine.csv``,
``valence_directions.safetensors``, ``emotion_vectors.safetensors`` and
``summary.json``. Optional: ``token_view.json`` (``workbench run``, or ``workbench
report RUN_DIR --tokens``), the steering results ``steering.csv`` /
``steering_summary.json`` (``workbench steer RUN_DIR``) and ``monitor.json``
(``workbench monitor RUN_DIR``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.errors import RunFolderError
from workbench.io import read_json
from workbench.report.check import REQUIRED_FILES, check_run_folder

if TYPE_CHECKING:
    from workbench.analysis.report import GeometryReport
    from workbench.analysis.vectors import EmotionVectors
    from workbench.data.ratings import Ratings
    from workbench.monitor.result import MonitorResult
    from workbench.report.tokens import TokenView
    from workbench.steer.results import SteeringResult

__all__ = ["RunData", "load_run", "check_run_folder", "run_label", "load_run_model", "REQUIRED_FILES",
           "STEERING_FILES"]

STEERING_FILES = ("steering_summary.json", "steering.csv")


@dataclass(frozen=True, eq=False)
class RunData:
    """Everything the report shows, loaded from one run folder."""

    run_dir: Path
    manifest: dict
    report: GeometryReport
    vectors: EmotionVectors
    ratings: Ratings
    token_view: TokenView | None = None
    steering: SteeringResult | None = None  # when the folder has one
    monitor: MonitorResult | None = None  # monitor.json, when the folder has one
    stale: dict = field(default_factory=dict)  # "tokens"/"steering" -> why the folder's one is not shown

    @property
    def label(self) -> dict:
        return run_label(self.manifest, self.run_dir)


def run_label(manifest: dict, run_dir: str | Path) -> dict:
    """``{"model", "corpus"}`` for figure legends: the model name and corpus name the collect recorded
    (a run collected without a corpus name is labelled by its folder)."""
    if "imported" in manifest and "collect" not in manifest:  # vectors from another tool
        return {"model": "imported vectors", "corpus": Path(str(manifest["imported"].get("source", "?"))).name}
    collect = manifest.get("collect", {})
    model = collect.get("model", {}).get("name") or "model?"
    corpus = collect.get("info", {}).get("corpus") or f"folder {Path(run_dir).name}"
    return {"model": str(model), "corpus": str(corpus)}


def _steering(run_dir: Path, manifest: dict):
    """``(result, why_not)``: the run's :class:`SteeringResult` when ``workbench steer`` wrote a current
    one into the folder; else None and, when there are steering files, why they are not shown (made
    from an earlier collect or analysis, or without their manifest section)."""
    from workbench.runfolder import stale_reason
    from workbench.steer.results import SteeringResult

    present = [n for n in STEERING_FILES if (run_dir / n).is_file()]
    if not present:
        return None, None
    remake = f"`workbench steer {run_dir} --layer L`"
    section = manifest.get("steer")
    if not isinstance(section, dict):
        return None, (f"the steering files in this folder ({', '.join(present)}) have no 'steer' section in its "
                      f"manifest (an interrupted steer, or a folder collected or analysed again): make them "
                      f"again with {remake}")
    why = stale_reason(section.get("made_from"), manifest, "steering results", remake)
    return (None, why) if why else (SteeringResult.load(run_dir), None)


def _token_view(run_dir: Path, manifest: dict):
    """``(view, why_not)``, as :func:`_steering` for ``token_view.json``."""
    from workbench.report.tokens import TOKEN_VIEW_FILE, TokenView
    from workbench.runfolder import stale_reason

    if not (run_dir / TOKEN_VIEW_FILE).is_file():
        return None, None
    view = TokenView.load(run_dir)
    why = stale_reason(view.info.get("made_from"), manifest, "token view", f"`workbench report {run_dir} --tokens`")
    return (None, why) if why else (view, None)


def load_run(run_dir: str | Path, ratings=None) -> RunData:
    """Check and load ``run_dir`` (see the module docstring); ``ratings`` default to the project's.

    The ratings must be the ones the analysis used (their sha256 is in the manifest).
    """
    from workbench.analysis.report import GeometryReport
    from workbench.analysis.vectors import EmotionVectors
    from workbench.data.ratings import load_ratings

    run_dir = Path(run_dir)
    manifest = check_run_folder(run_dir)
    ratings = load_ratings() if ratings is None else ratings
    used = manifest["analysis"].get("inputs", {}).get("ratings sha256")
    if used and ratings.sha256 and used != ratings.sha256:
        raise RunFolderError(f"{run_dir} was analysed with other ratings (sha256 {used[:12]}...) than the ones "
                             f"given ({ratings.sha256[:12]}...): pass the ratings file the analysis used")
    report = GeometryReport.load(run_dir)
    vectors = EmotionVectors.load(run_dir)
    (token_view, tokens_stale), (steering, steering_stale) = _token_view(run_dir, manifest), _steering(run_dir, manifest)
    stale = {k: v for k, v in (("tokens", tokens_stale), ("steering", steering_stale)) if v}
    from workbench.monitor.result import MONITOR_FILE, MonitorResult

    monitor = MonitorResult.load(run_dir) if (run_dir / MONITOR_FILE).is_file() else None
    return RunData(run_dir, manifest, report, vectors, ratings, token_view, steering, monitor, stale)


def load_run_model(run_dir: str | Path, device: str = "cpu"):
    """The model ``run_dir`` was collected with, loaded as its manifest records it (name, backend, dtype)."""
    import workbench as wb

    run_dir = Path(run_dir)
    manifest = read_json(run_dir / "manifest.json")
    spec = manifest.get("collect", {}).get("model", {}) if isinstance(manifest, dict) else {}
    if not spec.get("name") or spec.get("source") == "in_memory":
        raise RunFolderError(f"{run_dir}/manifest.json: the run's model ({spec.get('name')!r}, source "
                             f"{spec.get('source')!r}) cannot be loaded by name; load it yourself and call "
                             "workbench.report.make_token_view(model, run_dir)")
    return wb.load_model(spec["name"], backend=spec.get("backend") or "auto", dtype=spec.get("dtype") or "bfloat16",
                         device=device, revision=spec.get("revision"))
