"""``workbench report``: the HTML page from a synthetic run folder, its numbers checked against the files."""

from __future__ import annotations

import base64
import csv
import html
import json
import re
import shutil
from dataclasses import replace

import numpy as np
import pytest
import torch

from workbench.analysis import GeometryReport, analyze, emotion_vectors
from workbench.analysis.synthetic import synthetic_activations
from workbench.cli import main
from workbench.collect.activations import StoryActivations
from workbench.data.ratings import load_ratings
from workbench.errors import RunFolderError
from workbench.report import SECTIONS, TokenText, TokenView, build_report, load_run, write_report
from workbench.report.folder import REQUIRED_FILES
from workbench.report.sections import Section, headline_section

N_LAYERS = 3


def synthetic_run(folder, model="synthetic-model", corpus="synthetic-corpus", seed=1, d_model=64):
    """A run folder as collect + analyze leave it: 12 rated emotions, 3 layers, neutral texts."""
    ratings = load_ratings()
    emotions = [e for e, est in zip(ratings.emotions, ratings.is_estimated) if not est][::14][:12]
    rated = ratings.subset(emotions)
    stories, neutral = synthetic_activations(rated.emotions, rated.valence, rated.arousal, n_layers=N_LAYERS,
                                             d_model=d_model, stories=2, valence_signal=[0.5, 3.0, 2.0],
                                             n_neutral=8, seed=seed)
    acts = StoryActivations(torch.cat([stories.means, neutral.means]), torch.cat([stories.n_tokens, neutral.n_tokens]),
                            stories.layers, stories.meta + neutral.meta,
                            {"name": model, "n_layers": N_LAYERS, "source": "in_memory"}, stories.params,
                            {"corpus": corpus, "corpus_sha256": "0" * 64, "seconds": 1.5, "tokens_per_s": 10.0})
    acts.save(folder)
    vectors = emotion_vectors(stories, neutral)
    vectors.save(folder)
    analyze(vectors, ratings, stories, bootstrap=20, permutations=50, cka_shuffles=10, seed=3,
            progress=False).save(folder)
    return folder


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return synthetic_run(tmp_path_factory.mktemp("run") / "run")


@pytest.fixture(scope="module")
def page(run):
    return write_report(run).read_text(encoding="utf-8")


def _figure_json(page: str, div_id: str, call: str, n: int = 1):
    """The first ``n`` JSON arguments after ``div_id`` of ``Plotly.<call>(`` in the page."""
    m = re.search(rf"{call}\(\s*['\"]{re.escape(div_id)}['\"],\s*", page)
    assert m, f"no {call} for {div_id}"
    values, at = [], m.end()
    for _ in range(n):
        value, at = json.JSONDecoder().raw_decode(page, at)
        values.append(value)
        at = re.compile(r"\s*,\s*").match(page, at).end() if len(values) < n else at
    return values[0] if n == 1 else values


def _arr(value) -> np.ndarray:
    """A plotly array from the page's JSON: a list, or plotly's base64 typed array."""
    if isinstance(value, dict) and "bdata" in value:
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = [int(x) for x in str(value.get("shape", len(flat))).split(",")]
        return flat.reshape(shape).astype(np.float64)
    return np.asarray(value, dtype=np.float64)


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_page_is_self_contained_with_every_figure(page):
    assert page.count("<script") == page.count("</script>")
    assert "<script src" not in page and "<link" not in page  # nothing fetched: works offline from a file
    assert page.count('charset="utf-8" type="text/javascript">') == 1  # plotly.js inlined once
    assert len(page) > 3_000_000
    ids = re.findall(r'Plotly\.newPlot\(\s*"([^"]+)"', page)
    # depth (off, on), pca, cka, cosine: no token view or steering in this run folder
    assert ids == ["fig-depth-0", "fig-depth-1", "fig-pca-0", "fig-cka-0", "fig-cosine-0"]
    assert "auto_play" not in page and "Plotly.animate(" not in page.split("</head>")[1]


