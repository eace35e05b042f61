"""Results kept as a summary JSON beside a CSV of rows (the battery, the preferences).

:func:`save_rows_and_summary` writes both under the run folder's writer lock, then the result's
manifest section (its files, the versions, and what the caller adds); :func:`load_rows_and_summary`
refuses a result with a file missing (naming the command that makes it) or of another format.
The CSV's cells come back as strings; None is written as an empty cell.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from workbench.errors import RunFolderError
from workbench.io import atomic_write_text, read_json

__all__ = ["csv_text", "read_csv_rows", "save_rows_and_summary", "load_rows_and_summary"]


def csv_text(columns, rows) -> str:
    """``rows`` (dicts keyed by ``columns``) as CSV text with a header line."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def read_csv_rows(path: str | Path) -> tuple[dict, ...]:
    """The rows of a CSV file with a header line, as dicts of strings."""
    with open(path, encoding="utf-8", newline="") as fh:
        return tuple(dict(r) for r in csv.DictReader(fh))


def _split(files: tuple[str, ...]) -> tuple[str, str]:
    """``files``' summary (the ``.json``) and rows (the ``.csv``) file names."""
    summary = next(n for n in files if n.endswith(".json"))
    rows = next(n for n in files if n.endswith(".csv"))
    return summary, rows


def save_rows_and_summary(directory: str | Path, section: str, files: tuple[str, ...], fmt: int, summary: dict,
                          columns, rows, manifest: dict) -> Path:
    """Write ``summary`` (with ``"format": fmt``) and ``rows`` into the two ``files`` of ``directory``, then the
    manifest's ``section``: ``manifest`` plus the files and the versions."""
    from workbench.runfolder.folders import run_lock
    from workbench.runfolder.manifest import update_manifest, versions

    directory = Path(directory)
    summary_file, rows_file = _split(files)
    with run_lock(directory):  # one writer per run folder
        atomic_write_text(directory / summary_file, json.dumps({"format": fmt, **summary}, indent=1) + "\n")
        atomic_write_text(directory / rows_file, csv_text(columns, rows))
        update_manifest(directory, section, {"files": list(files), **manifest, "versions": versions()})
    return directory


def load_rows_and_summary(directory: str | Path, files: tuple[str, ...], fmt: int, what: str,
                          remake: str) -> tuple[tuple[dict, ...], dict]:
    """The rows and the summary (without its ``format``) that :func:`save_rows_and_summary` wrote; ``what``
    names the result in errors, ``remake`` is the command that makes it."""
    directory = Path(directory)
    missing = [n for n in files if not (directory / n).is_file()]
    if missing:
        raise RunFolderError(f"{directory}: {what} incomplete ({', '.join(missing)} missing); make it with "
                             f"`{remake}`")
    summary_file, rows_file = _split(files)
    summary = read_json(directory / summary_file)
    if not isinstance(summary, dict) or summary.pop("format", None) != fmt:
        raise RunFolderError(f"{directory / summary_file}: not a {what} of format {fmt}")
    return read_csv_rows(directory / rows_file), summary
