"""``workbench.figures``: each figure built from a (synthetic) run folder, its data checked against the files."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import plotly.graph_objects as go
import pytest

from workbench.analysis import EmotionVectors, GeometryReport, analyze, emotion_vectors
from workbench.analysis.synthetic import synthetic_activations
from workbench.data.ratings import load_ratings
from workbench.errors import InputError
from workbench.figures import (
    cka_figure,
    cka_null_levels,
    cosine_figure,
    depth_figure,
    pca_figure,
    token_figure,
)

ESTIMATED = ("energized", "grief-stricken")  # estimated ratings: the analysis excludes them


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A saved synthetic run: 12 rated emotions (2 estimated, excluded by the analysis), 4 layers."""
    ratings = load_ratings()
    chosen = [e for e, est in zip(ratings.emotions, ratings.is_estimated) if not est][::17][:10] + list(ESTIMATED)
    rated = ratings.subset(chosen)
    acts, neutral = synthetic_activations(rated.emotions, rated.valence, rated.arousal, n_layers=4, d_model=16,
                                          stories=2, valence_signal=[0.3, 3.0, 3.0, 1.0], arousal_signal=1.0,
                                          seed=1)
    vec = emotion_vectors(acts, neutral)
    report = analyze(vec, ratings, bootstrap=30, permutations=200, cka_shuffles=10, seed=2, exclude_estimated=True,
                     progress=False)
    folder = tmp_path_factory.mktemp("run")
    vec.save(folder)
    report.save(folder)
    return folder


def _read_rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _read_matrix(path):
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    return [int(x) for x in rows[0][1:]], np.array([[float(v) for v in r[1:]] for r in rows[1:]])


def _naive_scores(raw: np.ndarray, valence, arousal) -> np.ndarray:
    """PC1, PC2 scores of one layer's vectors by SVD, signed to correlate positively with valence/arousal."""
    X = raw - raw.mean(axis=0)
    U, S, _ = np.linalg.svd(X, full_matrices=False)
    scores = U[:, :2] * S[:2]
    for j, target in enumerate((valence, arousal)):
        if np.corrcoef(scores[:, j], target)[0, 1] < 0:
            scores[:, j] *= -1
    return scores


def test_pca_frames_slider_hover_colours_and_scores(run):
    vec, report, ratings = EmotionVectors.load(run), GeometryReport.load(run), load_ratings()
    assert len(vec.emotions) == 12 and len(report.emotions) == 10  # the estimated two are not plotted
    fig = pca_figure(vec, ratings, report)
    rated = ratings.subset(report.emotions)
    layers = [r["layer"] for r in _read_rows(run / "layers.csv") if r["neutral_projection"] == "false"]
    assert len(fig.frames) == len(layers) == 4
    steps = fig.layout.sliders[0].steps
    assert len(steps) == len(fig.frames)
    assert [s.args[0][0] for s in steps] == [f.name for f in fig.frames] == layers
    peak = json.loads((run / "summary.json").read_text())["peak_layer"]
    assert fig.layout.sliders[0].active == report.layers.index(peak)
    idx = [vec.emotions.index(e) for e in report.emotions]
    raw = vec.raw.double().numpy()[:, idx]
    for j, frame in enumerate(fig.frames):
        trace = frame.data[0]
        assert list(trace.hovertext) == list(report.emotions)
        np.testing.assert_array_equal(trace.marker.color, rated.valence)
        np.testing.assert_allclose(trace.marker.size, 6 + 16 * (rated.arousal + 1) / 2)
        np.testing.assert_array_equal(np.asarray(trace.customdata), np.stack([rated.valence, rated.arousal], 1))
        expected = _naive_scores(raw[j], rated.valence, rated.arousal)
        scale = np.abs(expected).max()
        np.testing.assert_allclose(trace.x, expected[:, 0], atol=1e-4 * scale)
        np.testing.assert_allclose(trace.y, expected[:, 1], atol=1e-4 * scale)
        row = _read_rows(run / "layers.csv")[j]
        assert f"PC1~valence r = {float(row['pc1_valence_r']):.2f}" in frame.layout.title.text
        assert f"PC2~arousal r = {float(row['pc2_arousal_r']):.2f}" in frame.layout.title.text
        assert frame.layout.title.text.startswith(f"Layer {layers[j]}")
    np.testing.assert_array_equal(fig.data[0].x, fig.frames[fig.layout.sliders[0].active].data[0].x)


