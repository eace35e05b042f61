"""Vectors from other tools: ``EmotionVectors.from_files`` and ``workbench analyze --vectors``."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from test_bad_inputs import FAST, analysed

import workbench as wb
from workbench.cli import main
from workbench.data.ratings import load_ratings

# Columns that depend on the vectors and the ratings alone. The others need the stories: the bootstrap
# CI resamples stories within emotions and the split halves are halves of the stories, so an import
# (vectors only) resamples emotions and has no split (they are NaN).
VECTOR_COLUMNS = ("layer", "depth", "neutral_projection", "n_emotions", "pc1_valence_r", "pc1_valence_p",
                  "pc1_valence_p_perm", "pc1_valence_q", "pc1_valence_p_maxstat", "pc1_flipped", "pc2_arousal_r",
                  "pc2_arousal_p", "pc2_arousal_p_perm", "pc2_arousal_q", "pc2_flipped", "best_arousal_pc",
                  "best_arousal_r", "valence_cv_r", "valence_alpha", "pc1_explained", "pc2_explained", "neutral_k")


def _csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _number(text):
    special = {"true": 1.0, "false": 0.0, "": np.nan}
    return special[text.lower()] if text.lower() in special else float(text)


def _assert_columns_close(a, b, columns, tol=1e-6):
    assert len(a) == len(b)
    for ra, rb in zip(a, b):
        x = np.array([_number(ra[c]) for c in columns])
        y = np.array([_number(rb[c]) for c in columns])
        np.testing.assert_allclose(x, y, rtol=tol, atol=tol, err_msg=str(columns))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A collected and analysed run folder (synthetic activations: 8 emotions, 3 layers, neutral texts)."""
    return analysed(tmp_path_factory.mktemp("run") / "run")


@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
def test_exported_vectors_reproduce_the_runs_layers_csv(run, tmp_path, suffix):
    vectors = wb.EmotionVectors.load(run)
    path = vectors.export(tmp_path / f"vectors{suffix}")
    assert main(["analyze", "--vectors", str(path), "--out", str(tmp_path / "imp"), *FAST]) == 0
    imported, original = _csv(tmp_path / "imp" / "layers.csv"), _csv(run / "layers.csv")
    _assert_columns_close(imported, original, VECTOR_COLUMNS)
    # every column, the CIs too, equals an emotion-level analysis of the run's own vectors
    report = wb.analyze(vectors, load_ratings(), None, progress=False, bootstrap=20, permutations=20, cka_shuffles=10)
    report.save(tmp_path / "direct")
    _assert_columns_close(imported, _csv(tmp_path / "direct" / "layers.csv"), list(imported[0]))
    manifest = json.loads((tmp_path / "imp" / "manifest.json").read_text())
    assert manifest["imported"]["source"] == str(path) and "collect" not in manifest
    assert manifest["analysis"]["inputs"]["vectors imported from"] == str(path)
    html = (tmp_path / "imp" / "report.html").read_text()
    assert "imported vectors" in html
    assert "vectors imported from" in wb.GeometryReport.load(tmp_path / "imp")._repr_html_()


def test_every_format_gives_the_same_vectors(run, tmp_path):
    vectors = wb.EmotionVectors.load(run)
    raw = vectors.raw.numpy()
    emotions, layers = list(vectors.emotions), list(vectors.layers)
    folder = tmp_path / "folder"
    folder.mkdir()
    for j, layer in enumerate(layers):  # the three ways of naming a layer file
        name = ("layer_{}.npz", "L{}.npz", "layer-{}.pt")[j % 3].format(layer)
        named = {e: raw[j, i] for i, e in enumerate(emotions)}
        if name.endswith(".pt"):
            torch.save({e: torch.from_numpy(v) for e, v in named.items()}, folder / name)
        else:
            np.savez(folder / name, **named)
    np.savez(tmp_path / "one.npz", vectors=raw, emotions=np.array(emotions), layers=np.array(layers))
    torch.save({"vectors": torch.from_numpy(raw), "emotions": emotions, "layers": layers}, tmp_path / "one.pt")
    for source in (folder, tmp_path / "one.npz", tmp_path / "one.pt"):
        got = wb.EmotionVectors.from_files(source)
        assert got.emotions == vectors.emotions and got.layers == vectors.layers and got.source == str(source)
        torch.testing.assert_close(got.contrast, vectors.contrast, rtol=1e-5, atol=1e-5)
        assert not got.has_projection  # other tools' files carry no neutral basis


def test_imported_vectors_are_centred_and_keep_the_projection(run, tmp_path):
    vectors = wb.EmotionVectors.load(run)
    path = vectors.export(tmp_path / "raw.safetensors", kind="raw")
    got = wb.EmotionVectors.from_files(path)
    torch.testing.assert_close(got.contrast, vectors.contrast, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(got.projected, vectors.projected, rtol=1e-5, atol=1e-5)
    assert got.neutral_k == vectors.neutral_k and got.n_model_layers == vectors.n_model_layers


def test_analyze_refuses_to_write_imported_vectors_over_a_collected_run(run, tmp_path, capsys):
    path = wb.EmotionVectors.load(run).export(tmp_path / "v.npz")
    assert main(["analyze", "--vectors", str(path), "--out", str(run), *FAST]) == 2
    assert "holds a collected run" in capsys.readouterr().err
