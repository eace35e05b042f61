"""The logit lens against a hand computation, a finite difference and a naive full sort; the own-word share."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tiny import tiny_model, tiny_tokenizer

import workbench.lens.head as head
from workbench.analysis.vectors import EmotionVectors
from workbench.lens import form_token_ids, head_lens, own_word_share, vector_logit_lens, wilson
from workbench.models import adapter_from_hf


def _adapter(kind="llama", tok=None):
    tok = tok or tiny_tokenizer()
    return adapter_from_hf(tiny_model(kind, len(tok)).float(), tok, name=f"tiny-{kind}", backend="nnsight")


def _rms_jvp(x, u, g, eps):
    """J u of g * x / sqrt(mean(x^2) + eps), by hand (float64)."""
    d = x.shape[0]
    r = torch.sqrt((x * x).mean() + eps)
    return g * (u / r - x * (x @ u) / (d * r**3))


def test_lens_matches_a_hand_computation_on_a_tiny_llama():
    model = _adapter("llama")
    torch.manual_seed(1)
    m = torch.randn(64, dtype=torch.float64) * 3
    m[5] = 60.0  # a massive activation
    dirs = torch.randn(4, 64, dtype=torch.float64)
    top_i, top_v, bot_i, bot_v = head_lens(model, dirs, m, k=5)
    norm = model.final_norm
    g, eps = norm.weight.detach().double(), norm.variance_epsilon
    w = model.hf_model.lm_head.weight.detach().double()
    for n in range(4):
        u = dirs[n] / dirs[n].norm()
        full = w @ _rms_jvp(m, u, g, eps)
        order = torch.argsort(full, descending=True)
        assert top_i[n].tolist() == order[:5].tolist()
        assert torch.allclose(top_v[n].double(), full[order[:5]], rtol=1e-4, atol=1e-6)
        assert bot_i[n].tolist() == torch.argsort(full)[:5].tolist()
        assert torch.allclose(bot_v[n].double(), full[torch.argsort(full)[:5]], rtol=1e-4, atol=1e-6)


def test_lens_is_the_limit_of_a_finite_difference_on_a_tiny_gemma3(monkeypatch):
    """Gemma's (1 + weight) norm, through the model's own head: (logits(m+hu) - logits(m-hu)) / 2h."""
    model = _adapter("gemma3")
    monkeypatch.setattr(head, "VOCAB_CHUNK", 7)  # the running top-k across many chunks
    torch.manual_seed(2)
    m = torch.randn(64, dtype=torch.float64) * 2
    m[3] = -80.0
    u = torch.randn(64, dtype=torch.float64)
    u = u / u.norm()
    top_i, top_v, _, _ = head_lens(model, u[None], m, k=8)
    h = 1e-3
    with torch.no_grad():
        def logits(x):
            return model.hf_model.lm_head(model.final_norm(x.float()[None, None]))[0, 0].double()
        fd = (logits(m + h * u) - logits(m - h * u)) / (2 * h)
    order = torch.argsort(fd, descending=True)[:8]
    assert set(top_i[0].tolist()) == set(order.tolist())
    assert torch.allclose(top_v[0].double(), fd[top_i[0]], rtol=2e-2, atol=1e-3)


def test_lens_ignores_the_push_along_the_mean_and_the_push_size():
    model = _adapter("llama")
    torch.manual_seed(3)
    m = torch.randn(64, dtype=torch.float64)
    u = torch.randn(64, dtype=torch.float64)
    a = head_lens(model, u[None], m, k=6)
    v = 7 * u + 5 * m  # along m: only a rescale, which the norm undoes
    b = head_lens(model, v[None], m, k=6)
    assert a[0].tolist() == b[0].tolist()
    assert torch.allclose(b[1].double(), a[1].double() * 7 * u.norm() / v.norm(), rtol=1e-3, atol=1e-6)


def test_wilson_interval_matches_the_formula():
    low, high = wilson(10, 100)
    assert low == pytest.approx(0.05522, abs=1e-4) and high == pytest.approx(0.17437, abs=1e-4)
    assert wilson(0, 20)[0] == 0.0


def test_own_word_share_counts_planted_hits_and_the_null_is_calibrated():
    tok = tiny_tokenizer()
    tok.add_tokens(["calm", "sad", "sadness", "angry"])
    emotions = ("calm", "sad", "angry", "hopeful")
    forms = form_token_ids(tok, emotions)
    ids = {w: tok.convert_tokens_to_ids(w) for w in ("calm", "sad", "sadness", "angry")}
    assert forms["sad"] == {ids["sad"], ids["sadness"]} and forms["hopeful"] == frozenset()
    top = np.array([[ids["calm"], 5], [7, ids["sadness"]], [ids["calm"], 9], [ids["angry"], 3]])
    rng = np.random.default_rng(0)
    pool = rng.integers(0, len(tok), size=(400, 2))
    share = own_word_share(emotions, top, pool, forms, k=2, n_sets=2000)
    assert share.hits == ("calm", "sad") and share.share == 0.5 and share.n_eligible == 3
    expected = np.mean([np.isin(pool, list(forms[e])).any(1).mean() for e in emotions])
    assert share.null_mean == pytest.approx(expected, abs=0.01)


def test_vector_logit_lens_on_planted_vectors_finds_their_own_words():
    """Plant each emotion's vector on the (norm-corrected) unembedding of its word: every emotion hits."""
    tok = tiny_tokenizer()
    tok.add_tokens(["calm", "sad", "angry"])
    model = adapter_from_hf(tiny_model("llama", len(tok)).float(), tok, name="tiny", backend="nnsight")
    emotions = ("calm", "sad", "angry")
    w = model.hf_model.lm_head.weight.detach().double()
    g = model.final_norm.weight.detach().double()
    raw = torch.randn(1, 3, 64, dtype=torch.float64) * 0.01
    for e, word in enumerate(emotions):
        raw[0, e] += 50 * w[tok.convert_tokens_to_ids(word)] / g
    vectors = EmotionVectors.from_raw(emotions, (1,), raw)
    lens = vector_logit_lens(model, vectors, 1, k=3, n_random=200, n_sets=500)
    assert lens.own == (True, True, True)
    assert lens.share.share == 1.0 and lens.share.p < 0.01
    assert lens.tokens("sad")[0] == "sad"
    rows = lens.table()
    assert len(rows) == 3 * 2 * 3 and rows[0]["own_form"] is True


def test_logit_lens_saves_and_loads(tmp_path):
    model = _adapter("llama")
    vectors = EmotionVectors.from_raw(("calm", "sad"), (0, 1), torch.randn(2, 2, 64))
    lens = vector_logit_lens(model, vectors, 1, k=4, n_random=50, n_sets=100)
    lens.save(tmp_path)
    back = type(lens).load(tmp_path)
    assert back.emotions == lens.emotions and np.array_equal(back.top_ids, lens.top_ids)
    assert back.share == lens.share and back.table() == lens.table()
    assert (tmp_path / "logit_lens.csv").read_text().count("\n") == 1 + 2 * 2 * 4
