"""``workbench run`` end to end on a tiny model, and ``workbench report --tokens`` on a collect + analyze run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from tiny import model_folder, tiny_model

from workbench.cli import main
from workbench.cli.run_cmd import default_out
from workbench.collect.config import CollectConfig
from workbench.data.ratings import load_ratings

WORDS = ("the old man and the child opened the door of the house at night with a cold hand and the light was "
         "warm in the room she had long time new friend mother father water dark face eyes window").split()
EMOTIONS = ("afraid", "sad", "bored", "angry", "calm", "content", "happy", "joyful")
FAST = ["--token-offset", "3", "--dtype", "float32", "--bootstrap", "20", "--permutations", "20",
        "--cka-shuffles", "10", "--no-progress"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, tokenizer):
    return model_folder(tmp_path_factory.mktemp("tiny-llama"), tiny_model("llama", len(tokenizer)), tokenizer)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A corpus of 8 emotions x 2 stories from the tiny vocabulary, and 4 neutral texts."""
    folder = tmp_path_factory.mktemp("inputs")
    rng = np.random.default_rng(0)

    def text(n):
        return " ".join(rng.choice(WORDS, n)) + "."

    rows = [{"emotion": e, "topic": f"topic {i}", "stories": [text(14 + i), text(18)]} for i, e in enumerate(EMOTIONS)]
    (folder / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "neutral.jsonl").write_text("".join(json.dumps({"id": f"n{i}", "text": text(16)}) + "\n"
                                                  for i in range(4)))
    return folder / "corpus.jsonl", folder / "neutral.jsonl", rows


