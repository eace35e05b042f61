"""The logit lens and the battery's readings on the embedded models (slow)."""

from __future__ import annotations

import pytest
import torch

from workbench.battery.read import chat_readings
from workbench.lens import head_lens

pytestmark = pytest.mark.slow


def test_gemma_lens_equals_a_hand_jacobian_over_the_whole_vocabulary(embedded):
    """Gemma's (1 + w) RMSNorm Jacobian by hand, times the full 262k-row unembedding, sorted naively."""
    torch.manual_seed(0)
    d = embedded.d_model
    m = torch.randn(d, dtype=torch.float64) * 5
    m[torch.randint(d, (2,))] = 400.0  # massive activations
    dirs = torch.randn(2, d, dtype=torch.float64)
    top_i, top_v, bot_i, _ = head_lens(embedded, dirs, m, k=10)
    norm = embedded.final_norm
    g, eps = 1 + norm.weight.detach().double(), norm.eps
    r = torch.sqrt((m * m).mean() + eps)
    w = embedded.hf_model.get_output_embeddings().weight.detach()  # float32: no 262k x 640 copy
    assert w.shape[0] > 200_000
    for n in range(2):
        u = dirs[n] / dirs[n].norm()
        full = (w @ (g * (u / r - m * (m @ u) / (d * r**3))).float()).double()
        order = torch.argsort(full, descending=True)
        assert top_i[n].tolist() == order[:10].tolist()
        assert torch.allclose(top_v[n].double(), full[order[:10]], rtol=1e-4, atol=1e-7)
        assert bot_i[n].tolist() == torch.argsort(full)[:10].tolist()


@pytest.mark.parametrize("fixture, opening", [("embedded", ["<start_of_turn>", "model", "\n"]),
                                              ("smollm2", ["<|im_start|>", "ass", "istant", "\n"])])
def test_the_opening_is_the_generation_prompt_of_each_embedded_model(request, fixture, opening):
    model = request.getfixturevalue(fixture)
    tok = model.tokenizer
    ids, last, positions = chat_readings(tok, [{"role": "user", "content": "I owe $400."}], "row")
    assert [tok.decode([ids[i]]) for i in positions] == opening
    assert tok.decode([ids[last]]).strip() == "." and positions[-1] == len(ids) - 1
