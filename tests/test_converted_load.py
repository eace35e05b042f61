"""``load_converted`` returns, bitwise, the model ``from_pretrained`` returns from the same converted folder."""

from __future__ import annotations

import pytest
import torch
from tiny import tiny_model
from transformers import AutoModelForCausalLM

from workbench.errors import ModelLoadError
from workbench.models.converted import load_converted


def assert_same_model(a, b):
    pa, pb = dict(a.named_parameters(remove_duplicate=False)), dict(b.named_parameters(remove_duplicate=False))
    assert sorted(pa) == sorted(pb)
    for k in pa:
        assert pa[k].dtype == pb[k].dtype and torch.equal(pa[k], pb[k]), k
    ba, bb = dict(a.named_buffers()), dict(b.named_buffers())
    assert sorted(ba) == sorted(bb)
    for k in ba:
        assert ba[k].dtype == bb[k].dtype and torch.equal(ba[k], bb[k]), k
    tied = [a.lm_head.weight is a.get_input_embeddings().weight, b.lm_head.weight is b.get_input_embeddings().weight]
    assert tied[0] == tied[1]
    assert a.config.to_dict() == b.config.to_dict()
    assert a.generation_config.to_dict() == b.generation_config.to_dict()
    assert a.training is False and b.training is False
    ids = torch.tensor([[1, 5, 9, 33, 2, 17, 40, 3]])
    with torch.no_grad():
        assert torch.equal(a(ids).logits, b(ids).logits)


@pytest.mark.parametrize("kind", ["gemma3", "llama"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_same_model_as_from_pretrained(tmp_path, kind, dtype):
    model = tiny_model(kind, 64).to(dtype)
    model.save_pretrained(tmp_path)
    if kind == "gemma3":  # a folder without generation_config.json (as the embedded model's converted copy)
        (tmp_path / "generation_config.json").unlink()
    ref = AutoModelForCausalLM.from_pretrained(str(tmp_path), dtype=dtype, attn_implementation="eager")
    assert_same_model(ref, load_converted(tmp_path, dtype))


def test_a_missing_weight_or_another_dtype_is_an_error(tmp_path):
    from safetensors.torch import load_file, save_file

    tiny_model("gemma3", 64).save_pretrained(tmp_path)
    with pytest.raises(ModelLoadError, match="not in torch.bfloat16"):
        load_converted(tmp_path, torch.bfloat16)
    state = load_file(tmp_path / "model.safetensors")
    del state["model.layers.1.mlp.up_proj.weight"]
    save_file(state, tmp_path / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(ModelLoadError, match=r"missing \['model.layers.1.mlp.up_proj.weight'\]"):
        load_converted(tmp_path, torch.float32)


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["bfloat16", "float32"])
def test_embedded_model_is_bitwise_the_from_pretrained_load(dtype):
    """The embedded model as ``load_model`` now loads it against the previous path (``from_pretrained``)."""
    from workbench.models.embedded import _weights_dir, converted_dir, load_embedded

    torch_dtype = getattr(torch, dtype)
    ours, _, _ = load_embedded(dtype=torch_dtype)
    ref = AutoModelForCausalLM.from_pretrained(str(_weights_dir(converted_dir(), torch_dtype)), dtype=torch_dtype,
                                               attn_implementation="eager")
    ref.config.architectures = ["Gemma3ForCausalLM"]
    assert_same_model(ref, ours)
