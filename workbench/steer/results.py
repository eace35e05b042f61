"""``SteeringResult``: the frozen result of a steering experiment, with save and load.

Files (``save``): ``steering.csv`` (one row per generated text, with every
setting), ``steering_summary.json`` (the rhos with CIs, means by alpha, settings,
timings) and last the ``steer`` section of ``manifest.json``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

from workbench.errors import RunFolderError
from workbench.io import atomic_write_bytes, read_json, read_text
from workbench.runfolder import check_digests, damaged
from workbench.values import format_interval, format_number

__all__ = ["SteeringResult", "COLUMNS", "STEER_FILES", "STEER_STAGES"]

STEER_FILES = ("steering.csv", "steering_summary.json")
STEER_STAGES = ("collect", "vectors", "analysis")  # what steering is made from (stale when one is redone)
# (column, parser); every row also repeats the experiment's settings.
COLUMNS = (
    ("direction", str), ("kind", str), ("alpha", float), ("prompt_index", int), ("sample", int),
    ("sampling_seed", int), ("layer", int), ("norm", float), ("scale", float), ("hook", str), ("positions", str),
    ("readback_layer", int), ("top_k", int), ("temperature", float), ("max_new_tokens", int),
    ("n_new_tokens", int), ("hit_eos", bool), ("vader", float), ("readback", float), ("perplexity", float),
    ("prompt", str), ("text", str),
)


def _cell(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "" if math.isnan(v) else repr(v)
    return str(v)


def _parse(kind, text: str, where: str):
    if kind is bool:
        if text not in ("true", "false"):
            raise RunFolderError(f"{where}: expected true or false, got {text!r}")
        return text == "true"
    if kind is float and text == "":
        return float("nan")
    try:
        return kind(text)
    except ValueError:
        raise RunFolderError(f"{where}: {text!r} is not a {kind.__name__}") from None


def _rho_cell(stat) -> str:
    return format_interval(stat) if stat else ""


@dataclass(frozen=True, eq=False)
class SteeringResult:
    """``rows``: one dict per generated text (keys: the names in :data:`COLUMNS`); ``summary``: the
    statistics of :func:`workbench.steer.summary.summarize` plus settings, norm and timings."""

    rows: tuple[dict, ...]
    summary: dict = field(default_factory=dict)

    @property
    def directions(self) -> tuple[tuple[str, str], ...]:
        """``(name, kind)`` of each direction, in table order."""
        seen: dict[str, str] = {}
        for r in self.rows:
            seen.setdefault(r["direction"], r["kind"])
        return tuple(seen.items())

    def texts(self, direction: str | None = None, alpha: float | None = None) -> list[dict]:
        """Rows of one direction and/or alpha (``prompt``, ``text`` and scores), for reading the generations."""
        return [r for r in self.rows if (direction is None or r["direction"] == direction)
                and (alpha is None or r["alpha"] == alpha)]

    def _repr_html_(self) -> str:
        """A small table for notebooks: rho [CI] of each score for the direction, the controls, the difference."""
        from html import escape

        s = self.summary
        head = (f"Steering {escape(str(s.get('direction')))} at layer {escape(str(s.get('layer')))}: norm "
                f"{format_number(s.get('norm'), '.1f')} ({escape(str(s.get('norm_definition')))}), "
                f"{s.get('n_prompts')} prompts x {s.get('n_samples')} samples, {len(self.rows)} texts; "
                "Spearman rho within each prompt, averaged over prompts [95% CI, bootstrap over prompts]")
        cells = ["<tr><th>score</th><th>direction</th><th>controls</th><th>difference</th></tr>"]
        for score, entry in s.get("scores", {}).items():
            row = [_rho_cell(entry.get(k)) for k in ("direction", "controls", "difference")]
            cells.append(f"<tr><td>{escape(score)}</td>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>")
        empty = (s.get("empty_text_by_alpha") or {}).get(s.get("direction"))
        foot = "" if empty is None else ("<p>empty continuations by alpha (missing for VADER): " + escape(
            ", ".join(f"{float(a):+g}: {n}" for a, n in empty.items())) + "</p>")
        return f"<div><p>{head}</p><table>{''.join(cells)}</table>{foot}</div>"

    def save(self, directory: str | Path) -> Path:
        """Write ``steering.csv``, ``steering_summary.json``, then the manifest's ``steer`` section (under
        the folder's writer lock). The section records what the steering was made from
        (``summary["made_from"]``, else the folder's current collect, vectors and analysis)."""
        from workbench.runfolder import run_lock

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        with run_lock(directory):
            return self._save(directory)

    def _save(self, directory: Path) -> Path:
        from workbench.analysis.manifest import update_manifest, versions
        from workbench.analysis.report_io import write_json
        from workbench.runfolder import stamp

        made_from = self.summary.get("made_from")
        if made_from is None:
            manifest = read_json(directory / "manifest.json") if (directory / "manifest.json").is_file() else {}
            made_from = stamp(manifest, STEER_STAGES)
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow([c for c, _ in COLUMNS])
        for r in self.rows:
            w.writerow([_cell(r[c]) for c, _ in COLUMNS])
        table = buf.getvalue().encode("utf-8")
        atomic_write_bytes(directory / "steering.csv", table)
        digests = {"steering.csv": hashlib.sha256(table).hexdigest(),
                   "steering_summary.json": write_json(directory / "steering_summary.json", self.summary)}
        settings = self.summary.get("settings", {})
        update_manifest(directory, "steer", {
            "files": list(STEER_FILES), "n_texts": len(self.rows),
            "directions": [list(d) for d in self.directions], "settings": settings,
            "layer": settings.get("layer"), "readback_layer": self.summary.get("readback_layer"),
            "norm": self.summary.get("norm"), "norm_definition": self.summary.get("norm_definition"),
            "model": self.summary.get("model"),
            "timings": self.summary.get("timings", {}), "versions": versions(), "made_from": made_from,
            "sha256": digests,  # checked on load: a damaged or edited result is refused
        })
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> SteeringResult:
        directory = Path(directory)
        manifest = read_json(directory / "manifest.json")
        if not isinstance(manifest, dict) or "steer" not in manifest:
            raise RunFolderError(f"{directory}/manifest.json has no 'steer' section: run `workbench steer "
                                 f"{directory} --layer L` (again; an interrupted run writes no section)")
        again = f"run `workbench steer {directory} --layer L` again"
        section = manifest["steer"]
        with damaged(directory / "manifest.json", again):
            check_digests(directory, section.get("sha256") or {}, directory / "manifest.json", again)
        path = directory / "steering.csv"
        text = read_text(path, error=RunFolderError, remake=again)
        reader = csv.DictReader(io.StringIO(text, newline=""))
        missing = [c for c, _ in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise RunFolderError(f"{path} lacks column(s) {missing}; steer again with this version")
        rows = []
        for i, row in enumerate(reader, start=1):
            if None in row or None in row.values():
                raise RunFolderError(f"{path}, row {i}: not as many cells as the header: the file is damaged; {again}")
            rows.append({c: _parse(kind, row[c], f"{path}, row {i} ({c})") for c, kind in COLUMNS})
        summary = read_json(directory / "steering_summary.json")
        if not isinstance(summary, dict):
            raise RunFolderError(f"{directory / 'steering_summary.json'} does not hold a JSON object; {again}")
        return cls(tuple(rows), summary)
