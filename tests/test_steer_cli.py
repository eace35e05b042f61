"""``workbench steer`` end to end on a tiny model, the saved result, the figure, and clear errors for bad inputs."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from scipy import stats
from test_steer_support import TINY_PROMPTS, make_model_dir, make_run, prompts_file

from workbench.cli import main
from workbench.figures.steering import dose_response_figure
from workbench.steer import SteeringResult

FAST = ["--samples", "3", "--max-new-tokens", "6", "--dtype", "float32", "--no-progress", "--bootstrap", "200",
        "--random-controls", "2"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, tokenizer):
    return make_model_dir(tmp_path_factory.mktemp("tiny-llama"), tokenizer)


@pytest.fixture(scope="module")
def steered(tmp_path_factory, model_dir):
    """An analysed run folder, steered once through the CLI (outputs in the run folder)."""
    tmp = tmp_path_factory.mktemp("steer")
    run = make_run(tmp / "run", model_dir)
    prompts = prompts_file(tmp / "prompts.txt")
    assert main(["steer", str(run), "--layer", "1", "--prompts", str(prompts), "--alphas=-2,-1,0,1,2", *FAST]) == 0
    return run


def test_the_run_folder_gets_the_table_summary_and_manifest_section(steered):
    manifest = json.loads((steered / "manifest.json").read_text())
    assert {"collect", "vectors", "analysis", "steer"} <= set(manifest)
    section = manifest["steer"]
    assert section["files"] == ["steering.csv", "steering_summary.json"] and section["layer"] == 1
    rows = list(csv.DictReader((steered / "steering.csv").open(newline="")))
    assert len(rows) == section["n_texts"] == 3 * 5 * len(TINY_PROMPTS) * 3  # directions x alphas x prompts x samples
    assert {r["direction"] for r in rows} == {"valence", "random0", "random1"}
    assert {r["readback_layer"] for r in rows} == {"2"} and {r["hook"] for r in rows} == {"add_direction"}
    norm = float(rows[0]["norm"])
    assert all(float(r["scale"]) == pytest.approx(float(r["alpha"]) * norm) for r in rows)
    # paired seeds: one seed per (prompt, sample), the same at every alpha and direction
    seeds = {}
    for r in rows:
        seeds.setdefault((r["prompt_index"], r["sample"]), set()).add(r["sampling_seed"])
    assert len(seeds) == 12 and all(len(s) == 1 for s in seeds.values())
    zero = {}
    for r in rows:
        if float(r["alpha"]) == 0:
            zero.setdefault((r["prompt_index"], r["sample"]), set()).add(r["text"])
    assert all(len(t) == 1 for t in zero.values())


def _mean_within_prompt_rho(rows, name, score):
    per = []
    for p in sorted({r["prompt_index"] for r in rows}):
        sub = [r for r in rows if r["direction"] == name and r["prompt_index"] == p and r[score] != ""]
        ys = [float(r[score]) for r in sub]
        if len(sub) >= 3 and len(set(ys)) > 1:
            per.append(stats.spearmanr([float(r["alpha"]) for r in sub], ys).statistic)
    return float(np.mean(per)) if per else float("nan")


def test_the_summary_rho_is_the_mean_of_scipy_within_prompt_rhos_on_the_csv(steered):
    rows = list(csv.DictReader((steered / "steering.csv").open(newline="")))
    summary = json.loads((steered / "steering_summary.json").read_text())
    for score in ("readback", "vader", "perplexity"):
        for name in ("valence", "random0", "random1"):
            expected = _mean_within_prompt_rho(rows, name, score)
            entry = summary["scores"][score]
            got = entry["direction"]["rho"] if name == "valence" else \
                {c["name"]: c["rho"] for c in entry["controls"]["per_control"]}[name]
            if np.isnan(expected):
                assert got is None  # undefined (constant scores) is written as null
            else:
                assert got == pytest.approx(expected, abs=1e-12)
    empty = {name: {str(float(a)): sum(1 for r in rows if r["direction"] == name and float(r["alpha"]) == a
                                       and not r["text"].strip()) for a in (-2, -1, 0, 1, 2)}
             for name in ("valence", "random0", "random1")}
    assert summary["empty_text_by_alpha"] == empty
    vader_missing = [p["missing"] for p in summary["scores"]["vader"]["by_alpha"]["direction"]]
    assert vader_missing == list(empty["valence"].values())
    assert summary["alpha0_shared"] is True and summary["alpha0_identical"] is True
    assert summary["timings"]["new_tokens"] > 0 and summary["model"]["dtype"] == "float32"


def test_result_round_trip_and_figure(steered):
    result = SteeringResult.load(steered)
    assert len(result.rows) == 180 and result.directions == (("valence", "direction"), ("random0", "control"),
                                                             ("random1", "control"))
    assert isinstance(result.rows[0]["hit_eos"], bool) and isinstance(result.rows[0]["alpha"], float)
    again = steered.parent / "again"
    result.save(again)
    assert (again / "steering.csv").read_text() == (steered / "steering.csv").read_text()
    assert SteeringResult.load(again).summary == result.summary
    fig = dose_response_figure(result)
    means = [t for t in fig.data if t.mode == "lines+markers"]
    assert len(means) == 6 and means[0].name.startswith("valence")
    expected = [p["mean"] for p in result.summary["scores"]["readback"]["by_alpha"]["direction"]]
    assert list(means[0].y) == pytest.approx(expected)
    assert list(means[0].x) == [-2.0, -1.0, 0.0, 1.0, 2.0]
    texts = result.texts("valence", 0.0)
    assert len(texts) == 12 and {t["prompt"] for t in texts} == set(TINY_PROMPTS)


def _err(capsys, argv):
    code = main(argv)
    return code, capsys.readouterr().err


@pytest.mark.parametrize("extra, message", [
    (["--direction", "joyful-grumpy"], "unknown direction 'joyful-grumpy'"),
    (["--direction", "grumpy"], "unknown direction 'grumpy'"),
    (["--layer", "3"], "--layer 3 is out of range: the run's model has 3 blocks (0..2)"),
    (["--readback-layer", "-9"], "--readback-layer -9 is out of range"),
    (["--alphas=-0.2,x,0.2"], "--alphas: 'x' is not a number"),
    (["--alphas=0.2"], "at least 2 alphas"),
    (["--samples", "0"], "--samples must be >= 1"),
    (["--positions", "middle"], "--positions must be one of"),
    (["--hook", "no_such_recipe"], "unknown hook recipe 'no_such_recipe'"),
])
def test_bad_inputs_exit_2_naming_the_input(steered, tmp_path, capsys, extra, message):
    # a model that cannot be loaded: every input is checked before the model is loaded
    argv = ["steer", str(steered), "--layer", "1", *FAST, "--model", str(tmp_path / "no-model"), *extra]
    code, err = _err(capsys, argv)
    assert code == 2 and message in err, err


def test_run_folders_without_vectors_or_analysis(tmp_path, model_dir, capsys):
    bare = make_run(tmp_path / "bare", model_dir, vectors=False)
    code, err = _err(capsys, ["steer", str(bare), "--layer", "1", *FAST])
    assert code == 2 and "no 'analysis' section" in err and "workbench analyze" in err
    unanalysed = make_run(tmp_path / "vectors-only", model_dir, analysed=False)
    code, err = _err(capsys, ["steer", str(unanalysed), "--layer", "1", *FAST])
    assert code == 2 and "no 'analysis' section" in err
    # analysed, then the vectors deleted: emotion directions name the missing file
    run = make_run(tmp_path / "no-vectors", model_dir)
    (run / "emotion_vectors.safetensors").unlink()
    code, err = _err(capsys, ["steer", str(run), "--layer", "1", "--direction", "afraid", *FAST])
    assert code == 2 and "emotion_vectors.safetensors" in err
    code, err = _err(capsys, ["steer", str(tmp_path / "missing"), "--layer", "1", *FAST])
    assert code == 2 and "does not exist" in err


def test_a_non_integer_layer_is_an_argparse_error(steered, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["steer", str(steered), "--layer", "two"])
    assert exc.value.code == 2 and "--layer" in capsys.readouterr().err


def test_figure_and_headline_of_a_loaded_summary_with_undefined_values(steered):
    from workbench.cli.steer_cmd import headline
    from workbench.errors import InputError

    summary = json.loads((steered / "steering_summary.json").read_text())
    summary["scores"]["vader"]["direction"].update(rho=None, ci_low=None, ci_high=None)
    fig = dose_response_figure(summary, scores=("vader", "readback"))
    assert "rho – [–, –]" in fig.layout.annotations[0].text
    lines = headline(summary)
    assert any(line.strip().startswith("vader: within-prompt rho n/a [n/a, n/a]") for line in lines)
    with pytest.raises(InputError, match="unknown score"):
        dose_response_figure(summary, scores=("joy",))
    with pytest.raises(InputError, match="pass a SteeringResult"):
        dose_response_figure({"rows": []})