def test_pca_without_report_and_bad_inputs(run):
    vec, ratings = EmotionVectors.load(run), load_ratings()
    fig = pca_figure(vec, ratings, kind="projected")
    assert fig.layout.sliders[0].active == 0 and len(fig.frames) == 4
    assert all(list(f.data[0].hovertext) == list(vec.emotions) for f in fig.frames)
    assert "r =" not in fig.frames[0].layout.title.text
    with pytest.raises(InputError, match="no rating"):
        pca_figure(vec, ratings.subset(vec.emotions[1:]))
    with pytest.raises(InputError, match="kind"):
        pca_figure(vec, ratings, kind="sideways")


def _table(run):
    return GeometryReport.load(run).layers_table()


def test_depth_bands_significance_and_reference_lines(run):
    rows = _table(run)
    file_rows = [r for r in _read_rows(run / "layers.csv") if r["neutral_projection"] == "false"]
    other = [dict(r, pc1_valence_q=0.5 if r["layer"] % 2 else r["pc1_valence_q"]) for r in rows]
    fig = depth_figure([({"model": "m1", "corpus": "bundled"}, rows), ({"model": "m1", "corpus": "gemma"}, other),
                        ({"model": "m2", "corpus": "bundled"}, rows)])
    depth = [float(r["depth"]) for r in file_rows]
    by_role = {}
    for t in fig.data:
        if t.meta and t.meta.get("run"):
            by_role[(t.meta["run"], t.meta["panel"], t.meta["role"])] = t
    for run_name in ("m1 · bundled", "m1 · gemma", "m2 · bundled"):
        for prefix in ("pc1_valence", "pc2_arousal"):
            lo, hi = by_role[(run_name, prefix, "ci_low")], by_role[(run_name, prefix, "ci_high")]
            np.testing.assert_allclose(lo.y, [float(r[f"{prefix}_ci_low"]) for r in file_rows], rtol=1e-9)
            np.testing.assert_allclose(hi.y, [float(r[f"{prefix}_ci_high"]) for r in file_rows], rtol=1e-9)
            assert hi.fill == "tonexty" and lo.fill is None
            np.testing.assert_allclose(lo.x, depth)
            line = by_role[(run_name, prefix, "r")]
            np.testing.assert_allclose(line.y, [float(r[f"{prefix}_r"]) for r in file_rows], rtol=1e-9)
    qs = [float(r["pc1_valence_q"]) for r in file_rows]
    sig = by_role[("m1 · bundled", "pc1_valence", "significant")]
    assert list(sig.x) == [d for d, q in zip(depth, qs) if q < 0.05] and len(sig.x) >= 2
    sig_other = by_role[("m1 · gemma", "pc1_valence", "significant")]
    assert list(sig_other.x) == [d for d, q, r in zip(depth, qs, rows) if q < 0.05 and r["layer"] % 2 == 0]
    colour = {k[0]: t.line.color for k, t in by_role.items() if k[2] == "r"}
    dash = {k[0]: t.line.dash for k, t in by_role.items() if k[2] == "r"}
    assert colour["m1 · bundled"] == colour["m1 · gemma"] != colour["m2 · bundled"]
    assert dash["m1 · bundled"] == dash["m2 · bundled"] != dash["m1 · gemma"]
    lines = sorted((s.y0, s.y1, s.xref) for s in fig.layout.shapes)
    assert [(y0, y1) for y0, y1, _ in lines] == [(0.66, 0.66), (0.81, 0.81)]
    texts = " ".join(a.text for a in fig.layout.annotations)
    assert "Claude Sonnet 4.5" in texts and "0.81" in texts and "0.66" in texts


def test_depth_projected_condition_and_bad_inputs(run):
    rows = _table(run)
    fig = depth_figure([({"model": "m", "corpus": "c"}, rows)], neutral_projection=True)
    on = [r for r in _read_rows(run / "layers.csv") if r["neutral_projection"] == "true"]
    r_line = next(t for t in fig.data if t.meta and t.meta.get("role") == "r" and t.meta["panel"] == "pc1_valence")
    np.testing.assert_allclose(r_line.y, [float(r["pc1_valence_r"]) for r in on], rtol=1e-9)
    with pytest.raises(InputError, match="pc2_arousal_ci_low"):
        depth_figure([({"model": "m", "corpus": "c"}, [{k: v for k, v in r.items() if k != "pc2_arousal_ci_low"}
                                                       for r in rows])])
    with pytest.raises(InputError, match="'model' and 'corpus'"):
        depth_figure([({"model": "m"}, rows)])
    with pytest.raises(InputError, match="no runs"):
        depth_figure([])


