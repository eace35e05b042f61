"""``workbench collect`` end to end on a tiny model, and its errors (exit code 2, the input named)."""

from __future__ import annotations

import json

import pytest
from tiny import model_folder, tiny_model

from workbench.cli import main
from workbench.collect import StoryActivations

STORY = "the old man and the child opened the door of the house at night with a cold hand and the light"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, tokenizer):
    return model_folder(tmp_path_factory.mktemp("tiny-llama"), tiny_model("llama", len(tokenizer)), tokenizer)


def _corpus(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _args(model_dir, corpus, out, *extra):
    return ["collect", "--model", str(model_dir), "--corpus", str(corpus), "--out", str(out),
            "--token-offset", "3", "--dtype", "float32", *extra]


def test_collect_writes_the_run_folder(model_dir, tmp_path, capsys):
    corpus = _corpus(tmp_path / "c.jsonl", [
        {"emotion": "calm", "topic": "a walk", "stories": [STORY, STORY + " and the water"]},
        {"emotion": "sad", "topic": "a letter", "stories": [STORY + " was cold"]}])
    neutral = tmp_path / "n.jsonl"
    neutral.write_text(json.dumps({"id": "n1", "text": "the water of the house at night"}) + "\n")
    assert main(_args(model_dir, corpus, tmp_path / "run", "--neutral", str(neutral))) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["texts"] == 4 and summary["layers"] == 3
    run = tmp_path / "run"
    assert {p.name for p in run.iterdir()} >= {"activations.safetensors", "manifest.json", "texts.jsonl"}
    rows = [json.loads(line) for line in (run / "texts.jsonl").read_text().splitlines()]
    assert [(r["index"], r.get("emotion"), r["kind"]) for r in rows] == [
        (0, "calm", "story"), (1, "calm", "story"), (2, "sad", "story"), (3, None, "neutral")]
    assert rows[1]["topic"] == "a walk" and rows[1]["story"] == 2
    manifest = json.loads((run / "manifest.json").read_text())["collect"]
    assert manifest["params"]["token_offset"] == 3 and manifest["info"]["corpus_sha256"]
    assert manifest["model"]["dtype"] == "float32" and manifest["info"]["versions"]["torch"]
    assert len(StoryActivations.load(run)) == 4


@pytest.mark.parametrize("content, extra, message", [
    (None, (), "does not exist"),
    ('{"emotion": "calm", "stories": ["x"]}\n{"emotion": "sad", "stories": [oops]}\n', (), "line 2"),
    ("", (), "no stories"),
    ('{"emotion": "calm", "topic": "t", "stories": ["the day"]}\n', (), r"text 0 \(emotion=calm.*3 tokens"),
    (json.dumps({"emotion": "calm", "topic": "t", "stories": [STORY]}) + "\n", ("--layers", "5"),
     "layer 5 is out of range"),
    (json.dumps({"emotion": "calm", "topic": "t", "stories": [STORY]}) + "\n", ("--layers", "one"),
     "--layers must be"),
])
def test_collect_bad_inputs(model_dir, tmp_path, capsys, content, extra, message):
    corpus = tmp_path / "bad.jsonl"
    if content is not None:
        corpus.write_text(content)
    code = main(_args(model_dir, corpus, tmp_path / "run", "--neutral", "none", *extra))
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    assert "workbench collect: error:" in err
    import re

    assert re.search(message, err), err
    assert not (tmp_path / "run" / "manifest.json").exists()


def test_drop_flagged_is_recorded_in_the_manifest(model_dir, tmp_path):
    corpus = _corpus(tmp_path / "c.jsonl", [
        {"emotion": "calm", "topic": "a walk", "stories": [STORY, STORY + " and she was calm"]},
        {"emotion": "sad", "topic": "a letter", "stories": [STORY + " was cold"]}])
    assert main(_args(model_dir, corpus, tmp_path / "run", "--neutral", "none", "--drop-flagged")) == 0
    info = json.loads((tmp_path / "run" / "manifest.json").read_text())["collect"]["info"]
    assert [(d["kind"], d["emotion"], d["line"], d["story"]) for d in info["dropped_stories"]] == [
        ("names_emotion", "calm", 1, 2)]
    assert len(StoryActivations.load(tmp_path / "run")) == 2
