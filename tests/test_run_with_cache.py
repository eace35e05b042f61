"""``run_with_cache``: TransformerLens hook names on both backends, equal to HF hidden states and to collect."""

from __future__ import annotations

import pytest
import torch
from tiny import tiny_model

import workbench as wb
from workbench.errors import InputError
from workbench.models import adapter_from_hf

KINDS = ["llama", "apertus", "gemma3", "gemma4_text", "gemma4"]
BACKENDS = ["transformer_lens", "nnsight"]
TEXTS = ["the old man and the child opened the door of the house at night",
         "she was in the room with her friend",
         "a cold day"]


@pytest.fixture(scope="module", params=KINDS)
def saved(request, tmp_path_factory, tokenizer):
    path = tmp_path_factory.mktemp(request.param)
    model = tiny_model(request.param, len(tokenizer))
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return request.param, path, model


def _hidden_states(model, tokenizer, side):
    enc = tokenizer(TEXTS, return_tensors="pt", padding=True, padding_side=side)
    positions = (enc["attention_mask"].cumsum(-1) - 1).clamp(min=0)
    with torch.no_grad():
        return enc, model(**enc, position_ids=positions, output_hidden_states=True).hidden_states


def _close(a, b):
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_every_layer_equals_hf_hidden_states_on_both_backends(saved, tokenizer):
    kind, path, original = saved
    adapters = [wb.load_model(str(path), backend=backend, dtype="float32") for backend in BACKENDS]
    for side in ("left", "right"):
        _check_side(original, adapters, side, tokenizer)


def _check_side(original, adapters, side, tokenizer):
    enc, hs = _hidden_states(original, tokenizer, side)
    mask = enc["attention_mask"].bool()
    stacks = {}
    for adapter in adapters:
        cache = adapter.run_with_cache(TEXTS, padding_side=side)
        assert torch.equal(cache.attention_mask.cpu(), enc["attention_mask"])
        assert torch.equal(cache.tokens.cpu(), enc["input_ids"])
        stack = cache.stack("resid_post")
        n = adapter.n_layers
        assert stack.shape == (n, len(TEXTS), mask.shape[1], adapter.d_model)
        for layer in range(n - 1):
            _close(stack[layer][mask], hs[layer + 1][mask])
            assert torch.equal(cache[f"blocks.{layer}.hook_resid_post"], stack[layer])
        _close(adapter.final_norm(stack[n - 1])[mask], hs[-1][mask])
        assert torch.equal(cache["resid_post", -1], stack[n - 1])
        stacks[adapter.backend] = stack
    _close(stacks["transformer_lens"][:, mask], stacks["nnsight"][:, mask])


def _pooled_by_hand(cache, layer, offset):
    """Mean over each text's real tokens at positions >= offset, positions counted from its first token."""
    out = []
    for row in range(cache.tokens.shape[0]):
        real = cache.attention_mask[row].bool()
        hidden = cache["resid_post", layer][row][real]
        out.append(hidden[offset:].double().mean(0))
    return torch.stack(out)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("side", ["left", "right"])
def test_a_cache_pooled_by_hand_equals_collect(backend, side, tokenizer):
    adapter = adapter_from_hf(tiny_model("llama", len(tokenizer)), tokenizer, backend=backend)
    acts = wb.collect(adapter, TEXTS, token_offset=2, progress=False, padding_side="right")
    cache = adapter.run_with_cache(TEXTS, padding_side=side)
    for j, layer in enumerate(acts.layers):
        _close(_pooled_by_hand(cache, layer, 2).float(), acts.means[:, j])


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_lm_head_runs_only_when_logits_are_asked_for(backend, tokenizer):
    model = tiny_model("llama", len(tokenizer))
    watched = {id(model.model.layers[0].mlp): "block0", id(model.model.layers[2].mlp): "block2",
               id(model.model.norm): "norm", id(model.lm_head): "lm_head"}
    with torch.no_grad():
        enc = tokenizer(TEXTS, return_tensors="pt", padding=True)
        reference = model(**enc).logits
    adapter = adapter_from_hf(model, tokenizer, backend=backend)
    ran = []
    handle = torch.nn.modules.module.register_module_forward_hook(
        lambda mod, args, out: ran.append(watched.get(id(mod))))
    seen = {}
    try:
        for label, kwargs in (("first", {"layers": [0]}), ("all", {}), ("logits", {"return_logits": True})):
            ran.clear()
            seen[label] = (adapter.run_with_cache(TEXTS, **kwargs), set(ran) - {None})
    finally:
        handle.remove()
    assert seen["first"][1] == {"block0"}
    assert list(seen["first"][0].keys()) == ["blocks.0.hook_resid_post"]
    assert seen["all"][1] == {"block0", "block2"} and seen["all"][0].logits is None
    cache, modules = seen["logits"]
    assert modules == {"block0", "block2", "norm", "lm_head"}
    mask = enc["attention_mask"].bool()
    _close(cache.logits[mask], reference[mask])