def test_pca_in_the_page_steps_through_every_layer_with_emotion_names(run, page):
    report = GeometryReport.load(run)
    frames = _figure_json(page, "fig-pca-0", "Plotly.addFrames")
    data, layout = _figure_json(page, "fig-pca-0", "Plotly.newPlot", n=2)
    assert [f["name"] for f in frames] == [str(x) for x in report.layers]
    for f in frames:
        assert f["data"][0]["hovertext"] == list(report.emotions)
        assert "%{hovertext}" in f["data"][0]["hovertemplate"]
        assert f["layout"]["title"]["text"].startswith(f"Layer {f['name']} ")
    assert data[0]["hovertext"] == list(report.emotions)
    peak = json.loads((run / "summary.json").read_text())["peak_layer"]
    slider = layout["sliders"][0]
    assert slider["active"] == report.layers.index(peak)
    assert [s["args"][0][0] for s in slider["steps"]] == [str(x) for x in report.layers]
    assert all(s["method"] == "animate" for s in slider["steps"])


def test_headline_numbers_come_from_summary_json(run, page):
    s = json.loads((run / "summary.json").read_text())
    sentence = (f"best at layer {s['peak_layer']} (depth {s['peak_depth']:.2f}; chosen on half the emotions in "
                f"{100 * s['peak_layer_share']:.0f}% of 50 random splits): r on the held-out emotions = "
                f"{s['peak_r']:.2f} [{s['peak_ci_low']:.2f}, {s['peak_ci_high']:.2f}] (95% CI, selection-aware), "
                f"max-stat p = {s['peak_max_stat_p']:.2g}")
    assert html.escape(sentence) in page
    on = s["conditions"]["on"]
    assert f"<td>{on['peak_r']:.2f} [{on['peak_ci_low']:.2f}, {on['peak_ci_high']:.2f}]</td>" in page
    assert (f"<td>PC{s['arousal_peak_best_pc']} ({s['arousal_peak_best_pc_r']:.2f}, p = "
            f"{s['arousal_peak_best_pc_p']:.2g})</td>") in page
    assert "docs/statistics.md</a>" in page


