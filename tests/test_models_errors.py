"""Clear errors from load_model, each naming the input and what is wrong."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file, save_file
from tiny import bogus_gguf, model_folder, tiny_model

import workbench as wb
from workbench.errors import InputError, ModelLoadError, OfflineError
from workbench.models import adapter_from_hf
from workbench.models.hf import resolve


def test_unknown_alias_lists_known_ones():
    with pytest.raises(InputError, match=r"unknown model 'gemma-9'.*gemma-3-270m.*apertus-8b.*gemma-4-e4b"):
        wb.load_model("gemma-9")


def test_missing_local_path(tmp_path):
    missing = tmp_path / "no" / "such" / "model"
    with pytest.raises(InputError, match=r"model path .*no/such/model does not exist"):
        wb.load_model(str(missing))
    with pytest.raises(InputError, match=r"GGUF file .*absent.gguf does not exist"):
        wb.load_model(str(tmp_path / "absent.gguf"))


def test_directory_without_config(tmp_path):
    with pytest.raises(InputError, match="has no config.json"):
        wb.load_model(str(tmp_path))


def test_hf_id_offline_says_how_to_get_it(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(OfflineError, match=r"'someone/not-a-cached-model' is not available offline.*download"):
        wb.load_model("someone/not-a-cached-model")


def test_aliases_resolve_to_hub_ids():
    assert resolve("apertus-8b").location == "swiss-ai/Apertus-8B-Instruct-2509"
    assert resolve("gemma-4-e4b").location == "google/gemma-4-E4B-it"
    assert resolve("gemma-3-270m").source == "embedded"


def test_gguf_of_unsupported_architecture(tmp_path):
    path = bogus_gguf(tmp_path / "bogus.gguf")
    with pytest.raises(ModelLoadError, match=r"architecture 'bogusarch'.*supported: .*gemma3"):
        wb.load_model(str(path))


def test_float16_refused():
    with pytest.raises(InputError, match="float16"):
        wb.load_model("gemma-3-270m", dtype="float16")


def test_unknown_backend():
    with pytest.raises(InputError, match="backend 'jax'"):
        wb.load_model("gemma-3-270m", backend="jax")


def test_missing_weight_is_an_error(tmp_path, tokenizer):
    weights = model_folder(tmp_path, tiny_model("llama", len(tokenizer)), tokenizer) / "model.safetensors"
    state = load_file(weights)
    del state["model.layers.1.mlp.up_proj.weight"]
    save_file(state, weights, metadata={"format": "pt"})
    with pytest.raises(ModelLoadError, match=r"1 missing.*model.layers.1.mlp.up_proj.weight"):
        wb.load_model(str(tmp_path), dtype="float32")


def test_unexpected_weight_is_an_error(tmp_path, tokenizer):
    weights = model_folder(tmp_path, tiny_model("llama", len(tokenizer)), tokenizer) / "model.safetensors"
    state = load_file(weights)
    state["model.layers.9.extra.weight"] = torch.zeros(3)
    save_file(state, weights, metadata={"format": "pt"})
    with pytest.raises(ModelLoadError, match=r"1 unexpected.*model.layers.9.extra.weight"):
        wb.load_model(str(tmp_path), dtype="float32")


@pytest.mark.parametrize("layer", [3, -4, 100])
def test_layer_out_of_range(layer, tokenizer):
    adapter = adapter_from_hf(tiny_model("llama", len(tokenizer)), tokenizer, name="tiny", backend="nnsight")
    with pytest.raises(InputError, match=rf"layer {layer} is out of range: tiny has 3 blocks \(0..2\)"):
        adapter.check_layers([layer])
    enc = tokenizer(["the day"], return_tensors="pt")
    with pytest.raises(InputError, match="out of range"):
        adapter.run_blocks(enc["input_ids"], enc["attention_mask"], lambda *a: None, layers=[layer])
    with pytest.raises(InputError, match="out of range"):
        with adapter.intervene(layer, lambda h: h):
            pass


def test_spec_records_the_load(tmp_path, tokenizer):
    model = tiny_model("llama", len(tokenizer))
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    adapter = wb.load_model(str(tmp_path), dtype="float32", backend="nnsight")
    spec = adapter.spec.to_dict()
    assert spec["source"] == "directory" and spec["location"] == str(tmp_path.resolve())
    assert spec["dtype"] == "float32" and spec["backend"] == "nnsight"
    assert spec["block_path"] == "model.layers" and spec["architecture"] == "LlamaForCausalLM"
    import hashlib

    assert spec["weights_sha256"] == hashlib.sha256((tmp_path / "model.safetensors").read_bytes()).hexdigest()
    assert wb.ModelSpec.from_dict(spec) == adapter.spec
