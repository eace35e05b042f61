"""Run folders: the one place that says how a workbench folder is claimed, locked, described and checked.

- :mod:`.folders`: output folders that cannot be clobbered or mixed up (:func:`claim_output_dir`,
  :func:`check_output_file`, :func:`writing_into`), one writer per folder (:func:`run_lock`).
- :mod:`.manifest`: ``manifest.json`` (format version, one section per stage, :func:`versions`) and
  the NaN-safe JSON writer of the result files (:func:`write_json`).
- :mod:`.integrity`: checksums (:func:`check_digests`), damage named by file (:func:`damaged`), the
  stages a dependent result was made from (:func:`stamp`, :func:`stale_reason`).
- :mod:`.tables`: results kept as a summary JSON beside a CSV of rows (:func:`save_rows_and_summary`,
  :func:`load_rows_and_summary`, :func:`csv_text`).
- from :mod:`workbench.io`: atomic and staged writes, :func:`sha256_file`, :func:`read_json`.

The older homes of these helpers (``workbench.analysis.manifest``, ``workbench.integrity``,
``check_format`` in ``workbench.analysis.persist``) re-export them from here.
"""

from workbench.io import (
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    read_json,
    safetensors_writer,
    sha256_file,
    staged_writes,
)
from workbench.runfolder.folders import (
    COLLECT_FILES,
    LOCK_FILE,
    MARKER_FILE,
    RUN_FILES,
    check_not_input,
    check_output_file,
    claim_output_dir,
    folder_kind,
    mark_run_folder,
    run_lock,
    same_path,
    set_command,
    writing_into,
)
from workbench.runfolder.integrity import check_digests, damaged, stale_reason, stamp
from workbench.runfolder.manifest import (
    FORMAT_VERSION,
    MANIFEST_FILE,
    check_format,
    drop_manifest_section,
    json_safe,
    read_manifest,
    update_manifest,
    versions,
    write_json,
)
from workbench.runfolder.tables import csv_text, load_rows_and_summary, read_csv_rows, save_rows_and_summary

__all__ = [
    "MARKER_FILE", "LOCK_FILE", "COLLECT_FILES", "RUN_FILES", "folder_kind", "claim_output_dir", "check_output_file",
    "check_not_input", "writing_into", "mark_run_folder", "run_lock", "set_command", "same_path",
    "damaged", "check_digests", "stamp", "stale_reason",
    "MANIFEST_FILE", "FORMAT_VERSION", "read_manifest", "check_format", "update_manifest", "drop_manifest_section",
    "versions", "json_safe", "write_json",
    "atomic_write_bytes", "atomic_write_text", "atomic_write_json", "staged_writes", "safetensors_writer",
    "sha256_file", "read_json", "csv_text", "read_csv_rows", "save_rows_and_summary", "load_rows_and_summary",
]
