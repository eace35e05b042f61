"""Determinism: the same inputs and seed give bit-identical files on CPU in fp32.

Every file a stage writes is compared byte for byte, except the values that measure the run rather
than its result (``test_faults.VOLATILE``: seconds, tokens per second, the analysis timings) and
generate's per-row timestamp. A different seed must change the result, so that the comparison is
known to see differences. The fast tests run both passes in this process; the slow ones run each
pass as ``workbench COMMAND`` in a fresh process.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from test_faults import (
    ANALYZE_ARGS,
    GENERATE_ARGS,
    assert_same_files,
    collect_argv,
    random_text,
    run_ok,
    runner,  # noqa: F401  (a fixture)
    snapshot,
    synthetic_run,
    write_inputs,
)
from tiny import one_thread, tiny_llama, tiny_tokenizer  # noqa: F401 (one_thread: a fixture)

from workbench.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models run fastest on one thread


@pytest.fixture(scope="module")
def adapter():
    from workbench.models import adapter_from_hf

    tok = tiny_tokenizer()
    return adapter_from_hf(tiny_llama(len(tok), n_layers=3), tok, name="tiny", backend="nnsight")


def _texts(n=24, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [random_text(gen, 6 + int(torch.randint(0, 40, (1,), generator=gen))) for _ in range(n)]


def test_collect_twice_gives_the_same_files(adapter, tmp_path):
    from workbench.collect import collect

    texts = _texts()
    meta = [{"kind": "story", "emotion": f"e{i % 4}", "story": i} for i in range(len(texts))]
    kw = dict(meta=meta, token_offset=3, max_tokens_per_batch=100, checkpoint_every=1, progress=False)
    a = collect(adapter, texts, out=tmp_path / "a", **kw)
    collect(adapter, texts, out=tmp_path / "b", **kw)
    assert a.info["n_batches"] >= 4
    assert_same_files(tmp_path / "a", tmp_path / "b")
    assert (tmp_path / "a" / "activations.safetensors").read_bytes() == (tmp_path / "b" / "activations.safetensors"
                                                                          ).read_bytes()
    c = collect(adapter, texts[:-1] + [texts[-1] + " the end"], out=tmp_path / "c", **kw)
    assert not torch.equal(c.means, a.means)  # a different input is seen as different
    assert snapshot(tmp_path / "c")["activations.safetensors"] != snapshot(tmp_path / "a")["activations.safetensors"]


def test_analyze_twice_gives_the_same_files(tmp_path):
    source = synthetic_run(tmp_path / "source")
    for name in ("a", "b", "seed1"):
        shutil.copytree(source, tmp_path / name)
    assert main(["analyze", str(tmp_path / "a"), *ANALYZE_ARGS]) == 0
    assert main(["analyze", str(tmp_path / "b"), *ANALYZE_ARGS]) == 0
    assert_same_files(tmp_path / "a", tmp_path / "b")
    assert main(["analyze", str(tmp_path / "seed1"), *ANALYZE_ARGS, "--seed", "1"]) == 0
    a, other = snapshot(tmp_path / "a"), snapshot(tmp_path / "seed1")
    assert a["emotion_vectors.safetensors"] == other["emotion_vectors.safetensors"]  # no randomness there
    assert a["layers.csv"] != other["layers.csv"]  # bootstrap and permutations follow the seed


def test_analysis_does_not_depend_on_the_number_of_worker_threads(tmp_path):
    from workbench.analysis import EmotionVectors, analyze
    from workbench.collect import StoryActivations
    from workbench.data.ratings import load_ratings

    run = synthetic_run(tmp_path / "run")
    assert main(["analyze", str(run), *ANALYZE_ARGS]) == 0
    stories = StoryActivations.load(run).stories
    vectors, ratings = EmotionVectors.load(run), load_ratings()
    kw = dict(bootstrap=20, permutations=20, cka_shuffles=10, progress=False)
    one, three = (analyze(vectors, ratings, stories, workers=w, **kw) for w in (1, 3))
    for c1, c3 in zip(one.conditions, three.conditions):
        for name, column in c1.columns.items():
            np.testing.assert_array_equal(column, c3.columns[name], err_msg=name)
        np.testing.assert_array_equal(c1.cka_debiased, c3.cka_debiased)
        np.testing.assert_array_equal(c1.directions, c3.directions)


def test_generate_twice_gives_the_same_file(adapter, tmp_path):
    from workbench.data.generate import GenerationConfig, generate_stories

    config = GenerationConfig(batch_size=2, tokens_per_story=10, min_words=12, max_tries=2)
    args = (["calm", "sad"], ["A lake", "A train"], 2)
    for name, seed in (("a", 3), ("b", 3), ("seed4", 4)):
        generate_stories(adapter, *args, tmp_path / f"{name}.jsonl", seed=seed, config=config, model_name="tiny")
    files = snapshot(tmp_path)
    assert files["a.jsonl"] == files["b.jsonl"]
    rows = [json.loads(x) for x in files["a.jsonl"].splitlines()]
    assert len(rows) == 4 and sum(sum(r["attempts"]) for r in rows) > 8  # retries happened, and are repeated
    other = [json.loads(x) for x in files["seed4.jsonl"].splitlines()]
    assert [r["raw_response"] for r in rows] != [r["raw_response"] for r in other]


# ---------------------------------------------------------------- fresh processes, the command line

@pytest.mark.slow
def test_each_command_twice_in_fresh_processes_gives_the_same_files(runner, tmp_path):  # noqa: F811
    inputs = write_inputs(tmp_path / "inputs")
    for name in ("a", "b"):
        run_ok(runner, collect_argv(inputs, tmp_path / "collect" / name))
        run_ok(runner, ["analyze", tmp_path / "collect" / name, *ANALYZE_ARGS])
        run_ok(runner, ["generate", "--model", inputs["model"], "--out", tmp_path / "generate" / name / "s.jsonl",
                        *GENERATE_ARGS])
    for stage in ("collect", "generate"):
        assert_same_files(tmp_path / stage / "a", tmp_path / stage / "b")
    names = set(snapshot(tmp_path / "collect" / "a"))
    assert {"activations.safetensors", "texts.jsonl", "emotion_vectors.safetensors", "layers.csv",
            "cka_debiased.csv", "valence_directions.safetensors", "summary.json", "manifest.json"} <= names


def test_steer_twice_gives_the_same_files(tmp_path, tokenizer):
    from test_steer_support import TINY_PROMPTS, make_model_dir, make_run, prompts_file

    model_dir = make_model_dir(tmp_path / "model", tokenizer)
    run = make_run(tmp_path / "run", model_dir)
    prompts = prompts_file(tmp_path / "prompts.txt")
    argv = ["steer", str(run), "--layer", "1", "--prompts", str(prompts), "--alphas=-2,0,2", "--samples", "2",
            "--max-new-tokens", "5", "--dtype", "float32", "--no-progress", "--bootstrap", "200",
            "--random-controls", "1"]

    def outputs(name, *extra):
        assert main([*argv, "--out", str(tmp_path / name), *extra]) == 0
        folder = tmp_path / name
        summary = json.loads((folder / "steering_summary.json").read_text())
        summary.pop("timings")  # measures the run, not its result
        steer = json.loads((folder / "manifest.json").read_text())["steer"]
        steer.pop("timings")
        steer["sha256"].pop("steering_summary.json")  # the checksum of a file holding timings
        return (folder / "steering.csv").read_bytes(), summary, steer

    a, b = outputs("a"), outputs("b")
    assert a[0] == b[0] and a[1] == b[1] and a[2] == b[2]
    n_rows = 2 * 3 * len(TINY_PROMPTS) * 2  # (direction, control) x alphas x prompts x samples
    assert len(a[0].splitlines()) == 1 + n_rows
    other = outputs("seed1", "--seed", "1")
    assert other[0] != a[0]  # the comparison can see a difference: sampling follows the seed
