"""``workbench prefer`` end to end on a tiny model: files, the writer lock, the two-logit read, clear errors."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from test_steer_support import make_model_dir, make_run

from workbench.cli import main
from workbench.prefer import PreferenceResult

ACTIVITIES = """# tiny
pleasant | good | the warm light of the day
pleasant | good | a friend at the house
neutral | plain | the door of the room
neutral | plain | a long time in the room
unpleasant | bad | the cold dark night
unpleasant | bad | no water and no light
"""
FAST = ["--directions", "valence,calm", "--random-controls", "2", "--alphas=-2,2", "--bootstrap", "100",
        "--permutations", "200", "--no-progress", "--batch-size", "8", "--format", "plain"]


@pytest.fixture(scope="module")
def preferred(tmp_path_factory, tokenizer):
    tmp = tmp_path_factory.mktemp("prefer")
    model_dir = make_model_dir(tmp / "model", tokenizer)
    run = make_run(tmp / "run", model_dir)
    acts = tmp / "activities.txt"
    acts.write_text(ACTIVITIES)
    assert main(["prefer", str(run), "--layer", "1", "--activities", str(acts), "--ablate", "--neutral-texts", "2",
                 *FAST]) == 0
    return run, model_dir


def test_files_and_manifest(preferred):
    run, _ = preferred
    result = PreferenceResult.load(run)
    s = result.summary
    assert s["n_activities"] == 6 and s["n_pairs"] == 15
    names = [c["name"] for c in s["conditions"]]
    assert names[0] == "unsteered" and "valence -2" in names and "random1 +2" in names
    assert "ablate valence L1" in names and "ablate random L1-2" in names
    rows = list(csv.DictReader(open(run / "preferences.csv")))
    assert len(rows) == 30 * len(names)
    assert abs(np.mean([a["elo"] for a in s["activities"]]) - 1000) < 1e-6
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["prefer"]["layer"] == 1
    assert not (run / ".workbench.lock").exists() or (run / ".workbench.lock").stat().st_size == 0
    for c in s["conditions"]:
        if c["kind"].startswith("ablation"):
            assert c["perplexity"] > 1 and c["perplexity_ratio"] > 0


def test_gaps_are_the_two_logits_of_a_full_forward(preferred):
    """The recorded gap of an unsteered prompt equals logit(A) - logit(B) of the model's own full forward pass."""
    import workbench as wb
    from workbench.prefer.tournament import FORMATS, answer_ids, build_prompts

    run, model_dir = preferred
    model = wb.load_model(str(model_dir), dtype="float32", backend="transformer_lens")
    rows = [r for r in csv.DictReader(open(run / "preferences.csv")) if r["condition"] == "unsteered"][:4]
    texts = [t.split(" | ")[2] for t in ACTIVITIES.splitlines()[1:]]
    fmt = FORMATS["plain"]
    ids = answer_ids(model.tokenizer, fmt)
    prompts = build_prompts(model.tokenizer, fmt, texts, [(int(r["first"]), int(r["second"])) for r in rows])
    with torch.no_grad():
        for r, p in zip(rows, prompts):
            logits = model.hf_model(torch.tensor([p.ids])).logits[0, -1]
            assert float(r["gap"]) == pytest.approx(float(logits[ids[0]] - logits[ids[1]]), abs=1e-4)


def test_position_bias_and_steered_tournaments_differ(preferred):
    s = PreferenceResult.load(preferred[0]).summary
    pb = s["position_bias"]["unsteered"]
    assert 0 <= pb["flip_share_raw"] <= 1 and pb["n_pairs"] == 15
    shifts = {c["name"]: c["shift"] for c in s["conditions"]}
    assert shifts["unsteered"] == 0
    assert any(abs(v) > 1e-6 for k, v in shifts.items() if k != "unsteered")
    assert s["across_directions"]["n"] == 4


@pytest.mark.parametrize("args, message", [
    (["--alphas=0,1"], "alpha 0 is the unsteered"),
    (["--directions", "valence,nosuchfeeling"], "unknown direction"),
    (["--positions", "last"], "--positions must be 'all' or 'assistant'"),
    (["--format", "chat", "--directions", "valence"], "has no chat template"),
])
def test_bad_input_exits_2(preferred, tmp_path, capsys, args, message):
    run, _ = preferred
    code = main(["prefer", str(run), "--layer", "1", "--no-progress", *args])
    assert code == 2
    assert message in capsys.readouterr().err


def test_bad_activities_file(preferred, tmp_path, capsys):
    bad = tmp_path / "a.txt"
    bad.write_text("pleasant | x | one\nhappy | y | two\n")
    assert main(["prefer", str(preferred[0]), "--layer", "1", "--activities", str(bad)]) == 2
    assert "group 'happy' is not one of" in capsys.readouterr().err


def test_report_section_and_figures(preferred):
    from workbench.figures import elo_bars_figure, elo_valence_figure, preference_shift_figure
    from workbench.report.folder import load_run
    from workbench.report.prefer_section import prefer_section

    run, _ = preferred
    s = PreferenceResult.load(run).summary
    bars = elo_bars_figure(s)
    assert sum(len(t.x) for t in bars.data) == 6
    scatter = elo_valence_figure(s)
    assert f"r = {s['elo_valence']['r']:.2f}" in scatter.layout.title.text
    shift = preference_shift_figure(s)
    assert {t.name for t in shift.data} >= {"valence", "calm", "random controls (range)"}
    section = prefer_section(load_run(run))
    assert section.absent is None and len(section.figures) == 3
    assert "ablate valence L1" in section.html


def test_resummarize_from_the_files_gives_the_same_statistics(preferred):
    from workbench.prefer.again import resummarize

    run, _ = preferred
    saved = PreferenceResult.load(run).summary
    again = resummarize(run).summary
    assert again["elo_valence"] == pytest.approx(saved["elo_valence"])
    for a, b in zip(again["conditions"], saved["conditions"]):
        assert a["shift"] == pytest.approx(b["shift"], abs=1e-9) and a["ci_low"] == pytest.approx(b["ci_low"])
        assert a.get("perplexity") == b.get("perplexity")
    assert [x["elo"] for x in again["activities"]] == pytest.approx([x["elo"] for x in saved["activities"]])


def test_orthogonal_ablation_controls_are_orthogonal_to_the_mean_residual(preferred):
    from workbench.collect.activations import StoryActivations
    from workbench.prefer.experiment import prepare_prefer
    from workbench.prefer.settings import PreferSettings

    run, _ = preferred
    acts = StoryActivations.load(run)
    for control in ("random", "orthogonal"):
        plan = prepare_prefer(run, PreferSettings(layer=1, directions="valence", ablate=True, ablation_control=control))
        cond = next(c for c in plan.conditions if c.name == "ablate random L1-2")
        assert cond.layers == (1, 2)
        for L, v in zip(cond.layers, cond.vectors):
            m = acts.means[:, acts.layers.index(L)].double().mean(0)
            cos = float(v.double() @ m / m.norm())
            assert abs(float(v.norm()) - 1) < 1e-5
            assert (abs(cos) < 1e-6) == (control == "orthogonal")