def _naive_scores(model_dir, text, layer, run):
    """(h_t - mean emotion vector) . unit ridge direction, from a plain HF forward with a hook on the block."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    held = {}
    handle = model.model.layers[layer].register_forward_hook(
        lambda _m, _i, out: held.__setitem__("h", (out[0] if isinstance(out, tuple) else out)[0].double()))
    with torch.no_grad():
        model(**tok(text, return_tensors="pt"))
    handle.remove()
    acts = load_file(run / "activations.safetensors")["means"].double()
    meta = [json.loads(line) for line in (run / "texts.jsonl").read_text().splitlines()]
    emotions = json.loads((run / "manifest.json").read_text())["analysis"]["emotions"]
    layers = json.loads((run / "manifest.json").read_text())["analysis"]["layers"]
    j = layers.index(layer)
    per_emotion = [acts[[i for i, m in enumerate(meta) if m.get("emotion") == e], j].mean(0) for e in emotions]
    centre = torch.stack(per_emotion).mean(0)
    d = load_file(run / "valence_directions.safetensors")["directions"][j].double()
    return ((held["h"][1:] - centre) @ (d / d.norm())).numpy()  # BOS dropped


def test_run_makes_the_whole_run_folder_and_prints_the_headline(model_dir, inputs, tmp_path, capsys):
    corpus, neutral, rows = inputs
    out = tmp_path / "run"
    assert main(["run", "--model", str(model_dir), "--corpus", str(corpus), "--neutral", str(neutral),
                 "--out", str(out), *FAST]) == 0
    captured = capsys.readouterr()
    assert "[1/4] load the model and collect" in captured.err and "[4/4] report" in captured.err
    summary = json.loads((out / "summary.json").read_text())
    assert (f"PC1-valence: layer {summary['peak_layer']} (depth {summary['peak_depth']:.2f}, chosen on half the "
            f"emotions in {100 * summary['peak_layer_share']:.0f}% of the splits): r on the held-out emotions = "
            f"{summary['peak_r']:.2f}") in captured.out
    assert f"PC2-arousal: layer {summary['arousal_peak_layer']}" in captured.out
    assert captured.out.strip().splitlines()[-1] == f"report: {out / 'report.html'}"
    assert "8 emotions, 3 layers" in captured.out
    manifest = json.loads((out / "manifest.json").read_text())
    assert {"collect", "vectors", "analysis"} <= set(manifest)
    assert manifest["analysis"]["settings"]["bootstrap"] == 20
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "fig-tokens-2" in page and "token_view.json is not in the run folder" not in page

    view = json.loads((out / "token_view.json").read_text())
    assert view["layer"] == summary["peak_layer"]
    ratings = load_ratings().subset(EMOTIONS)
    best, worst = (ratings.emotions[int(np.argmax(ratings.valence))], ratings.emotions[int(np.argmin(ratings.valence))])
    stories = {r["emotion"]: r["stories"][0] for r in rows}
    neutral_first = json.loads(neutral.read_text().splitlines()[0])["text"]
    assert [t["meta"].get("emotion") for t in view["texts"]] == [best, worst, None]
    assert "neutral text (first of the run's neutral texts)" == view["texts"][2]["label"]
    for entry, text in zip(view["texts"], (stories[best], stories[worst], neutral_first)):
        assert "".join(entry["tokens"]) == text  # every token shown, spacing kept
        np.testing.assert_allclose(entry["scores"], _naive_scores(model_dir, text, view["layer"], out),
                                   rtol=1e-5, atol=1e-5)


def test_report_tokens_on_a_collect_and_analyze_run(model_dir, inputs, tmp_path, capsys):
    corpus, neutral, _ = inputs
    run = tmp_path / "run"
    assert main(["collect", "--model", str(model_dir), "--corpus", str(corpus), "--neutral", str(neutral),
                 "--out", str(run), "--token-offset", "3", "--dtype", "float32"]) == 0
    assert main(["analyze", str(run), "--bootstrap", "20", "--permutations", "20", "--cka-shuffles", "10",
                 "--no-progress"]) == 0
    assert main(["report", str(run)]) == 0
    assert "token_view.json is not in the run folder" in (run / "report.html").read_text(encoding="utf-8")
    texts = ["the old man opened the door.", "she had a cold hand"]
    assert main(["report", str(run), "--text", texts[0], "--text", texts[1], "--token-layer", "1"]) == 0
    assert "token view: 2 texts at layer 1" in capsys.readouterr().out
    view = json.loads((run / "token_view.json").read_text())
    assert [t["label"] for t in view["texts"]] == ["text 1", "text 2"] and view["layer"] == 1
    for entry, text in zip(view["texts"], texts):
        assert "".join(entry["tokens"]) == text
        np.testing.assert_allclose(entry["scores"], _naive_scores(model_dir, text, 1, run), rtol=1e-5, atol=1e-5)
    page = (run / "report.html").read_text(encoding="utf-8")
    assert "fig-tokens-1" in page and "token_view.json is not in the run folder" not in page
    assert main(["report", str(run), "--text", "the day", "--token-layer", "7"]) == 2
    assert "--token-layer 7 is out of range: the run's model has 3 blocks (0..2)" in capsys.readouterr().err


def test_default_out_names_model_corpus_and_subset():
    assert default_out(CollectConfig()) == Path("runs/gemma-3-270m-bundled")
    assert default_out(CollectConfig(corpus="../shared/corpora/gemma4-e4b-stories.jsonl", emotions=12)) == \
        Path("runs/gemma-3-270m-gemma4-e4b-stories-e12")
    assert default_out(CollectConfig(model="google/gemma-3-270m", corpus="hf:someone/stories@test")) == \
        Path("runs/google-gemma-3-270m-someone-stories-test")


def test_a_bad_ratings_file_fails_before_any_work(model_dir, inputs, tmp_path, capsys):
    corpus, neutral, _ = inputs
    out = tmp_path / "run"
    assert main(["run", "--model", str(model_dir), "--corpus", str(corpus), "--out", str(out),
                 "--ratings", str(tmp_path / "nope.csv"), *FAST]) == 2
    assert f"ratings file {tmp_path / 'nope.csv'} does not exist" in capsys.readouterr().err
    assert not out.exists()


def test_token_projections_cut_and_bad_direction(model_dir):
    import workbench as wb
    from workbench.errors import InputError
    from workbench.report import token_projections

    model = wb.load_model(str(model_dir), dtype="float32")
    rng = np.random.default_rng(1)
    direction, centre = rng.standard_normal(model.d_model), rng.standard_normal(model.d_model)
    text = "the old man and the child opened the door of the house"
    full, cut = (token_projections(model, [text], direction * 3.0, 1, centre, max_tokens=n)[0] for n in (192, 4))
    assert full.n_tokens == cut.n_tokens == len(full.tokens) == 17 and len(cut.tokens) == 4  # "opened": 6 chars
    np.testing.assert_allclose(cut.scores, full.scores[:4], rtol=1e-5, atol=1e-6)  # causal: the cut changes nothing
    unit = token_projections(model, [text], direction, 1, centre)[0]
    np.testing.assert_allclose(unit.scores, full.scores, rtol=1e-6)  # the direction is normalised
    with pytest.raises(InputError, match="direction"):
        token_projections(model, [text], np.zeros(model.d_model), 1)
    with pytest.raises(InputError, match="direction"):
        token_projections(model, [text], direction[:-1], 1)
