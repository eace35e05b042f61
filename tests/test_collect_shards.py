"""Sharded collect: n shards of one plan merge into the one-process run bit for bit; other plans are refused."""

from __future__ import annotations

import json

import pytest
import torch
from test_collect import _texts
from tiny import tiny_model

from workbench.cli import main
from workbench.collect import StoryActivations, collect
from workbench.collect.shards import merge_shards
from workbench.errors import InputError, RunFolderError
from workbench.models import adapter_from_hf


@pytest.fixture(scope="module")
def adapter(tokenizer):
    return adapter_from_hf(tiny_model("llama", len(tokenizer)), tokenizer, backend="nnsight", name="tiny-llama")


KW = {"token_offset": 3, "max_tokens_per_batch": 80, "progress": False}


def test_three_shards_merge_to_the_one_process_run_bitwise(adapter, tmp_path):
    texts = _texts(14, seed=5) + ["the day"]  # the last one is too short: skipped in every shard and the merge
    meta = [{"emotion": "calm" if i % 2 else "sad", "story": i, "kind": "story"} for i in range(len(texts))]
    whole = collect(adapter, texts, meta=meta, on_short="skip", out=tmp_path / "whole", **KW)
    assert whole.info["n_batches"] >= 6
    parts = [collect(adapter, texts, meta=meta, on_short="skip", shard=f"{i}/3", out=tmp_path / f"s{i}", **KW)
             for i in range(3)]
    assert sum(len(p) for p in parts) == len(whole) and all(len(p) for p in parts)
    merged = merge_shards([tmp_path / f"s{i}" for i in (2, 0, 1)], tmp_path / "merged")
    assert torch.equal(merged.means, whole.means) and torch.equal(merged.n_tokens, whole.n_tokens)
    assert torch.equal(merged.token_norms, whole.token_norms)  # the steering norm's per-text token norms
    assert merged.meta == whole.meta and merged.params == whole.params and merged.layers == whole.layers
    loaded = StoryActivations.load(tmp_path / "merged")
    assert torch.equal(loaded.means, whole.means) and loaded.info["shards"] == 3


def test_remote_shards_merge_too(adapter, tmp_path):
    texts = _texts(8, seed=6)
    whole = collect(adapter, texts, **KW)
    for i in range(2):
        collect(adapter, texts, shard=(i, 2), remote="local", out=tmp_path / f"s{i}", **KW)
    merged = merge_shards([tmp_path / "s0", tmp_path / "s1"], tmp_path / "merged")
    assert torch.equal(merged.means, whole.means)
    torch.testing.assert_close(merged.token_norms, whole.token_norms, rtol=1e-5, atol=1e-5)


def test_shards_of_different_plans_or_incomplete_sets_are_refused(adapter, tmp_path):
    texts = _texts(8, seed=7)
    for i in range(2):
        collect(adapter, texts, shard=(i, 2), out=tmp_path / f"a{i}", **KW)
    collect(adapter, texts, shard=(1, 2), out=tmp_path / "offset4", **{**KW, "token_offset": 4})
    collect(adapter, texts[:-1], shard=(1, 2), out=tmp_path / "fewer", **KW)
    collect(adapter, texts, layers=[0, 1], shard=(1, 2), out=tmp_path / "layers", **KW)
    with pytest.raises(InputError, match=r"different plans: .*offset4 has token_offset 4, .*a0 has 3"):
        merge_shards([tmp_path / "a0", tmp_path / "offset4"], tmp_path / "m")
    with pytest.raises(InputError, match=r"different plans: .*fewer has texts_sha256"):
        merge_shards([tmp_path / "a0", tmp_path / "fewer"], tmp_path / "m")
    with pytest.raises(InputError, match=r"different plans: .*layers has layers \[0, 1\], .* has \[0, 1, 2\]"):
        merge_shards([tmp_path / "a0", tmp_path / "layers"], tmp_path / "m")
    with pytest.raises(InputError, match=r"shard\(s\) 1/2 missing"):
        merge_shards([tmp_path / "a0"], tmp_path / "m")
    with pytest.raises(InputError, match="shard 0/2 given twice"):
        merge_shards([tmp_path / "a0", tmp_path / "a0", tmp_path / "a1"], tmp_path / "m")
    with pytest.raises(RunFolderError, match="is not a finished shard"):
        merge_shards([tmp_path / "a0", tmp_path / "nothing"], tmp_path / "m")
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("bad", ["3/3", "1/0", "a/b", "2"])
def test_bad_shard_spec(adapter, tmp_path, bad):
    with pytest.raises(InputError, match="^shard"):  # the library names the field; the CLI says --shard
        collect(adapter, _texts(2), shard=bad, out=tmp_path, **KW)


def test_cli_shards_and_merge(tmp_path, tokenizer, capsys):
    model_dir = tmp_path / "model"
    tiny_model("llama", len(tokenizer)).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("".join(json.dumps({"emotion": e, "topic": "t", "stories": _texts(4, seed=k)}) + "\n"
                              for k, e in enumerate(("calm", "sad", "bored"))))
    args = ["collect", "--model", str(model_dir), "--corpus", str(corpus), "--neutral", "none", "--token-offset", "3",
            "--dtype", "float32", "--max-tokens-per-batch", "80"]
    assert main([*args, "--out", str(tmp_path / "whole")]) == 0
    for i in range(3):
        assert main([*args, "--out", str(tmp_path / f"s{i}"), "--shard", f"{i}/3"]) == 0
    assert main(["merge", *(str(tmp_path / f"s{i}") for i in range(3)), "--out", str(tmp_path / "merged")]) == 0
    a, b = StoryActivations.load(tmp_path / "whole"), StoryActivations.load(tmp_path / "merged")
    assert torch.equal(a.means, b.means) and a.meta == b.meta
    capsys.readouterr()
    assert main([*args, "--out", str(tmp_path / "x"), "--shard", "3/3"]) == 2
    assert "need 0 <= I < N" in capsys.readouterr().err
