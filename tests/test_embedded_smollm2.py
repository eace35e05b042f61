"""The embedded SmolLM2-135M-Instruct: real weights, both backends, its chat template (slow)."""

from __future__ import annotations

import pytest
from embedded_support import check_backends_match_hf, check_converted_copy, english_and_scrambled

pytestmark = pytest.mark.slow

SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"


def test_shape_and_spec(smollm2):
    assert (smollm2.n_layers, smollm2.d_model) == (30, 576)
    assert smollm2.backend == "transformer_lens"
    assert smollm2.spec.weights_sha256 == SHA256
    assert smollm2.spec.source == "embedded"
    assert smollm2.spec.architecture == "LlamaForCausalLM"


def test_real_weights_predict_english(smollm2):
    real, scrambled = english_and_scrambled(smollm2)
    # random weights give about the vocabulary size (49k) for both
    assert real < 40, real
    assert scrambled > 20 * real, (real, scrambled)


def test_backends_match_hf_on_real_model(smollm2):
    check_backends_match_hf(smollm2, "smollm2-135m-instruct")


def test_converted_copy_equals_gguf_load():
    from workbench.models.embedded import EMBEDDED

    path, temporary = EMBEDDED["smollm2-135m-instruct"].gguf()
    assert not temporary and path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    check_converted_copy(path, "smollm2-135m-instruct", SHA256)


def test_chat_template_renders_chatml(smollm2):
    messages = [{"role": "user", "content": "Hi there"}, {"role": "assistant", "content": "Hello!"}]
    text = smollm2.tokenizer.apply_chat_template(messages, tokenize=False)
    assert text.endswith("<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n")
    assert text.startswith("<|im_start|>system\n")  # the template's default system turn
    ids = smollm2.tokenizer(text, add_special_tokens=False).input_ids
    assert ids.count(smollm2.tokenizer.convert_tokens_to_ids("<|im_start|>")) == 3
