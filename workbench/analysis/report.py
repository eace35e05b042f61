"""``GeometryReport``: the frozen result of :func:`workbench.analysis.analyze`, with save and load.

Files in a run folder (``save``): ``layers.csv`` (one row per layer and
neutral-projection setting), ``cka_debiased.csv``, ``cka_biased.csv`` and
``valence_cosine.csv`` (layer x layer, on the contrast vectors),
``valence_directions.safetensors`` (``directions`` on the contrast vectors,
``directions_projected`` when projected vectors exist), ``summary.json``
(the headline :class:`Peak` of each rating and condition, as ``peak_*`` and
``arousal_peak_*`` keys, the block-0 and no-model baselines, and everything
not in the tables, including the projected condition's matrices), and last the
``analysis`` section of ``manifest.json`` (with ``analysis_format``: an analysis
saved in another format is refused on load, with the command that redoes it).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from workbench.analysis import report_io as rio
from workbench.analysis.condition import LAYER_COLUMNS, MATRICES, STAT_COLUMNS, ConditionResult
from workbench.analysis.peak import Peak, peak_lines
from workbench.errors import InputError, RunFolderError

__all__ = ["ConditionResult", "GeometryReport", "STAT_COLUMNS", "LAYER_COLUMNS", "ANALYSIS_FILES",
           "ANALYSIS_FORMAT"]

# 2: cross-fitted peak over emotion halves (Peak), emotion bootstrap, best PCs, baselines (issue 12).
ANALYSIS_FORMAT = 2
ANALYSIS_FILES = ("layers.csv", "cka_debiased.csv", "cka_biased.csv", "valence_cosine.csv",
                  "valence_directions.safetensors", "summary.json")


@dataclass(frozen=True, eq=False)
class GeometryReport:
    emotions: tuple[str, ...]  # in the rows' order of the analysed vectors
    layers: tuple[int, ...]
    depth: np.ndarray  # [n_layers] layer / (n_model_layers - 1)
    n_model_layers: int
    conditions: tuple[ConditionResult, ...]  # projection off first, then on when available
    settings: dict
    excluded: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    timings: dict = field(default_factory=dict)
    inputs: dict = field(default_factory=dict)
    baselines: dict = field(default_factory=dict)  # name -> valence statistics of features with no model

    @property
    def peak(self) -> Peak:
        """The headline valence peak of the primary condition (neutral projection off)."""
        return self.conditions[0].peak

    def headline(self) -> str:
        """The headline as text, one line per rating and condition (what ``workbench analyze`` prints)."""
        return "\n".join(peak_lines(self))

    def _repr_html_(self) -> str:
        """A small table, shown when the object ends a Jupyter cell."""
        from workbench.display import report_html

        return report_html(self)

    def condition(self, neutral_projection: bool = False) -> ConditionResult:
        for c in self.conditions:
            if c.neutral_projection == neutral_projection:
                return c
        raise InputError("this analysis has no neutral-projected condition (no neutral texts were given)")

    def layers_table(self) -> list[dict]:
        """One dict per (condition, layer), keys in ``LAYER_COLUMNS`` order."""
        rows = []
        for c in self.conditions:
            for j, layer in enumerate(self.layers):
                row = {"layer": layer, "depth": float(self.depth[j]), "neutral_projection": c.neutral_projection,
                       "n_emotions": len(self.emotions)}
                row.update({name: rio.scalar(c.columns[name][j]) for name in STAT_COLUMNS})
                rows.append(row)
        return rows

    def summary(self) -> dict:
        primary = self.conditions[0]
        out = primary.to_summary(with_matrices=False)
        out = {k: v for k, v in out.items() if not k.startswith("cka")}
        out.update({
            "neutral_projection": primary.neutral_projection,
            "n_emotions": len(self.emotions),
            "emotions_excluded": list(self.excluded),
            "layers": list(self.layers),
            "n_model_layers": self.n_model_layers,
            "conditions": {c.label: c.to_summary(with_matrices=c is not primary) for c in self.conditions},
            "baselines": self.baselines,
            "settings": self.settings,
            "notes": list(self.notes),
            "timings": self.timings,
        })
        return out

    def save(self, run_dir: str | Path) -> Path:
        """Write the files listed in the module docstring, then the manifest's ``analysis`` section
        (under the folder's writer lock: :func:`workbench.runfolder.run_lock`)."""
        from workbench.runfolder import run_lock

        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        with run_lock(run_dir):
            return self._save(run_dir)

    def _save(self, run_dir: Path) -> Path:
        from workbench.analysis.manifest import drop_manifest_section, sha256_file, update_manifest, versions

        start = time.perf_counter()
        drop_manifest_section(run_dir, "analysis")  # an interrupted save is then refused, never mixed
        off = self.conditions[0]
        digests = {"layers.csv": rio.write_layers_csv(run_dir / "layers.csv", LAYER_COLUMNS, self.layers_table())}
        for name in MATRICES:
            digests[f"{name}.csv"] = rio.write_matrix_csv(run_dir / f"{name}.csv", self.layers, getattr(off, name))
        tensors = {"directions": off.directions}
        if len(self.conditions) > 1:
            tensors["directions_projected"] = self.conditions[1].directions
        digests["valence_directions.safetensors"] = rio.write_tensors(run_dir / "valence_directions.safetensors",
                                                                       tensors)
        digests["summary.json"] = rio.write_json(run_dir / "summary.json", self.summary())
        inputs = dict(self.inputs)
        for name in ("activations.safetensors", "emotion_vectors.safetensors"):  # unless the caller knows better
            if f"{name} sha256" not in inputs and (run_dir / name).is_file():
                inputs[f"{name} sha256"] = sha256_file(run_dir / name)
        timings = dict(self.timings, save=round(time.perf_counter() - start, 3))
        update_manifest(run_dir, "analysis", {
            "analysis_format": ANALYSIS_FORMAT,
            "files": list(ANALYSIS_FILES),
            "sha256": digests,  # checked on load: a damaged or edited table is refused
            "emotions": list(self.emotions),
            "emotions_excluded": list(self.excluded),
            "layers": list(self.layers),
            "n_model_layers": self.n_model_layers,
            "conditions": [c.label for c in self.conditions],
            "dtype": "float64 statistics; float32 directions",
            "settings": self.settings,
            "seed": self.settings.get("seed"),
            "inputs": inputs,
            "timings": timings,
            "versions": versions(),
            "notes": list(self.notes),
        })
        return run_dir

    @classmethod
    def load(cls, run_dir: str | Path) -> GeometryReport:
        """The analysis saved in ``run_dir`` by :meth:`save`; a folder in another analysis format, or with a
        file that is not the one saved (sha256), is refused with the command that redoes it."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        from workbench.io import read_json
        from workbench.runfolder import check_digests, damaged
        from workbench.runfolder.layers import analysis_section

        run_dir = Path(run_dir)
        again = f"run `workbench analyze {run_dir}` again"
        section = analysis_section(run_dir)
        if section.get("analysis_format") != ANALYSIS_FORMAT:
            raise RunFolderError(f"{run_dir}: its analysis was saved in format "
                                 f"{section.get('analysis_format', 1)!r} (this workbench reads analysis format "
                                 f"{ANALYSIS_FORMAT}: the peak is now chosen on half the emotions); {again}")
        with damaged(run_dir / "manifest.json", again):
            _check_inputs(run_dir, section.get("inputs") or {})
            check_digests(run_dir, section.get("sha256") or {}, run_dir / "manifest.json", again)
            layers = tuple(int(x) for x in section["layers"])
            emotions, n_model = tuple(str(e) for e in section["emotions"]), int(section["n_model_layers"])
        rows = rio.read_layers_csv(run_dir / "layers.csv", LAYER_COLUMNS)
        summary = read_json(run_dir / "summary.json")
        try:
            directions = load_file(run_dir / "valence_directions.safetensors")
        except (OSError, SafetensorError) as exc:
            raise RunFolderError(f"{run_dir}/valence_directions.safetensors is missing or unreadable ({exc})") \
                from None
        with damaged(run_dir / "summary.json", again):
            built = [ConditionResult.from_saved(run_dir, flag, rows, summary, directions, layers)
                     for flag in (False, True)]
            conditions = tuple(c for c in built if c is not None)
            if not conditions:
                raise RunFolderError(f"{run_dir}/layers.csv has no rows")
            depth = np.array([r["depth"] for r in rows if not r["neutral_projection"]])
            return cls(emotions, layers, depth, n_model, conditions, section.get("settings", {}),
                       tuple(section.get("emotions_excluded", ())), tuple(section.get("notes", ())),
                       section.get("timings", {}), section.get("inputs", {}), summary.get("baselines") or {})


def _check_inputs(run_dir: Path, inputs: dict) -> None:
    """The vectors analysed must be the vectors in the folder (a later, interrupted save may have replaced them)."""
    from workbench.analysis.manifest import sha256_file

    name = "emotion_vectors.safetensors"
    recorded = inputs.get(f"{name} sha256")
    if recorded and (run_dir / name).is_file() and sha256_file(run_dir / name) != recorded:
        raise RunFolderError(f"{run_dir}/{name} is not the file this analysis was made from (sha256 differs): "
                             f"a later save was interrupted or the file was changed; run `workbench analyze "
                             f"{run_dir}` again")
