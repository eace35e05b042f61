"""``workbench lens`` and ``workbench battery`` end to end on a tiny chat model, and their report sections."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_steer_support import make_model_dir, make_run
from tiny import tiny_chat_tokenizer

from workbench.battery import BatteryResult
from workbench.cli import main
from workbench.data.ratings import load_ratings
from workbench.lens import LogitLens
from workbench.report import write_report


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("watch")
    model_dir = make_model_dir(tmp / "model", tiny_chat_tokenizer())
    return make_run(tmp / "run", model_dir)


@pytest.fixture(scope="module")
def battery_file(run):
    emotions = load_ratings().emotions[:24]
    path = run.parent / "battery.jsonl"
    rows = [{"name": "days", "target": emotions[0], "template": "the day was {value} and cold", "values": [1, 2, 3, 4]},
            {"target": emotions[1], "text": "the old house was dark at night"},
            {"target": emotions[2], "messages": [{"role": "user", "content": "the light was warm"}]}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_lens_and_battery_write_their_results_and_the_report_shows_them(run, battery_file, capsys):
    assert main(["lens", str(run), "--layer", "1", "--k", "5", "--n-random", "40", "--dtype", "float32"]) == 0
    out = capsys.readouterr().out
    lens = LogitLens.load(run)
    assert lens.layer == 1 and lens.top_ids.shape == (24, 5) and f"own-word share {lens.share.share:.3f}" in out
    assert main(["battery", str(run), "--layer", "1", "--battery", str(battery_file), "--n-random", "60",
                 "--dtype", "float32"]) == 0
    out = capsys.readouterr().out
    result = BatteryResult.load(run)
    s = result.summary
    assert s["layer"] == 1 and len(s["ladders"]) == 1 and len(s["scenarios"]["opening"]["ranks"]) == 2
    assert f"mean ladder rho {s['ladder_mean']['user_last']['rho']:+.2f}" in out
    assert -1 <= s["ladders"][0]["user_last"]["rho"] <= 1 and s["settings"]["n_random"] == 60
    page = write_report(run).read_text()
    assert 'id="lens"' in page and 'id="battery"' in page and "Not in this report: no logit_lens" not in page
    assert "random null mean [95%]" in page and "Own word among" in page
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["lens"]["layer"] == 1 and manifest["battery"]["headline"]["opening"]["top3"] is not None


def test_the_report_lists_the_sections_as_absent_without_their_files(tmp_path):
    from test_steer_support import make_model_dir as mk

    run = make_run(tmp_path / "run", mk(tmp_path / "m", tiny_chat_tokenizer()))
    page = write_report(run).read_text()
    assert "no logit_lens.json in the run folder: make it with `workbench lens" in page
    assert "no battery results (battery_summary.json, battery.csv)" in page


def test_the_cli_lens_equals_the_library_call(run):
    import workbench as wb
    from workbench.analysis.vectors import EmotionVectors
    from workbench.lens import vector_logit_lens

    main(["lens", str(run), "--layer", "2", "--k", "4", "--n-random", "30", "--dtype", "float32", "--seed", "3"])
    saved = LogitLens.load(run)
    model = wb.load_model(json.loads((run / "manifest.json").read_text())["collect"]["model"]["name"],
                          dtype="float32")
    direct = vector_logit_lens(model, EmotionVectors.load(run), 2, k=4, n_random=30, seed=3)
    assert np.array_equal(saved.top_ids, direct.top_ids) and saved.share == direct.share
