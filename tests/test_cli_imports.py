"""The CLI answers before the heavy stack loads: help texts and pre-load errors import no torch, transformers
or plotly (checked in a fresh interpreter, since this test process has long imported them)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("torch", "transformers", "plotly", "scipy", "sklearn", "nnsight", "transformer_lens")

CHILD = r"""
import contextlib, io, json, sys
from workbench.cli import main

results = []
for argv in json.loads(sys.argv[1]):
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            rc = main(argv)
        except SystemExit as exc:
            rc = exc.code
    results.append({"argv": argv, "rc": rc, "stderr": err.getvalue(), "stdout": out.getvalue()})
heavy = sorted({m.split(".")[0] for m in sys.modules} & set(json.loads(sys.argv[2])))
print(json.dumps({"results": results, "heavy": heavy}))
"""


def run_fresh(argvs, cwd, watch=HEAVY):
    out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(argvs), json.dumps(watch)], cwd=cwd,
                         capture_output=True, text=True, timeout=120, check=True)
    return json.loads(out.stdout)


def test_help_texts_import_no_heavy_module(tmp_path):
    subcommands = [["collect"], ["corpus"], ["corpus", "check"], ["generate"], ["analyze"], ["compare"],
                   ["report"], ["run"], ["steer"]]
    got = run_fresh([["--help"]] + [c + ["--help"] for c in subcommands], tmp_path)
    assert got["heavy"] == []
    for r in got["results"]:
        assert r["rc"] == 0 and "usage: workbench" in r["stdout"], r
    assert all(c in got["results"][0]["stdout"] for c in ("collect", "analyze", "steer", "run", "report"))


def test_pre_load_errors_import_no_heavy_module(tmp_path):
    (tmp_path / "bad.jsonl").write_text('{"emotion": "calm", "topic": "a", "stories": ["x"]}\n[oops]\n')
    cases = [  # (argv, excerpt of the message): a missing file, malformed JSON, an unknown emotion, bad alphas
        (["collect", "--corpus", "missing.jsonl", "--out", "run"], "corpus missing.jsonl does not exist"),
        (["run", "--corpus", "missing.jsonl", "--out", "run"], "corpus missing.jsonl does not exist"),
        (["corpus", "check", "bad.jsonl"], "bad.jsonl, line 2: malformed JSON"),
        (["generate", "--model", "gemma-3-270m", "--out", "s.jsonl", "--emotions", "calm,glad"],
         "ratings: no rating for 1 emotion(s): ['glad']"),
        (["steer", "run", "--layer", "1", "--alphas=-0.2,x,0.2"], "--alphas: 'x' is not a number"),
        (["collect", "--layers", "1,two", "--out", "run"], "--layers must be 'all' or comma-separated integers"),
    ]
    got = run_fresh([argv for argv, _ in cases], tmp_path)
    assert got["heavy"] == []
    for (_, excerpt), r in zip(cases, got["results"]):
        assert r["rc"] == 2 and excerpt in r["stderr"] and "Traceback" not in r["stderr"], r
    assert not (tmp_path / "run").exists() and not (tmp_path / "s.jsonl").exists()


def test_the_check_sees_what_was_imported(tmp_path):
    """The child reports the watched modules it imported (so the tests above can fail): reading the
    ratings imports numpy."""
    (tmp_path / "bad.jsonl").write_text("[oops]\n")
    got = run_fresh([["corpus", "check", "bad.jsonl"], ["generate", "--model", "m", "--out", "s.jsonl",
                                                         "--emotions", "glad"]], tmp_path, ("numpy", "torch"))
    assert [r["rc"] for r in got["results"]] == [2, 2] and got["heavy"] == ["numpy"]


def test_run_folder_errors_import_no_heavy_module(tmp_path, tokenizer):
    """A missing or unanalysed run folder and a layer the run does not have are refused from the manifest
    alone, before torch loads (the analysed folder of a 3-block model is made by this process)."""
    from test_steer_support import make_model_dir, make_run

    make_run(tmp_path / "run", make_model_dir(tmp_path / "model", tokenizer))
    make_run(tmp_path / "raw", tmp_path / "model", analysed=False)
    make_run(tmp_path / "lacks", tmp_path / "model")
    (tmp_path / "lacks" / "activations.safetensors").unlink()
    (tmp_path / "unfinished" / ".partial").mkdir(parents=True)  # a collect that has not finished
    (tmp_path / "unfinished" / ".partial" / "state.json").write_text("{}")
    before = {d: sorted(p.name for p in (tmp_path / d).iterdir()) for d in ("run", "raw", "lacks", "unfinished")}
    cases = [
        (["steer", "run", "--layer", "99"], "--layer 99 is out of range: the run's model has 3 blocks (0..2)"),
        (["steer", "run", "--layer", "1", "--readback-layer", "-9"], "--readback-layer -9 is out of range"),
        (["steer", "raw", "--layer", "1"], "raw/manifest.json has no 'analysis' section: run `workbench analyze"),
        (["steer", "missing", "--layer", "1"], "run folder missing does not exist"),
        (["prefer", "run", "--layer", "7"], "--layer 7 is out of range"),
        (["lens", "run", "--layer", "7"], "--layer 7 is out of range"),
        (["battery", "run", "--layer", "-4"], "--layer -4 is out of range"),
        (["monitor", "run", "--layer", "3", "--text", "the day"], "--layer 3 is out of range"),
        (["steer", "lacks", "--layer", "1"], "lacks/activations.safetensors does not exist"),
        (["steer", "unfinished", "--layer", "1"], "unfinished has no manifest.json: the collect did not finish"),
        (["analyze", "unfinished"], "unfinished has no manifest.json: the collect did not finish"),
        (["analyze", "missing"], "run folder missing does not exist: make it with `workbench run --out missing`"),
        (["report", "missing"], "run folder missing does not exist"),
        (["report", "raw"], "raw/manifest.json has no 'analysis' section"),
    ]
    got = run_fresh([argv for argv, _ in cases], tmp_path)
    assert got["heavy"] == []
    for (_, excerpt), r in zip(cases, got["results"]):
        assert r["rc"] == 2 and excerpt in r["stderr"] and "Traceback" not in r["stderr"], r
    assert not (tmp_path / "missing").exists()  # and nothing was written into the run folders
    assert {d: sorted(p.name for p in (tmp_path / d).iterdir()) for d in before} == before
