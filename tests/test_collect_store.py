"""Story means on disk: written row by row as batches finish, read back memory-mapped and in chunks."""

from __future__ import annotations

import dataclasses
import io
import json
import logging

import pytest
import torch
from safetensors.torch import load_file, save_file
from test_collect import _texts
from tiny import tiny_model

import workbench.collect.store as store
from workbench.analysis import emotion_vectors
from workbench.analysis.prepare import prepare
from workbench.collect import StoryActivations, collect
from workbench.collect.store import MeansFile, RowFile
from workbench.errors import InputError
from workbench.io import safetensors_writer
from workbench.models import adapter_from_hf

KW = {"token_offset": 3, "max_tokens_per_batch": 80, "progress": False}


@pytest.fixture(scope="module")
def adapter(tokenizer):
    return adapter_from_hf(tiny_model("llama", len(tokenizer)), tokenizer, backend="nnsight", name="tiny-llama")


def _meta(n):
    return [{"emotion": ("calm", "sad", "bored", "proud")[i % 4], "story": i, "kind": "story"} for i in range(n)]


def test_row_file_filled_out_of_order_is_the_safetensors_file_of_its_tensors(tmp_path):
    gen = torch.Generator().manual_seed(0)
    means, norms = torch.randn((7, 3, 5), generator=gen), torch.rand((7, 3), generator=gen)
    fixed = {"n_tokens": torch.arange(7) + 10, "rows": torch.tensor([0, 2, 3, 5, 8, 9, 11])}
    f = RowFile.create(tmp_path / "x.safetensors", 3, 5, fixed)
    for rows in ([4, 0], [6], [1, 5, 2, 3]):  # batches in any order, rows of a batch in any order
        f.write(rows, means[rows], norms[rows])
    f.sync()
    f.close()
    expected = io.BytesIO()
    safetensors_writer({"means": means, "token_norms": norms, **fixed})(expected)
    assert (tmp_path / "x.safetensors").read_bytes() == expected.getvalue()
    again = RowFile.reopen(tmp_path / "x.safetensors", 3, 5, fixed)
    assert again is not None
    again.close()
    assert RowFile.reopen(tmp_path / "x.safetensors", 3, 5, {**fixed, "n_tokens": torch.arange(7)}) is None
    assert RowFile.reopen(tmp_path / "x.safetensors", 3, 6, fixed) is None


