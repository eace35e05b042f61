"""The embedded SmolLM2-135M-Instruct: real weights, both backends, its chat template (slow)."""

from __future__ import annotations

import pytest
import torch
from test_embedded import PARAGRAPH, _perplexity

import workbench as wb

pytestmark = pytest.mark.slow

SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"


def test_shape_and_spec(smollm2):
    assert (smollm2.n_layers, smollm2.d_model) == (30, 576)
    assert smollm2.backend == "transformer_lens"
    assert smollm2.spec.weights_sha256 == SHA256
    assert smollm2.spec.source == "embedded"
    assert smollm2.spec.architecture == "LlamaForCausalLM"


def test_real_weights_predict_english(smollm2):
    ids = torch.tensor(smollm2.tokenizer(PARAGRAPH).input_ids)
    gen = torch.Generator().manual_seed(0)
    shuffled = ids[torch.randperm(len(ids), generator=gen)]
    real, scrambled = _perplexity(smollm2, ids), _perplexity(smollm2, shuffled)
    # random weights give about the vocabulary size (49k) for both
    assert real < 40, real
    assert scrambled > 20 * real, (real, scrambled)


def test_backends_match_hf_on_real_model(smollm2):
    enc = smollm2.tokenizer(["Rain fell on the roof all night.", PARAGRAPH], return_tensors="pt",
                            padding=True, padding_side="right")
    with torch.no_grad():
        hs = smollm2.hf_model(**enc, output_hidden_states=True).hidden_states
    mask = enc["attention_mask"].bool()
    got, got_nn = {}, {}
    smollm2.run_blocks(enc["input_ids"], enc["attention_mask"], lambda layer, h: got.__setitem__(layer, h.clone()))
    other = wb.load_model("smollm2-135m-instruct", dtype="float32", backend="nnsight")
    other.run_blocks(enc["input_ids"], enc["attention_mask"], lambda layer, h: got_nn.__setitem__(layer, h.clone()))
    n = smollm2.n_layers
    for layer in range(n - 1):
        scale = hs[layer + 1][mask].abs().max()
        assert (got[layer] - hs[layer + 1])[mask].abs().max() <= 1e-5 * scale
        assert (got_nn[layer] - got[layer])[mask].abs().max() <= 1e-5 * scale
    final = smollm2.final_norm(got[n - 1])
    assert (final - hs[-1])[mask].abs().max() <= 1e-5 * hs[-1][mask].abs().max()


def test_converted_copy_equals_gguf_load():
    from workbench.models.embedded import EMBEDDED

    path, temporary = EMBEDDED["smollm2-135m-instruct"].gguf()
    assert not temporary and path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    direct = wb.load_model(str(path), dtype="float32", backend="nnsight")
    assert direct.spec.weights_sha256 == SHA256
    ref = direct.hf_model.state_dict()
    ours = wb.load_model("smollm2-135m-instruct", dtype="float32", backend="nnsight").hf_model.state_dict()
    assert set(ours) == set(ref)
    assert all(torch.equal(ours[k], ref[k]) for k in ref)


def test_chat_template_renders_chatml(smollm2):
    messages = [{"role": "user", "content": "Hi there"}, {"role": "assistant", "content": "Hello!"}]
    text = smollm2.tokenizer.apply_chat_template(messages, tokenize=False)
    assert text.endswith("<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n")
    assert text.startswith("<|im_start|>system\n")  # the template's default system turn
    ids = smollm2.tokenizer(text, add_special_tokens=False).input_ids
    assert ids.count(smollm2.tokenizer.convert_tokens_to_ids("<|im_start|>")) == 3
