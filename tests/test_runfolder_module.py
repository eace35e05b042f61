"""The run-folder module: manifest, format version, versions, the NaN-safe JSON writer, and the old names."""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pytest

import workbench.runfolder as rf
from workbench.errors import RunFolderError


def test_write_json_is_nan_safe_and_returns_the_sha256(tmp_path):
    obj = {"r": np.float64("nan"), "ci": np.array([0.1, np.inf]), "n": np.int64(3), "t": (1, -math.inf), "s": "x"}
    digest = rf.write_json(tmp_path / "a.json", obj)
    data = (tmp_path / "a.json").read_bytes()
    assert digest == hashlib.sha256(data).hexdigest() == rf.sha256_file(tmp_path / "a.json")
    assert b"NaN" not in data and b"Infinity" not in data
    assert json.loads(data) == {"r": None, "ci": [0.1, None], "n": 3, "t": [1, None], "s": "x"}


def test_the_manifest_keeps_other_sections_and_refuses_other_formats(tmp_path):
    rf.update_manifest(tmp_path, "collect", {"a": 1})
    rf.update_manifest(tmp_path, "analysis", {"b": 2})
    rf.update_manifest(tmp_path, "vectors", {"c": 3}, drop=("analysis",))
    assert rf.read_manifest(tmp_path) == {"format_version": rf.FORMAT_VERSION, "collect": {"a": 1}, "vectors": {"c": 3}}
    rf.drop_manifest_section(tmp_path, "vectors")
    assert set(rf.read_manifest(tmp_path)) == {"format_version", "collect"}
    (tmp_path / rf.MANIFEST_FILE).write_text(json.dumps({"format_version": 99}))
    with pytest.raises(RunFolderError, match="run folder format 99; this workbench reads format 1"):
        rf.read_manifest(tmp_path)


def test_versions_name_the_libraries_without_importing_them():
    found = rf.versions()
    assert set(found) == {"python", "numpy", "scipy", "torch", "transformers", "workbench"}
    assert found["numpy"] == np.__version__


def test_the_old_homes_re_export_the_same_objects():
    import workbench.analysis.manifest as old_manifest
    import workbench.analysis.persist as persist
    import workbench.analysis.report_io as report_io
    import workbench.integrity as old_integrity
    import workbench.models.hf as hf

    assert old_manifest.update_manifest is rf.update_manifest and old_manifest.versions is rf.versions
    assert old_manifest.sha256_file is rf.sha256_file is hf.sha256_file
    assert old_integrity.damaged is rf.damaged and old_integrity.check_digests is rf.check_digests
    assert persist.check_format is rf.check_format
    assert report_io.listify([1.0, float("nan")]) == [1.0, None]
