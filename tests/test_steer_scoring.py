"""Read-back, perplexity and VADER scores against naive one-text-at-a-time computations with full logits."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from tiny import tiny_model

from workbench.errors import InputError
from workbench.models import adapter_from_hf
from workbench.steer import steering
from workbench.steer.scoring import readback_and_perplexity, vader_scores

TEXTS = [("the old man opened", " the door of the house and she was"), ("at night", " the water was cold"),
         ("my friend and i had", " a long day"), ("the old man opened", " the door of the house and she was"),
         ("she was in the room", "")]


def _sequences(tokenizer):
    out = []
    for prompt, cont in TEXTS:
        p = tokenizer(prompt)["input_ids"]
        full = tokenizer(prompt + cont)["input_ids"]
        assert full[:len(p)] == p
        out.append((tuple(p), tuple(full[len(p):])))
    return out


def _naive(adapter, seq, layer, direction):
    prompt, new = seq
    if not new:
        return math.nan, math.nan
    ids = torch.tensor([list(prompt) + list(new)])
    mask = torch.ones_like(ids)
    got = {}
    adapter.run_blocks(ids, mask, lambda at, h: got.__setitem__(at, h), layers=[layer])
    proj = (got[layer][0, len(prompt):].double() @ direction.double()).mean().item()
    logp = torch.log_softmax(adapter.logits(ids, mask)[0].double(), dim=-1)
    nll = [-logp[t - 1, ids[0, t]].item() for t in range(len(prompt), ids.shape[1])]
    return proj, math.exp(np.mean(nll))


@pytest.mark.parametrize("kind", ["llama", "gemma3"])
@pytest.mark.parametrize("backend", ["transformer_lens", "nnsight"])
def test_scores_equal_the_naive_computation(tokenizer, kind, backend):
    model = tiny_model(kind, len(tokenizer))
    if kind == "gemma3":
        model.config.final_logit_softcapping = 3.0  # exercise the soft-capping path
    adapter = adapter_from_hf(model, tokenizer, backend=backend, name="tiny")
    seqs = _sequences(tokenizer)
    g = torch.Generator().manual_seed(2)
    direction = torch.randn(adapter.d_model, generator=g)
    direction /= direction.norm()
    readback, ppl = readback_and_perplexity(adapter, seqs, 1, direction, max_tokens_per_batch=30)
    for i, seq in enumerate(seqs):
        proj, perplexity = _naive(adapter, seq, 1, direction)
        if math.isnan(proj):
            assert np.isnan(readback[i]) and np.isnan(ppl[i])
        else:
            assert readback[i] == pytest.approx(proj, rel=1e-4, abs=1e-5)
            assert ppl[i] == pytest.approx(perplexity, rel=1e-4)
    assert readback[0] == readback[3] and ppl[0] == ppl[3]
    # An untrained model predicts almost uniformly: its perplexity is close to the vocabulary size
    # (here 142-204 for 156 tokens); a log in the wrong base or unnormalised logits would leave this band.
    assert len(tokenizer) / 2 < np.nanmin(ppl) and np.nanmax(ppl) < 2 * len(tokenizer)


def test_scoring_refuses_a_steered_model(tokenizer):
    adapter = adapter_from_hf(tiny_model("llama", len(tokenizer)), tokenizer, backend="nnsight", name="tiny")
    u = torch.ones(adapter.d_model)
    with steering(adapter, u, 0.1, 0, norm=1.0):
        with pytest.raises(InputError, match="unsteered model"):
            readback_and_perplexity(adapter, _sequences(tokenizer), 1, u / u.norm())
    with pytest.raises(InputError, match="read-back direction has 3 values"):
        readback_and_perplexity(adapter, _sequences(tokenizer), 1, torch.ones(3))


def test_vader_scores_are_the_compound_scores():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    texts = ["What a wonderful, happy day!", "This is terrible and I hate it.", "The box is on the table."]
    got = vader_scores(texts + ["", " \n\t"])
    analyzer = SentimentIntensityAnalyzer()
    assert got[:3].tolist() == [analyzer.polarity_scores(t)["compound"] for t in texts]
    assert got[0] > 0.5 and got[1] < -0.5 and got[2] == 0.0
    # an empty continuation has no sentiment: missing, not VADER's neutral 0.0
    assert analyzer.polarity_scores("")["compound"] == 0.0 and np.isnan(got[3]) and np.isnan(got[4])
