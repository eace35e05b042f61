"""Layer settings checked against a run folder's manifest alone (workbench.runfolder.layers)."""

from __future__ import annotations

import json

import pytest

from workbench.errors import RunFolderError, SettingError
from workbench.runfolder.layers import analysed_layers, check_analysed_layers, check_layer


def _run(tmp_path, analysis):
    run = tmp_path / "run"
    run.mkdir()
    manifest = {"format_version": 1, "collect": {}}
    if analysis is not None:
        manifest["analysis"] = analysis
    (run / "manifest.json").write_text(json.dumps(manifest))
    return run


@pytest.mark.parametrize("layer, expected", [(0, 0), (5, 5), (-1, 5), (-6, 0)])
def test_check_layer_counts_negative_layers_from_the_end(layer, expected):
    assert check_layer(layer, 6, range(6)) == expected


@pytest.mark.parametrize("layer, message", [
    (6, r"layer 6 is out of range: the run's model has 6 blocks \(0\.\.5\)"),
    (-7, "layer -7 is out of range"),
    (3, r"layer 3 was not analysed in this run \(layers \[0, 2, 4\]\)"),
    (-3, r"layer 3 was not analysed"),  # -3 of 6 blocks is block 3
])
def test_check_layer_refuses_with_the_field_name(layer, message):
    with pytest.raises(SettingError, match=message) as info:
        check_layer(layer, 6, (0, 2, 4), "readback_layer")
    assert info.value.fields == ("readback_layer",) and str(info.value).startswith("readback_layer ")


def test_analysed_layers_read_from_the_manifest(tmp_path):
    run = _run(tmp_path, {"n_model_layers": 18, "layers": [0, 8, 17]})
    assert analysed_layers(run) == (18, (0, 8, 17))
    assert check_analysed_layers(run, layer=-1, readback_layer=None) == {"layer": 17, "readback_layer": None}
    with pytest.raises(SettingError, match="layer 9 was not analysed"):
        check_analysed_layers(run, layer=9)


@pytest.mark.parametrize("analysis, message", [
    (None, "has no 'analysis' section: run `workbench analyze"),
    ({}, "has no 'analysis' section"),
    ([1, 2], "its analysis section is a list"),
    ({"layers": [0, 1]}, "is damaged or was edited"),
    ({"n_model_layers": "many", "layers": [0]}, "is damaged or was edited"),
])
def test_a_run_without_a_usable_analysis_is_refused(tmp_path, analysis, message):
    with pytest.raises(RunFolderError, match=message):
        analysed_layers(_run(tmp_path, analysis))


def test_a_missing_folder_or_another_format_is_refused(tmp_path):
    with pytest.raises(RunFolderError, match="run folder .*nowhere does not exist"):
        analysed_layers(tmp_path / "nowhere")
    run = _run(tmp_path, {"n_model_layers": 2, "layers": [0, 1]})
    (run / "manifest.json").write_text(json.dumps({"format_version": 0, "analysis": {}}))
    with pytest.raises(RunFolderError, match="run folder format 0"):
        analysed_layers(run)
