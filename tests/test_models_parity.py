"""Block outputs of both backends equal Hugging Face hidden states, on tiny models of real architectures."""

from __future__ import annotations

import pytest
import torch
from tiny import tiny_model

import workbench as wb
from workbench.models import adapter_from_hf

KINDS = ["llama", "apertus", "gemma3", "gemma4_text", "gemma4"]
BACKENDS = ["transformer_lens", "nnsight"]
TEXTS = ["the old man and the child opened the door of the house at night",
         "she was in the room with her friend"]


def _saved(tmp_path_factory, kind, tokenizer):
    path = tmp_path_factory.mktemp(kind)
    model = tiny_model(kind, len(tokenizer))
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path, model


@pytest.fixture(scope="module", params=KINDS)
def saved(request, tmp_path_factory, tokenizer):
    return request.param, *_saved(tmp_path_factory, request.param, tokenizer)


def _batch(tokenizer, side):
    return tokenizer(TEXTS, return_tensors="pt", padding=True, padding_side=side)


def _reference(model, enc):
    positions = (enc["attention_mask"].cumsum(-1) - 1).clamp(min=0)  # what HF generate uses
    with torch.no_grad():
        out = model(**enc, position_ids=positions, output_hidden_states=True)
    return out.hidden_states


def _close(a, b, mask):
    """fp32 agreement to 1e-5, absolute plus relative (activations here reach about 10)."""
    torch.testing.assert_close(a[mask], b[mask], rtol=1e-5, atol=1e-5)


def _read_all(adapter, enc):
    got = {}
    adapter.run_blocks(enc["input_ids"], enc["attention_mask"], lambda layer, h: got.__setitem__(layer, h.clone()))
    return got


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("side", ["left", "right"])
def test_block_outputs_equal_hidden_states(saved, backend, side, tokenizer):
    kind, path, original = saved
    adapter = wb.load_model(str(path), backend=backend, dtype="float32")
    assert adapter.backend == backend
    enc = _batch(adapter.tokenizer, side)
    hs = _reference(original, enc)  # the model as built, before any save/load
    got = _read_all(adapter, enc)
    n = adapter.n_layers
    assert sorted(got) == list(range(n))
    mask = enc["attention_mask"].bool()
    for layer in range(n - 1):
        _close(got[layer], hs[layer + 1], mask)
    _close(adapter.final_norm(got[n - 1]), hs[-1], mask)
    # the last block's raw output is before the final norm
    assert (got[n - 1] - hs[-1])[mask].abs().max().item() > 1e-3


def test_backends_agree(saved, tokenizer):
    kind, path, _ = saved
    enc = _batch(tokenizer, "left")
    outs = [_read_all(wb.load_model(str(path), backend=b, dtype="float32"), enc) for b in BACKENDS]
    mask = enc["attention_mask"].bool()
    for layer in outs[0]:
        _close(outs[0][layer], outs[1][layer], mask)


def test_auto_backend_prefers_transformer_lens(saved):
    _, path, _ = saved
    assert wb.load_model(str(path), dtype="float32").backend == "transformer_lens"


def test_multimodal_checkpoint_loads_text_only(tmp_path_factory, tokenizer):
    path, original = _saved(tmp_path_factory, "gemma4", tokenizer)
    adapter = wb.load_model(str(path), backend="nnsight", dtype="float32")  # nnsight leaves the modules as loaded
    assert type(adapter.hf_model).__name__ == "Gemma4ForCausalLM"
    # every language-model weight equals the checkpoint's (none left at random init)
    ref = {k.replace("model.language_model.", "model."): v for k, v in original.state_dict().items()
           if k.startswith("model.language_model.")}
    loaded = adapter.hf_model.state_dict()
    assert set(ref) <= set(loaded)
    assert all(torch.equal(loaded[k], ref[k]) for k in ref)


@pytest.mark.parametrize("backend", BACKENDS)
def test_reading_runs_no_lm_head_and_stops_early(backend, tokenizer):
    model = tiny_model("llama", len(tokenizer))
    watched = {id(model.model.layers[0].mlp): "block0", id(model.model.layers[2].mlp): "block2",
               id(model.model.norm): "norm", id(model.lm_head): "lm_head"}
    adapter = adapter_from_hf(model, tokenizer, backend=backend)
    enc = tokenizer(TEXTS[:1], return_tensors="pt")
    ran = []
    handle = torch.nn.modules.module.register_module_forward_hook(
        lambda mod, args, out: ran.append(watched.get(id(mod))))
    try:
        adapter.run_blocks(enc["input_ids"], enc["attention_mask"], lambda *a: None, layers=[0])
        first = set(ran) - {None}
        ran.clear()
        adapter.run_blocks(enc["input_ids"], enc["attention_mask"], lambda *a: None)
        full = set(ran) - {None}
    finally:
        handle.remove()
    assert first == {"block0"}
    assert full == {"block0", "block2"}  # every block, but never the final norm or the LM head


@pytest.mark.parametrize("backend", BACKENDS)
def test_intervention_changes_later_blocks_only(backend, tokenizer):
    model = tiny_model("llama", len(tokenizer))
    adapter = adapter_from_hf(model, tokenizer, backend=backend)
    enc = tokenizer(TEXTS[:1], return_tensors="pt")
    base = _read_all(adapter, enc)
    shift = torch.randn(adapter.d_model)
    with adapter.intervene(1, lambda h: h + shift):
        steered = _read_all(adapter, enc)
    after = _read_all(adapter, enc)
    assert torch.allclose(steered[0], base[0], atol=1e-6)
    assert torch.allclose(steered[1], base[1] + shift, atol=1e-5)
    assert not torch.allclose(steered[2], base[2], atol=1e-3)
    assert all(torch.allclose(after[k], base[k], atol=1e-6) for k in base)
    assert adapter.active_interventions == ()
