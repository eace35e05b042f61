"""``workbench analyze`` and ``workbench compare`` on synthetic run folders."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from test_analysis_support import combined, make_acts

from workbench.analysis import GeometryReport
from workbench.cli import main
from workbench.data.ratings import load_ratings

ARGS = ["--bootstrap", "20", "--permutations", "20", "--cka-shuffles", "10", "--no-progress"]


def _run_folder(path, n_emotions=24, n_layers=3, d_model=16, neutral=True, seed=0):
    ratings = load_ratings()
    sub = ratings.subset(ratings.emotions[:n_emotions])
    stories, neu = make_acts(sub, n_layers=n_layers, d_model=d_model, stories=2, valence_signal=3.0,
                             n_neutral=10, seed=seed)
    combined(stories, neu if neutral else None).save(path)
    return path


def test_analyze_writes_the_run_folder(tmp_path, capsys):
    run = _run_folder(tmp_path / "a")
    assert main(["analyze", str(run), *ARGS, "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "] PC1-valence: layer" in out and "neutral projection on" in out and "r on the held-out emotions" in out
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["analysis"]["settings"]["seed"] == 3 and "collect" in manifest
    report = GeometryReport.load(run)
    assert len(report.conditions) == 2 and len(report.emotions) == 24


def test_peak_depth_fixes_the_layer_in_advance(tmp_path, capsys):
    run = _run_folder(tmp_path / "d", n_layers=4)
    assert main(["analyze", str(run), *ARGS, "--peak-depth", "0.66", "--bootstrap-scheme", "hierarchical"]) == 0
    out = capsys.readouterr().out
    assert "PC1-valence: layer 2 (depth 0.67, fixed in advance): r = " in out
    report = GeometryReport.load(run)
    peak, cols = report.peak, report.conditions[0].columns
    assert peak.layer == 2 and peak.selection == "fixed in advance at depth 0.66"
    assert peak.r == pytest.approx(cols["pc1_valence_r"][2]) and peak.ci_low == pytest.approx(cols["pc1_valence_ci_low"][2])
    assert peak.p_perm == pytest.approx(cols["pc1_valence_p_perm"][2]) and report.settings["story_bootstrap"] is True
    assert report.headline().splitlines()[0].startswith("[neutral projection off] PC1-valence: layer 2")


def test_analyze_without_neutral_texts_says_so(tmp_path, capsys):
    run = _run_folder(tmp_path / "b", neutral=False)
    assert main(["analyze", str(run), *ARGS, "--exclude-estimated"]) == 0
    out = capsys.readouterr().out
    assert "no neutral texts" in out and "neutral projection off only" in out
    assert "neutral projection on" not in out
    rows = list(csv.DictReader((run / "layers.csv").open()))
    assert {r["neutral_projection"] for r in rows} == {"false"}


def test_compare_by_depth(tmp_path, capsys):
    a = _run_folder(tmp_path / "a", n_layers=3, d_model=16, seed=1)
    b = _run_folder(tmp_path / "b", n_layers=5, d_model=24, seed=2)
    for run in (a, b):
        assert main(["analyze", str(run), *ARGS]) == 0
    out = tmp_path / "compare.csv"
    assert main(["compare", str(a), str(b), "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert [float(r["depth"]) for r in rows] == [0.0, 0.5, 1.0]
    assert [int(r["b:layer"]) for r in rows] == [0, 2, 4]
    ra, rb = GeometryReport.load(a), GeometryReport.load(b)
    assert float(rows[1]["b:pc1_valence_r"]) == np.float64(rb.conditions[0].columns["pc1_valence_r"][2]).round(10)
    assert float(rows[2]["a:pc1_valence_r"]) == np.float64(ra.conditions[0].columns["pc1_valence_r"][2]).round(10)
    assert -1.0 <= float(rows[2]["cka_debiased:a~b"]) <= 1.0
    assert main(["compare", str(a), str(b), "--out", str(tmp_path / "p.csv"), "--neutral-projection"]) == 0


def test_compare_rejects_runs_with_different_emotions(tmp_path, capsys):
    a = _run_folder(tmp_path / "a", n_emotions=24)
    b = _run_folder(tmp_path / "b", n_emotions=20)
    for run in (a, b):
        assert main(["analyze", str(run), *ARGS]) == 0
    capsys.readouterr()
    assert main(["compare", str(a), str(b), "--out", str(tmp_path / "c.csv")]) == 2
    err = capsys.readouterr().err
    assert "different emotions" in err and "lacks" in err


def test_clear_errors(tmp_path, capsys):
    assert main(["analyze", str(tmp_path / "missing"), *ARGS]) == 2
    assert "does not exist" in capsys.readouterr().err
    run = _run_folder(tmp_path / "c")
    assert main(["analyze", str(run), "--bootstrap", "3"]) == 2
    assert "bootstrap" in capsys.readouterr().err
    capsys.readouterr()
    assert main(["compare", str(run), str(run), "--out", str(tmp_path / "x.csv")]) == 2
    assert "given twice" in capsys.readouterr().err
    assert main(["compare", str(run), str(tmp_path / "d"), "--out", str(tmp_path / "x.csv")]) == 2
    assert "no 'analysis' section" in capsys.readouterr().err
