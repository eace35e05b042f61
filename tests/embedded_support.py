"""Checks shared by the tests of the embedded models (Gemma 3 270M, SmolLM2-135M-Instruct): real weights
predict English, both backends give the HF model's hidden states, the converted copy is the GGUF's weights."""

from __future__ import annotations

import math

import torch

import workbench as wb

PARAGRAPH = ("The library opens at nine in the morning and closes at six in the evening. Visitors can borrow "
             "up to five books at a time, and most loans last for three weeks. The reading room on the second "
             "floor is quiet, with long wooden tables and lamps beside each chair.")


def perplexity(adapter, ids) -> float:
    ids = ids.unsqueeze(0)
    logits = adapter.logits(ids, torch.ones_like(ids)).float()
    loss = torch.nn.functional.cross_entropy(logits[0, :-1], ids[0, 1:])
    return math.exp(loss.item())


def english_and_scrambled(adapter, keep: int = 0) -> tuple[float, float]:
    """The perplexity of :data:`PARAGRAPH` and of its tokens shuffled (the first ``keep``, e.g. BOS, in place)."""
    ids = torch.tensor(adapter.tokenizer(PARAGRAPH).input_ids)
    gen = torch.Generator().manual_seed(0)
    shuffled = torch.cat([ids[:keep], ids[keep:][torch.randperm(len(ids) - keep, generator=gen)]])
    return perplexity(adapter, ids), perplexity(adapter, shuffled)


def check_backends_match_hf(adapter, name: str) -> None:
    """``adapter`` (TransformerLens) and the nnsight adapter of model ``name`` give the HF model's hidden states
    at every block, and the final norm its last one, to 1e-5 of their scale."""
    enc = adapter.tokenizer(["Rain fell on the roof all night.", PARAGRAPH], return_tensors="pt",
                            padding=True, padding_side="right")
    with torch.no_grad():
        hs = adapter.hf_model(**enc, output_hidden_states=True).hidden_states
    mask = enc["attention_mask"].bool()
    got, got_nn = {}, {}
    adapter.run_blocks(enc["input_ids"], enc["attention_mask"], lambda layer, h: got.__setitem__(layer, h.clone()))
    other = wb.load_model(name, dtype="float32", backend="nnsight")
    other.run_blocks(enc["input_ids"], enc["attention_mask"], lambda layer, h: got_nn.__setitem__(layer, h.clone()))
    n = adapter.n_layers
    for layer in range(n - 1):
        scale = hs[layer + 1][mask].abs().max()
        assert (got[layer] - hs[layer + 1])[mask].abs().max() <= 1e-5 * scale
        assert (got_nn[layer] - got[layer])[mask].abs().max() <= 1e-5 * scale
    final = adapter.final_norm(got[n - 1])
    assert (final - hs[-1])[mask].abs().max() <= 1e-5 * hs[-1][mask].abs().max()


def check_converted_copy(gguf_path, name: str, sha256: str) -> None:
    """Loading the GGUF file directly gives the weights (of that sha256) of the converted copy of ``name``."""
    direct = wb.load_model(str(gguf_path), dtype="float32", backend="nnsight")
    assert direct.spec.weights_sha256 == sha256
    ref = direct.hf_model.state_dict()
    ours = wb.load_model(name, dtype="float32", backend="nnsight").hf_model.state_dict()
    assert set(ours) == set(ref)
    assert all(torch.equal(ours[k], ref[k]) for k in ref)
