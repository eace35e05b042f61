"""collect: pooled means against an independent computation, padding and batching invariance, resume."""

from __future__ import annotations

import pytest
import torch
from tiny import tiny_model

from workbench.collect import StoryActivations, collect
from workbench.errors import InputError
from workbench.models import adapter_from_hf

WORDS = "the old man and the child opened the door of the house at night with a cold hand".split()


def _texts(n=7, seed=0):
    gen = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        k = 12 + int(torch.randint(0, 30, (1,), generator=gen))
        out.append(" ".join(WORDS[int(j)] for j in torch.randint(0, len(WORDS), (k,), generator=gen)))
    return out


@pytest.fixture(scope="module")
def llama(tokenizer):
    return tiny_model("llama", len(tokenizer))


def _adapter(model, tokenizer, backend="transformer_lens"):
    import copy

    return adapter_from_hf(copy.deepcopy(model), tokenizer, backend=backend, name="tiny-llama")


def _naive_means(model, tokenizer, texts, offset, reduce=lambda h: h.mean(0)):
    """Each text alone, no padding: HF hidden_states for blocks 0..L-2, a hook for the last block.

    ``reduce``: what is taken over the pooled tokens ``[T, d]`` (default: their mean)."""
    n_layers = model.config.num_hidden_layers
    rows = []
    for text in texts:
        ids = tokenizer(text, return_tensors="pt").input_ids
        last = {}

        def keep(mod, args, out, last=last):
            last["h"] = out[0] if isinstance(out, tuple) else out

        handle = model.model.layers[-1].register_forward_hook(keep)
        with torch.no_grad():
            hs = model(ids, output_hidden_states=True).hidden_states
        handle.remove()
        start = max(offset, 1)  # the BOS token (position 0) is never pooled
        per_layer = [reduce(hs[layer + 1][0, start:]) for layer in range(n_layers - 1)]
        per_layer.append(reduce(last["h"][0, start:]))
        rows.append(torch.stack(per_layer))
    return torch.stack(rows)


def test_means_equal_independent_computation(llama, tokenizer):
    texts = _texts()
    acts = collect(_adapter(llama, tokenizer), texts, token_offset=5, max_tokens_per_batch=64, progress=False)
    expected = _naive_means(llama, tokenizer, texts, 5)
    assert acts.means.dtype == torch.float32 and acts.means.shape == expected.shape
    torch.testing.assert_close(acts.means, expected, rtol=1e-5, atol=1e-5)
    lengths = [len(tokenizer(t).input_ids) for t in texts]
    assert acts.n_tokens.tolist() == [n - 5 for n in lengths]
    assert acts.layers == (0, 1, 2)


def test_token_norms_equal_independent_per_token_norms(llama, tokenizer):
    """The mean per-token L2 norm over the pooled tokens, not the norm of the mean (which is smaller)."""
    texts = _texts(5, seed=5)
    for side in ("right", "left"):
        acts = collect(_adapter(llama, tokenizer), texts, token_offset=3, max_tokens_per_batch=64, padding_side=side,
                       progress=False)
        expected = _naive_means(llama, tokenizer, texts, 3, reduce=lambda h: h.norm(dim=-1).mean())
        assert acts.token_norms.dtype == torch.float32 and acts.token_norms.shape == (5, 3)
        torch.testing.assert_close(acts.token_norms, expected, rtol=1e-5, atol=1e-5)
    assert (acts.token_norms > acts.means.norm(dim=-1) * 1.05).all()  # a random model: tokens do not align
    zero = collect(_adapter(llama, tokenizer), texts, token_offset=0, progress=False)  # BOS still left out
    torch.testing.assert_close(zero.token_norms, _naive_means(llama, tokenizer, texts, 0,
                                                              reduce=lambda h: h.norm(dim=-1).mean()))


def test_padding_side_and_batch_size_do_not_matter(llama, tokenizer):
    texts = _texts(9, seed=1)
    adapter = _adapter(llama, tokenizer)
    runs = [collect(adapter, texts, token_offset=3, padding_side=side, max_tokens_per_batch=budget, progress=False)
            for side in ("left", "right") for budget in (40, 400)]
    ref = runs[0].means
    for other in runs[1:]:
        rel = ((other.means - ref).norm(dim=-1) / ref.norm(dim=-1)).max().item()
        assert rel <= 1e-6, rel


def test_offset_zero_still_excludes_bos(llama, tokenizer):
    texts = _texts(3, seed=2)
    acts = collect(_adapter(llama, tokenizer), texts, token_offset=0, progress=False)
    torch.testing.assert_close(acts.means, _naive_means(llama, tokenizer, texts, 0), rtol=1e-5, atol=1e-5)


