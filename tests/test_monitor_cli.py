"""``workbench monitor`` end to end on a tiny chat model: the saved result equals the Python call; bad inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_chat import TRANSCRIPT
from test_steer_support import make_model_dir, make_run
from tiny import tiny_chat_tokenizer

import workbench as wb
from workbench.cli import main
from workbench.monitor import MonitorResult


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("monitor")
    model_dir = make_model_dir(tmp / "model", tiny_chat_tokenizer())
    return make_run(tmp / "run", model_dir)


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_cli_writes_the_result_the_python_call_gives(run, tmp_path, capsys):
    transcript = _write(tmp_path / "chat.jsonl", TRANSCRIPT)
    assert main(["monitor", str(run), "--layer", "1", "--text", "the old man opened the door",
                 "--transcript", str(transcript)]) == 0
    out = capsys.readouterr().out
    saved = MonitorResult.load(run)
    assert [t.label for t in saved.texts] == ["text 1", "transcript 1"]
    assert "transcript 1, message 2 (assistant): " in out and f"monitor: {run / 'monitor.json'}" in out
    from workbench.report.folder import load_run_model

    model = load_run_model(run)
    direct = wb.monitor(model, wb.EmotionVectors.load(run), ["the old man opened the door", TRANSCRIPT], 1)
    for a, b in zip(saved.texts, direct.texts):
        np.testing.assert_allclose(a.z, b.z, atol=1e-5)
        assert a.tokens == b.tokens and a.roles == b.roles
    # the report gets a Monitor section
    from workbench.report import write_report

    page = write_report(run).read_text(encoding="utf-8")
    assert 'id="fig-monitor-0"' in page and 'id="fig-monitor-3"' in page


def test_one_transcript_per_line(run, tmp_path):
    path = _write(tmp_path / "many.jsonl", [{"messages": TRANSCRIPT}, {"messages": TRANSCRIPT[1:3]}])
    out = tmp_path / "m.json"
    assert main(["monitor", str(run), "--layer", "2", "--transcript", str(path), "--out", str(out),
                 "--emotions", ",".join(wb.EmotionVectors.load(run).emotions[:3])]) == 0
    saved = MonitorResult.load(out)
    assert len(saved.texts) == 2 and len(saved.emotions) == 3 and saved.layer == 2


@pytest.mark.parametrize(("rows", "args", "message"), [
    ([{"role": "user", "content": "a"}, {"role": "robot", "content": "b"}], [],
     "chat.jsonl, line 2: unknown role 'robot'"),
    (["not json"], [], "chat.jsonl, line 1: malformed JSON"),
    (TRANSCRIPT, ["--emotions", "blorfy"], "--emotions: ['blorfy'] not among the run's emotions"),
])
def test_bad_inputs_exit_2(run, tmp_path, capsys, rows, args, message):
    path = tmp_path / "chat.jsonl"
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    assert main(["monitor", str(run), "--layer", "1", "--transcript", str(path), *args]) == 2
    assert message in capsys.readouterr().err


def test_layer_and_missing_input(run, capsys):
    assert main(["monitor", str(run), "--layer", "9", "--text", "the day"]) == 2
    assert "--layer 9 is out of range: the run's model has 3 blocks (0..2)" in capsys.readouterr().err
    assert main(["monitor", str(run), "--layer", "1"]) == 2
    assert "give --text TEXT or --transcript FILE" in capsys.readouterr().err