@pytest.mark.parametrize("backend", BACKENDS)
def test_only_requested_hooks_are_kept_and_interventions_apply(backend, tokenizer):
    adapter = adapter_from_hf(tiny_model("llama", len(tokenizer)), tokenizer, backend=backend)
    base = adapter.run_with_cache(TEXTS[:1], names_filter=["blocks.1.hook_resid_post", "blocks.2.hook_resid_post"])
    assert list(base.keys()) == ["blocks.1.hook_resid_post", "blocks.2.hook_resid_post"]
    assert base.layers == (1, 2)
    by_predicate = adapter.run_with_cache(TEXTS[:1], names_filter=lambda n: n.endswith("hook_resid_post"), layers=[2])
    assert list(by_predicate.keys()) == ["blocks.2.hook_resid_post"]
    shift = torch.randn(adapter.d_model)
    with adapter.intervene(1, lambda h: h + shift):
        steered = adapter.run_with_cache(TEXTS[:1], names_filter="resid_post", layers=[1, 2])
    _close(steered["resid_post", 1], base["resid_post", 1] + shift)
    assert not torch.allclose(steered["resid_post", 2], base["resid_post", 2], atol=1e-3)
    with pytest.raises(KeyError, match="blocks.0.hook_resid_post"):
        base["resid_post", 0]
    with pytest.raises(InputError, match="not served"):
        adapter.run_with_cache(TEXTS[:1], names_filter="blocks.9.hook_nothing")


def test_transformer_lens_backend_serves_the_bridges_other_hooks(tokenizer):
    model = tiny_model("llama", len(tokenizer))
    enc = tokenizer(TEXTS[:1], return_tensors="pt")
    with torch.no_grad():
        embedded = model.model.embed_tokens(enc["input_ids"])
    adapter = adapter_from_hf(model, tokenizer, backend="transformer_lens")
    cache = adapter.run_with_cache(TEXTS[:1], names_filter=["resid_pre", "blocks.1.attn.hook_pattern"], layers=[0, 1])
    _close(cache["resid_pre", 0], embedded)
    pattern = cache["blocks.1.attn.hook_pattern"]
    assert pattern.shape[-2:] == (enc["input_ids"].shape[1],) * 2
    _close(pattern.sum(-1), torch.ones(pattern.shape[:-1]))  # rows of an attention pattern sum to 1
    nns = adapter_from_hf(tiny_model("llama", len(tokenizer)), tokenizer, backend="nnsight")
    with pytest.raises(InputError, match="not served by the nnsight backend"):
        nns.run_with_cache(TEXTS[:1], names_filter="resid_pre")


def test_tokens_and_str_tokens(tokenizer):
    adapter = adapter_from_hf(tiny_model("llama", len(tokenizer)), tokenizer, backend="nnsight")
    ids = adapter.to_tokens(TEXTS, padding_side="left")
    width = len(tokenizer(TEXTS[0])["input_ids"])
    assert ids.shape == (3, width) and ids[2, :width - 4].tolist() == [tokenizer.pad_token_id] * (width - 4)
    assert adapter.to_str_tokens("the cold day") == ["<bos>", "the", "cold", "day"]
    assert adapter.to_str_tokens(["a day", "the"]) == [["<bos>", "a", "day"], ["<bos>", "the"]]
    cache = adapter.run_with_cache(ids[2, width - 4:])  # token ids in, no padding
    assert cache.str_tokens == (("<bos>", "a", "cold", "day"),)
    with pytest.raises(InputError, match="padding_side"):
        adapter.run_with_cache("a day", padding_side="middle")
