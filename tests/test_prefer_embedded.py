"""The preference question on the embedded SmolLM2 (chat format) and Gemma 3 270M (plain format) (slow)."""

from __future__ import annotations

import pytest
import torch

from workbench.prefer.tournament import FORMATS, answer_ids, ask, build_prompts, choose_format

pytestmark = pytest.mark.slow

TEXTS = ("eat a slice of warm chocolate cake", "be stung by a swarm of angry wasps", "fold a basket of clean laundry")
PAIRS = [(0, 1), (1, 0), (0, 2), (2, 0), (1, 2), (2, 1)]


def _full_gap(model, prompt, ids):
    with torch.no_grad():
        logits = model.hf_model(torch.tensor([prompt.ids])).logits[0, -1].float()
    return float(logits[ids[0]] - logits[ids[1]])


@pytest.mark.parametrize("name", ["smollm2", "embedded"])
def test_two_logit_read_matches_the_full_head_and_prefers_cake(name, request):
    model = request.getfixturevalue(name)
    fmt = FORMATS["plain"] if name == "embedded" else choose_format(model.tokenizer)
    assert fmt.name == ("plain" if name == "embedded" else "chat")
    ids = answer_ids(model.tokenizer, fmt)
    prompts = build_prompts(model.tokenizer, fmt, TEXTS, PAIRS)
    got = ask(model, prompts, ids, batch_size=3)
    for k in (0, 3):
        assert got.gap[k] == pytest.approx(_full_gap(model, prompts[k], ids), abs=1e-3)
    # the cake beats the wasps in logit space averaged over both orders
    assert (got.gap[0] - got.gap[1]) / 2 > 0
    # the activity spans are the activity's tokens
    text = model.tokenizer.decode([prompts[0].ids[t] for t in prompts[0].spans[0]])
    assert text.strip() == TEXTS[0]