@pytest.mark.parametrize("max_bytes", [1, 60, 61, 10_000])
def test_means_file_reads_rows_and_chunks_like_the_tensor(tmp_path, max_bytes):
    means = torch.randn((9, 3, 5), generator=torch.Generator().manual_seed(1))
    save_file({"means": means, "n_tokens": torch.ones(9, dtype=torch.int64)}, tmp_path / "a.safetensors")
    f = MeansFile.open(tmp_path / "a.safetensors")
    assert torch.equal(f.read(2, 6), means[2:6])
    view = f.view(3, 8)
    assert torch.equal(view.read(1, 5), means[4:8])
    got = [(start, chunk.clone()) for start, chunk in view.chunks(max_bytes)]
    assert torch.equal(torch.cat([c for _, c in got]), means[3:8])
    assert [s for s, _ in got] == list(range(0, 5, max(1, min(5, max_bytes // 60))))


def test_collect_into_a_run_folder_streams_and_equals_the_in_memory_collect(adapter, tmp_path, monkeypatch):
    texts = _texts(13, seed=3) + ["the day"]  # the short last text is skipped
    meta = _meta(len(texts))
    ref = collect(adapter, texts, meta=meta, on_short="skip", **KW)
    acts = collect(adapter, texts, meta=meta, on_short="skip", out=tmp_path / "run", **KW)
    assert acts.means_file is not None and acts.info["n_batches"] >= 4
    assert torch.equal(acts.means, ref.means) and torch.equal(acts.token_norms, ref.token_norms)
    assert torch.equal(acts.n_tokens, ref.n_tokens) and acts.meta == ref.meta
    loaded = StoryActivations.load(tmp_path / "run")
    assert torch.equal(load_file(tmp_path / "run" / "activations.safetensors")["means"], ref.means)
    monkeypatch.setattr(store, "CHUNK_BYTES", 3 * loaded.means[0].numel() * 4)  # 3 texts a chunk
    part = loaded.select(list(range(2, 11)))  # a range of a memory-mapped run: a view, still streamed
    assert part.means_file is not None and torch.equal(part.means, ref.means[2:11])
    chunks = [(s, c.clone()) for s, c in part.iter_means()]
    assert [s for s, _ in chunks] == [0, 3, 6] and torch.equal(torch.cat([c for _, c in chunks]), ref.means[2:11])
    assert loaded.select([0, 2]).means_file is None  # not a range: gathered into memory, as before
    other = dataclasses.replace(loaded, means=loaded.means + 1.0)  # other means in its place: they are streamed
    assert torch.equal(torch.cat([c.clone() for _, c in other.iter_means()]), ref.means + 1.0)
    assert not (tmp_path / "run" / ".partial").exists()


def test_rows_are_on_disk_as_batches_finish_and_a_rerun_resumes(adapter, tmp_path, monkeypatch):
    texts, out = _texts(12, seed=4), tmp_path / "run"
    ref = collect(adapter, texts, **KW)
    run, calls = type(adapter).run_blocks, [0]

    def failing(self, *args, **kwargs):
        calls[0] += 1
        if calls[0] == 4:
            raise RuntimeError("stopped")
        return run(self, *args, **kwargs)

    monkeypatch.setattr(type(adapter), "run_blocks", failing)
    with pytest.raises(RuntimeError, match="stopped"):
        collect(adapter, texts, out=out, checkpoint_every=2, **KW)
    monkeypatch.setattr(type(adapter), "run_blocks", run)
    state = json.loads((out / ".partial" / "state.json").read_text())
    assert state["batches_done"] == 2 and state["layout"] == "rows-v1"
    partial = load_file(out / ".partial" / "activations.safetensors")
    written = (partial["means"] != 0).flatten(1).any(1)  # three batches ran: their rows are in the file
    assert 0 < int(written.sum()) < len(texts)
    assert torch.equal(partial["means"][written], ref.means[written])
    assert (partial["means"][~written] == 0).all()
    again = collect(adapter, texts, out=out, checkpoint_every=2, **KW)
    assert again.info["resumed_at_batch"] == 2
    assert torch.equal(again.means, ref.means) and torch.equal(again.token_norms, ref.token_norms)


def test_a_checkpoint_of_the_older_layout_is_not_resumed_and_says_so(adapter, tmp_path, caplog):
    texts, out = _texts(6, seed=5), tmp_path / "run"
    done = collect(adapter, texts, out=tmp_path / "done", **KW)
    (out / ".partial").mkdir(parents=True)
    (out / ".partial" / "state.json").write_text(json.dumps({"key": done.params["key"], "batches_done": 2}))
    save_file({"means": torch.full_like(done.means, 7.0), "token_norms": torch.zeros_like(done.token_norms)},
              out / ".partial" / "means.safetensors")
    with caplog.at_level(logging.WARNING, logger="workbench.collect.sink"):
        acts = collect(adapter, texts, out=out, **KW)
    assert "older workbench" in caplog.text and acts.info["resumed_at_batch"] == 0
    assert torch.equal(acts.means, done.means)


def test_a_run_folder_written_before_the_change_loads(tmp_path):
    """Run folders were written with ``safetensors.torch.save``: the same bytes, so they load (memory-mapped)."""
    from workbench.io import json_bytes

    gen = torch.Generator().manual_seed(6)
    means, n_tokens = torch.randn((8, 2, 4), generator=gen), torch.arange(8) + 5
    run = tmp_path / "old"
    run.mkdir()
    save_file({"means": means, "n_tokens": n_tokens}, run / "activations.safetensors")  # no token norms yet
    (run / "texts.jsonl").write_text("".join(json.dumps({"index": i, **m}) + "\n" for i, m in enumerate(_meta(8))))
    (run / "manifest.json").write_bytes(json_bytes({"format_version": 1, "collect": {
        "n_texts": 8, "layers": [0, 1], "d_model": 4, "model": {}, "params": {}, "info": {}}}))
    acts = StoryActivations.load(run)
    assert acts.means_file is not None and acts.token_norms is None
    assert torch.equal(acts.means, means) and torch.equal(acts.n_tokens, n_tokens)
    assert torch.equal(torch.cat([c.clone() for _, c in acts.iter_means(40)]), means)


def _stories(tmp_path, n=18, d=6):
    gen = torch.Generator().manual_seed(7)
    acts = StoryActivations(torch.randn((n, 3, d), generator=gen) + 2.0, torch.full((n,), 9), (0, 1, 2), _meta(n))
    acts.save(tmp_path / "run")
    return acts, StoryActivations.load(tmp_path / "run")


def test_streamed_emotion_vectors_equal_the_naive_means(tmp_path, monkeypatch):
    acts, loaded = _stories(tmp_path)
    monkeypatch.setattr(store, "CHUNK_BYTES", 5 * 3 * 6 * 4)  # 5 stories a chunk: 4 chunks
    vec = emotion_vectors(loaded)
    for k, emotion in enumerate(vec.emotions):
        rows = [i for i, m in enumerate(acts.meta) if m["emotion"] == emotion]
        naive = acts.means[rows].double().mean(dim=0)  # [layer, d]
        torch.testing.assert_close(vec.raw[:, k].double(), naive.float().double(), rtol=0, atol=1e-6)
    torch.testing.assert_close(vec.raw, emotion_vectors(acts).raw, rtol=0, atol=1e-6)


def test_streamed_checks_name_the_text_with_nan_and_the_vectors_that_do_not_match(tmp_path, monkeypatch):
    acts, loaded = _stories(tmp_path)
    monkeypatch.setattr(store, "CHUNK_BYTES", 5 * 3 * 6 * 4)
    from workbench.data.ratings import load_ratings

    ratings = load_ratings()
    ratings = ratings.subset(["calm", "sad", "bored", "proud"])
    vec = emotion_vectors(loaded)
    kept, streamed = prepare(vec, ratings, loaded), prepare(vec, ratings, loaded, keep_units=False)
    assert streamed.units is None and kept.units.shape == (18, 3, 6)
    assert list(streamed.counts) == list(kept.counts) == [5, 5, 4, 4]
    other = emotion_vectors(StoryActivations(acts.means.flip(0), acts.n_tokens, acts.layers, acts.meta))
    with pytest.raises(InputError, match="the vectors are not the means of these stories"):
        prepare(other, ratings, loaded, keep_units=False)
    means = acts.means.clone()
    means[13, 1, 2] = float("nan")  # text 13 is in the third chunk
    bad = StoryActivations(means, acts.n_tokens, acts.layers, acts.meta)
    bad.save(tmp_path / "bad")
    with pytest.raises(InputError, match=r"story_acts: NaN or infinite activations at layer 1, emotion 'sad': text\(s\) \[13\]"):
        emotion_vectors(StoryActivations.load(tmp_path / "bad"))


def test_bag_of_words_baseline_kept_sparse_equals_the_dense_means():
    """The no-model baseline's tf-idf matrix stays sparse (dense it is [stories, vocabulary])."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    from workbench.analysis.baseline import text_features

    texts = _texts(16, seed=8)
    labels = [("calm", "sad", "bored", "proud")[i % 4] for i in range(16)]
    features = text_features(texts, labels, ["sad", "calm", "proud", "bored"])
    dense = TfidfVectorizer(lowercase=True, min_df=2, sublinear_tf=True).fit_transform(texts).toarray()
    naive = np.stack([dense[[i for i, x in enumerate(labels) if x == e]].mean(axis=0)
                      for e in ("sad", "calm", "proud", "bored")])
    assert features["bag of words"].shape == naive.shape
    np.testing.assert_allclose(features["bag of words"], naive, rtol=0, atol=1e-12)
    assert features["VADER"].shape == (4, 4)
