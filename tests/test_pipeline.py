"""``wb.run`` and ``wb.collect(..., neutral=...)``: the pipeline from Python, against the stages called by hand."""

from __future__ import annotations

import json

import numpy as np
import pytest
from tiny import tiny_model

import workbench as wb
from workbench.data.corpus import load_corpus
from workbench.errors import InputError
from workbench.models import adapter_from_hf

WORDS = ("the old man and the child opened the door of the house at night with a cold hand and the light was "
         "warm in the room she had long time new friend mother father water dark face eyes window").split()
EMOTIONS = ("afraid", "sad", "bored", "angry", "calm", "content", "happy", "joyful")
FAST = {"bootstrap": 20, "permutations": 20, "cka_shuffles": 10}


def _same_table(a, b, rtol=0.0):
    """Equal layer tables, NaN equal to NaN (``neutral_k`` is NaN with the projection off)."""
    assert [list(r) for r in a] == [list(r) for r in b]
    for ra, rb in zip(a, b):
        np.testing.assert_allclose(np.array(list(ra.values()), dtype=float), np.array(list(rb.values()), dtype=float),
                                   rtol=rtol, atol=0)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    rng = np.random.default_rng(1)

    def text(n):
        return " ".join(rng.choice(WORDS, n)) + "."

    path = tmp_path_factory.mktemp("corpus") / "c.jsonl"
    rows = [{"emotion": e, "topic": f"t{i}", "stories": [text(12 + i), text(15)]} for i, e in enumerate(EMOTIONS)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return load_corpus(path), [text(14) for _ in range(4)]


@pytest.fixture(scope="module")
def model(tokenizer):
    return adapter_from_hf(tiny_model("llama", len(tokenizer)), tokenizer, backend="nnsight", name="tiny")


def test_collect_builds_the_meta_of_stories_and_neutral_texts(model, corpus):
    stories, neutral = corpus
    acts = wb.collect(model, stories, neutral=neutral, token_offset=3, progress=False)
    assert len(acts) == len(stories) + 4
    assert [m["kind"] for m in acts.meta] == ["story"] * len(stories) + ["neutral"] * 4
    assert acts.meta[:len(stories)] == tuple(stories.meta())
    assert [m["story"] for m in acts.meta[len(stories):]] == [0, 1, 2, 3]
    assert acts.info["corpus"] == stories.name and acts.info["corpus_sha256"] == stories.sha256
    alone = wb.collect(model, neutral, token_offset=3, progress=False)
    np.testing.assert_array_equal(acts.neutral.means.numpy(), alone.means.numpy())


def test_run_equals_the_stages_called_by_hand(model, corpus):
    stories, neutral = corpus
    result = wb.run(model, stories, neutral=neutral, token_offset=3, progress=False, **FAST)
    acts = wb.collect(model, stories, neutral=neutral, token_offset=3, progress=False)
    vectors = wb.emotion_vectors(acts.stories, acts.neutral)
    report = wb.analyze(vectors, wb.load_ratings(), acts.stories, progress=False, **FAST)
    assert result.out is None and result.report_path is None
    np.testing.assert_array_equal(result.vectors.projected.numpy(), vectors.projected.numpy())
    _same_table(result.report.layers_table(), report.layers_table())
    assert set(result.figures) == {"pca", "depth", "cka", "cosine"}
    assert len(result.figures["pca"].frames) == model.n_layers  # one slider step per layer
    assert result._repr_html_() == result.report._repr_html_()


def test_run_writes_the_run_folder_as_the_cli_does(model, corpus, tmp_path):
    stories, neutral = corpus
    stages = []
    result = wb.run(model, stories, neutral=neutral, out=tmp_path / "run", token_offset=3, progress=False,
                    on_stage=lambda i, detail: stages.append(i), **FAST)
    assert stages == [0, 1, 2, 3]
    for name in ("manifest.json", "layers.csv", "emotion_vectors.safetensors", "token_view.json", "report.html"):
        assert (tmp_path / "run" / name).is_file(), name
    assert result.report_path == tmp_path / "run" / "report.html"
    _same_table(wb.GeometryReport.load(tmp_path / "run").layers_table(), result.report.layers_table(), 1e-8)


def test_unknown_settings_are_refused_with_the_valid_names(model, corpus):
    with pytest.raises(InputError, match=r"unknown setting\(s\) \['bootstraps'\].*'bootstrap'"):
        wb.run(model, corpus[0], bootstraps=20)
    with pytest.raises(InputError, match="bootstrap must be an integer >= 10"):
        wb.run(model, corpus[0], bootstrap=2)