def test_cka_heatmaps_equal_the_csv_matrices_and_state_the_null(run):
    report = GeometryReport.load(run)
    layers, deb = _read_matrix(run / "cka_debiased.csv")
    _, bia = _read_matrix(run / "cka_biased.csv")
    levels = cka_null_levels(report)
    summary = json.loads((run / "summary.json").read_text())["conditions"]["off"]
    for name in ("debiased", "biased"):
        high = np.array(summary[f"cka_null_{name}_high"], dtype=float)
        naive = np.mean([high[i, j] for i in range(len(high)) for j in range(len(high)) if i != j])
        assert levels[name] == pytest.approx(naive, rel=1e-9)
    fig = cka_figure(deb, bia, null_level=levels, layers=layers)
    heat = [t for t in fig.data if isinstance(t, go.Heatmap)]
    assert len(heat) == 2
    np.testing.assert_array_equal(np.asarray(heat[0].z), deb)
    np.testing.assert_array_equal(np.asarray(heat[1].z), bia)
    assert list(heat[0].x) == layers == list(heat[1].y)
    assert f"null ≤ {levels['debiased']:.3f}" in heat[0].colorbar.title.text
    assert f"null ≤ {levels['biased']:.3f}" in heat[1].colorbar.title.text
    assert heat[0].xaxis != heat[1].xaxis  # side by side
    single = cka_figure(deb, bia, null_level=0.05)
    assert all("null ≤ 0.050" in t.colorbar.title.text for t in single.data)
    assert all("null" not in t.colorbar.title.text for t in cka_figure(deb, bia).data)
    with pytest.raises(InputError, match="square"):
        cka_figure(deb[:, :2], bia)


def test_cosine_heatmap_and_adjacent_line(run):
    layers, cos = _read_matrix(run / "valence_cosine.csv")
    fig = cosine_figure(cos, layers)
    heat, line = fig.data
    np.testing.assert_array_equal(np.asarray(heat.z), cos)
    assert list(line.x) == layers[:-1]
    np.testing.assert_array_equal(line.y, [cos[i][i + 1] for i in range(len(cos) - 1)])
    assert heat.zmin == -1 and heat.zmax == 1
    with pytest.raises(InputError, match="layer labels"):
        cosine_figure(cos, layers[:-1])


def test_token_colours_equal_the_scores():
    tokens = ["I", " felt", " <so>", "\n", " happy", " today", "."]
    scores = np.array([0.1, -0.4, 0.0, 0.2, 1.5, 0.3, -0.05])
    fig = token_figure(tokens, scores, layer=7, per_row=3)
    heat = fig.data[0]
    z = np.asarray(heat.z, dtype=float)
    assert z.shape == (3, 3)
    np.testing.assert_array_equal(z.flatten()[:7], scores)
    assert np.isnan(z.flatten()[7:]).all()
    flat_text = [t for row in heat.text for t in row]
    assert flat_text[:7] == ["I", " felt", " &lt;so&gt;", "↵", " happy", " today", "."]
    flat_hover = [t for row in heat.customdata for t in row]
    assert flat_hover[1] == repr(" felt") and "projection" in heat.hovertemplate
    assert heat.zmid == 0 and heat.zmax == -heat.zmin == 1.5
    assert "layer 7" in fig.layout.title.text
    with pytest.raises(InputError, match="one score per token"):
        token_figure(tokens, scores[:-1], layer=7)
    with pytest.raises(InputError, match="not finite"):
        token_figure(tokens, np.where(scores > 1, math.nan, scores), layer=7)


@pytest.mark.parametrize("name", ["pca", "depth", "cka", "cosine", "tokens"])
def test_every_figure_renders_to_self_contained_html(run, name):
    report = GeometryReport.load(run)
    off = report.condition(False)
    build = {
        "pca": lambda: pca_figure(EmotionVectors.load(run), load_ratings(), report),
        "depth": lambda: depth_figure([({"model": "m", "corpus": "c"}, report.layers_table())]),
        "cka": lambda: cka_figure(off.cka_debiased, off.cka_biased, cka_null_levels(report), report.layers),
        "cosine": lambda: cosine_figure(off.valence_cosine, report.layers),
        "tokens": lambda: token_figure(["a", " b"], [0.5, -0.5], layer=1),
    }
    fig = build[name]()
    html = fig.to_html(include_plotlyjs="inline")
    assert "<script src=" not in html  # no external script: plotly.js is inline
    assert len(html) > 1_000_000  # plotly.js itself is inline
    assert "Plotly.newPlot" in html
    if name == "pca":
        assert "Plotly.addFrames" in html or '"frames"' in html