def test_per_layer_table_matches_layers_csv(run, page):
    tables = re.findall(r'<table class="layers">(.*?)</table>', page, re.S)
    assert len(tables) == 2  # neutral projection off and on
    for table, flag in zip(tables, ("false", "true")):
        cells = [re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", table.split("<tbody>")[1])]
        want = [r for r in _rows(run / "layers.csv") if r["neutral_projection"] == flag]
        assert [int(c[0]) for c in cells] == [int(r["layer"]) for r in want]
        np.testing.assert_allclose([float(c[2]) for c in cells], [float(r["pc1_valence_r"]) for r in want], atol=5e-4)
        np.testing.assert_allclose([float(c[7]) for c in cells], [float(r["pc2_arousal_r"]) for r in want], atol=5e-4)
        np.testing.assert_allclose([float(c[16]) for c in cells], [float(r["valence_cv_r"]) for r in want], atol=5e-4)
        np.testing.assert_allclose([float(c[12]) for c in cells], [float(r["best_valence_r"]) for r in want], atol=5e-4)


def test_manifest_section_and_absent_sections_are_stated(run, page):
    manifest = json.loads((run / "manifest.json").read_text())
    assert "synthetic-model" in page and "synthetic-corpus" in page
    assert f"bootstrap={manifest['analysis']['settings']['bootstrap']}" in page
    assert f"numpy={manifest['analysis']['versions']['numpy']}" in page
    box = re.search(r'<div class="absent" id="absent-sections">(.*?)</div>', page, re.S).group(1)
    assert "token_view.json" in box and f"workbench report {run} --tokens" in box
    assert "steering.csv" in box and f"workbench steer {run}" in box


def test_optional_sections_appear_when_their_files_exist(run, tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(run, folder)
    texts = (TokenText("a happy text", ("I", " was", " glad"), [0.5, -0.25, 2.0], 3, {"kind": "given"}),
             TokenText("another", ("no",), [-1.0], 4, {}))
    TokenView(1, texts, {"model": "tiny"}).save(folder)
    result = _steering_result()
    result.save(folder)
    _monitor_result().save(folder)

    from watch_support import save_lens_and_battery

    from workbench.analysis import EmotionVectors

    save_lens_and_battery(EmotionVectors.load(folder), folder)
    from prefer_support import planted_result

    planted_result().save(folder)
    page = write_report(folder).read_text(encoding="utf-8")
    assert 'id="absent-sections"' not in page
    assert re.findall(r'Plotly\.newPlot\(\s*"(fig-prefer-\d)"', page) == ["fig-prefer-0", "fig-prefer-1", "fig-prefer-2"]
    assert re.findall(r'Plotly\.newPlot\(\s*"(fig-monitor-\d)"', page) == ["fig-monitor-0", "fig-monitor-1"]
    heat = _figure_json(page, "fig-monitor-0", "Plotly.newPlot")[0]
    assert heat["y"] == ["sad", "calm", "happy"]  # by valence
    np.testing.assert_allclose(_arr(heat["z"])[2], [0.5, 2.5, -1.0])
    assert "happy +1.50, calm +0.50, sad -0.05" in page  # message 0's mean z, highest first
    assert re.findall(r'Plotly\.newPlot\(\s*"(fig-tokens-\d)"', page) == ["fig-tokens-0", "fig-tokens-1"]
    data = _figure_json(page, "fig-tokens-0", "Plotly.newPlot")[0]
    np.testing.assert_array_equal(_arr(data["z"])[0, :3], [0.5, -0.25, 2.0])
    assert data["zmax"] == 2.0 and data["zmin"] == -2.0  # one colour scale over all the texts
    assert "another (first 1 of 4 tokens)" in page
    rho = result.summary["scores"]["readback"]["direction"]
    assert f"{rho['rho']:+.2f} [{rho['ci_low']:+.2f}, {rho['ci_high']:+.2f}]" in page
    assert re.findall(r'Plotly\.newPlot\(\s*"(fig-steering-\d)"', page) == ["fig-steering-0"]
    assert "continuation 1 at +0.40" in page and "continuation 1 at -0.40" in page  # sample 0 of the direction
    assert "control text" not in page


def _monitor_result():
    from workbench.monitor import MonitorResult, MonitorText

    z = np.array([[0.5, 0.0, 0.1], [2.5, 1.0, -0.2], [-1.0, 0.0, -0.4]])
    text = MonitorText("a chat", ("hi", " there", " yes"), z, (0, 0, 1), ("user", "user", "assistant"),
                       ({"role": "user", "content": "hi there"}, {"role": "assistant", "content": "yes"}))
    return MonitorResult(1, ("happy", "calm", "sad"), (text,), np.zeros(3), np.ones(3), (0.8, 0.3, -0.7),
                         {"model": "tiny", "neutral_tokens": 10, "neutral_texts": 2})


def _steering_result():
    """A small SteeringResult: the direction's read-back rises with alpha, the control's does not."""
    from workbench.steer.results import COLUMNS, SteeringResult
    from workbench.steer.summary import summarize

    rng = np.random.default_rng(0)
    alphas, rows = (-0.4, 0.0, 0.4), []
    for name, kind in (("valence", "direction"), ("random0", "control")):
        for p in range(3):
            for sample in range(2):
                for a in alphas:
                    row = {c: 0 for c, _ in COLUMNS}
                    row.update(direction=name, kind=kind, alpha=a, prompt_index=p, sample=sample, hook="add_direction",
                               positions="all", hit_eos=False, prompt=f"prompt {p}",
                               text=(f"continuation {p} at {a:+.2f}" if kind == "direction" and sample == 0
                                     else "control text"),
                               readback=(a if kind == "direction" else 0.0) + 0.1 * rng.normal(),
                               vader=0.1 * rng.normal(), perplexity=10 + rng.uniform())
                    rows.append(row)
    summary = summarize(rows, [("valence", "direction"), ("random0", "control")], alphas, 3, 2, n_boot=200, seed=0)
    summary.update(direction="valence", layer=1, readback_layer=2, norm=3.0)
    return SteeringResult(tuple(rows), summary)


def test_sections_are_a_list_of_functions(run):
    data = load_run(run)
    extra = lambda d: Section("extra", "Extra", "<p>planted section</p>")  # noqa: E731
    page = build_report(data, sections=[headline_section, extra])
    assert "planted section" in page and 'href="#extra"' in page and "Plotly.newPlot" not in page
    assert [fn.__name__ for fn in SECTIONS][:2] == ["headline_section", "depth_section"]


@pytest.mark.parametrize("name", ["manifest.json", "analysis section", *REQUIRED_FILES])
def test_a_missing_file_names_itself_and_the_command(run, tmp_path, capsys, name):
    folder = tmp_path / "run"
    shutil.copytree(run, folder, ignore=shutil.ignore_patterns("report.html"))
    if name == "analysis section":
        manifest = json.loads((folder / "manifest.json").read_text())
        del manifest["analysis"]
        (folder / "manifest.json").write_text(json.dumps(manifest))
    else:
        (folder / name).unlink()
    assert main(["report", str(folder)]) == 2
    err = capsys.readouterr().err
    assert ("manifest.json" if name == "analysis section" else name) in err
    assert f"workbench analyze {folder}" in err
    assert not (folder / "report.html").exists()


def test_other_ratings_than_the_analysis_used_are_refused(run, tmp_path):
    ratings = load_ratings()
    other = replace(ratings, sha256="f" * 64)
    with pytest.raises(RunFolderError, match="other ratings"):
        load_run(run, other)


def test_report_cli_writes_where_asked(run, tmp_path, capsys):
    out = tmp_path / "elsewhere" / "r.html"
    assert main(["report", str(run), "--out", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_compare_draws_the_multi_run_depth_figure(tmp_path, capsys):
    a = synthetic_run(tmp_path / "a", model="model-a", corpus="corpus-1", seed=1)
    b = synthetic_run(tmp_path / "b", model="model-b", corpus="corpus-2", seed=2)
    assert main(["compare", str(a), str(b), "--out", str(tmp_path / "cmp.csv")]) == 0
    assert "depth figure" in capsys.readouterr().out
    page = (tmp_path / "cmp.html").read_text(encoding="utf-8")
    traces = _figure_json(page, "fig-0", "Plotly.newPlot")
    lines = {t["meta"]["run"]: t for t in traces
             if t.get("meta", {}).get("role") == "r" and t["meta"]["panel"] == "pc1_valence"}
    assert set(lines) == {"model-a · corpus-1", "model-b · corpus-2"}
    assert lines["model-a · corpus-1"]["line"]["color"] != lines["model-b · corpus-2"]["line"]["color"]
    assert lines["model-a · corpus-1"]["line"]["dash"] != lines["model-b · corpus-2"]["line"]["dash"]
    for run, name in ((a, "model-a · corpus-1"), (b, "model-b · corpus-2")):
        want = [float(r["pc1_valence_r"]) for r in _rows(run / "layers.csv") if r["neutral_projection"] == "false"]
        np.testing.assert_allclose(_arr(lines[name]["y"]), want, rtol=1e-9)
    fig = tmp_path / "fig.html"
    assert main(["compare", str(a), str(b), "--out", str(tmp_path / "c2.csv"), "--figure", str(fig)]) == 0
    assert fig.is_file() and not (tmp_path / "c2.html").exists()