def test_backends_give_the_same_means(llama, tokenizer):
    texts = _texts(5, seed=3)
    a = collect(_adapter(llama, tokenizer, "transformer_lens"), texts, token_offset=4, progress=False)
    b = collect(_adapter(llama, tokenizer, "nnsight"), texts, token_offset=4, progress=False)
    torch.testing.assert_close(a.means, b.means, rtol=1e-5, atol=1e-5)


def test_layer_subset(llama, tokenizer):
    texts = _texts(3, seed=4)
    adapter = _adapter(llama, tokenizer)
    full = collect(adapter, texts, token_offset=2, progress=False)
    part = collect(adapter, texts, token_offset=2, layers=[2, 0], progress=False)
    assert part.layers == (0, 2)  # layers in any order are collected, stored and labelled in block order
    torch.testing.assert_close(part.means, full.means[:, [0, 2]], rtol=0, atol=0)


def test_short_text_is_an_error_naming_it(llama, tokenizer):
    texts = _texts(3, seed=5) + ["the day"]
    meta = [{"emotion": "calm", "story": i, "kind": "story"} for i in range(4)]
    with pytest.raises(InputError, match=r"1 text\(s\) .*text 3 \(emotion=calm, story=3, kind=story\): 3 tokens"):
        collect(_adapter(llama, tokenizer), texts, meta=meta, token_offset=5, progress=False)
    acts = collect(_adapter(llama, tokenizer), texts, meta=meta, token_offset=5, on_short="skip", progress=False)
    assert len(acts) == 3 and [m["story"] for m in acts.meta] == [0, 1, 2]
    assert acts.info["skipped"][0]["index"] == 3


@pytest.mark.parametrize("bad, message", [
    ({"layers": [7]}, "layer 7 is out of range"),
    ({"on_short": "ignore"}, "on_short must be"),
    ({"token_offset": -1}, "token_offset must be >= 0"),
    ({"max_length": 4, "token_offset": 5}, r"max_length \(4\) must exceed"),
])
def test_bad_settings(llama, tokenizer, bad, message):
    with pytest.raises(InputError, match=message):
        collect(_adapter(llama, tokenizer), _texts(2), progress=False, **bad)


def test_empty_input(llama, tokenizer):
    with pytest.raises(InputError, match="empty corpus"):
        collect(_adapter(llama, tokenizer), [], progress=False)


def test_save_load_and_reuse(llama, tokenizer, tmp_path, monkeypatch):
    texts = _texts(6, seed=6)
    meta = [{"emotion": "calm" if i % 2 else "sad", "topic": "t", "story": i, "kind": "story"} for i in range(6)]
    adapter = _adapter(llama, tokenizer)
    acts = collect(adapter, texts, meta=meta, token_offset=3, out=tmp_path / "run", progress=False)
    loaded = StoryActivations.load(tmp_path / "run")
    assert torch.equal(loaded.means, acts.means) and torch.equal(loaded.token_norms, acts.token_norms)
    assert loaded.meta == acts.meta and loaded.select([0, 2]).token_norms.shape == (2, 3)
    assert loaded.params["token_offset"] == 3 and loaded.spec["name"] == "tiny-llama"
    calls = []
    monkeypatch.setattr(type(adapter), "run_blocks", lambda *a, **k: calls.append(1))
    again = collect(adapter, texts, meta=meta, token_offset=3, out=tmp_path / "run", progress=False)
    assert calls == [] and torch.equal(again.means, acts.means)  # reused, not recomputed


def test_split_by_kind(llama, tokenizer):
    texts = _texts(4, seed=7)
    meta = [{"emotion": "calm", "kind": "story"}, {"kind": "neutral"}, {"emotion": "sad", "kind": "story"},
            {"kind": "neutral"}]
    acts = collect(_adapter(llama, tokenizer), texts, meta=meta, token_offset=2, progress=False)
    assert [m.get("emotion") for m in acts.stories.meta] == ["calm", "sad"]
    assert torch.equal(acts.neutral.means, acts.means[[1, 3]])
    assert acts.stories.of_kind("neutral") is None


def test_public_collect_stays_callable_after_submodule_imports(llama, tokenizer):
    # Importing a submodule binds the package to workbench.collect; the API must still be callable.
    import importlib

    import workbench as wb

    run = importlib.import_module("workbench.collect.run")
    importlib.import_module("workbench.collect.plan")
    assert callable(wb.collect)
    model = _adapter(llama, tokenizer, backend="nnsight")
    texts = _texts(3)
    a = wb.collect(model, texts, token_offset=2)
    b = run.collect(model, texts, token_offset=2)
    assert a.means.shape[0] == 3
    assert torch.equal(a.means, b.means)
