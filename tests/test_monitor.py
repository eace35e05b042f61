"""The monitor: per-token z-scores equal a hand computation from HF hidden states; batching, spans, results."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_chat import TRANSCRIPT
from tiny import tiny_chat_tokenizer, tiny_llama

import workbench as wb
from workbench.analysis import EmotionVectors
from workbench.data.chat import render_chat
from workbench.errors import InputError
from workbench.models import adapter_from_hf
from workbench.monitor import MonitorResult

EMOTIONS = ("afraid", "calm", "happy", "sad", "angry")
NEUTRAL = ["the house had a door and a window", "the water was cold at night in the room",
           "a man and a woman had a long day"]
LAYER = 1


@pytest.fixture(scope="module")
def setup():
    tok = tiny_chat_tokenizer()
    model = adapter_from_hf(tiny_llama(len(tok), n_layers=3), tok, name="tiny-chat", backend="nnsight")
    raw = torch.randn(3, len(EMOTIONS), model.d_model, generator=torch.Generator().manual_seed(1))
    return model, EmotionVectors.from_raw(EMOTIONS, (0, 1, 2), raw)


def _hf_hidden(model, ids):
    x = torch.tensor([ids])
    with torch.no_grad():
        return model.hf_model(x, attention_mask=torch.ones_like(x), output_hidden_states=True).hidden_states[LAYER + 1][0]


def _units(vectors):
    v = vectors.contrast[vectors.layer_index(LAYER)].double()
    return v / v.norm(dim=1, keepdim=True)


def _hand_z(model, vectors, ids):
    units = _units(vectors)
    neutral = torch.cat([_hf_hidden(model, model.tokenizer(t).input_ids)[1:].double() for t in NEUTRAL]) @ units.T
    mean, sd = neutral.mean(0), neutral.std(0)
    return ((_hf_hidden(model, ids)[1:].double() @ units.T - mean) / sd).numpy(), mean.numpy(), sd.numpy()


def test_transcript_equals_hand_computation(setup):
    model, vectors = setup
    result = wb.monitor(model, vectors, TRANSCRIPT, LAYER, neutral_texts=NEUTRAL)
    chat = render_chat(model.tokenizer, TRANSCRIPT)
    z, mean, sd = _hand_z(model, vectors, list(chat.ids))
    got = result.text(0)
    assert got.z.shape == (len(chat.ids) - 1, len(EMOTIONS))
    np.testing.assert_allclose(got.z, z, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(result.neutral_mean, mean, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(result.neutral_sd, sd, rtol=1e-5, atol=1e-5)
    assert got.message == chat.message[1:] and got.roles == chat.roles[1:]
    assert "".join(got.tokens) == chat.text[len("<|im_start|>"):].rstrip()  # the tiny tokenizer drops whitespace
    assert result.info["neutral_tokens"] == sum(len(model.tokenizer(t).input_ids) - 1 for t in NEUTRAL)
    # per-message means and the top-k by hand
    for m, row in enumerate(result.message_means()):
        pos = [i for i in range(len(got.message)) if got.message[i] == m]
        np.testing.assert_allclose([row[e] for e in EMOTIONS], z[pos].mean(0), rtol=1e-5, atol=1e-5)
        assert row["role"] == TRANSCRIPT[m]["role"]
    top = result.top_k(2)
    for i in range(len(top)):
        assert [e for e, _ in top[i]] == [EMOTIONS[j] for j in np.argsort(-z[i])[:2]]


def test_batched_inputs_equal_one_at_a_time(setup):
    model, vectors = setup
    items = [TRANSCRIPT, "the old man opened the door", TRANSCRIPT[1:3]]
    together = wb.monitor(model, vectors, items, LAYER, neutral_texts=NEUTRAL, max_tokens_per_batch=10_000)
    assert [t.label for t in together.texts] == ["text 1", "text 2", "text 3"]
    for i, item in enumerate(items):
        alone = wb.monitor(model, vectors, item, LAYER, neutral_texts=NEUTRAL)
        np.testing.assert_allclose(together.text(i).z, alone.text(0).z, rtol=1e-5, atol=1e-5)
    assert together.text(1).roles == ("text",) * len(together.text(1).tokens)


def test_a_planted_direction_lights_up(setup):
    """A vector along a token's own residual gives that token the highest z of the transcript."""
    model, vectors = setup
    ids = list(render_chat(model.tokenizer, TRANSCRIPT).ids)
    h = _hf_hidden(model, ids)
    target = 12
    raw = vectors.raw.clone()
    raw[LAYER, 0] = h[target] - h[1:].mean(0)
    planted = EmotionVectors.from_raw(EMOTIONS, vectors.layers, raw)
    result = wb.monitor(model, planted, TRANSCRIPT, LAYER, neutral_texts=NEUTRAL, kind="raw", emotions=["afraid"])
    assert int(np.argmax(result.series("afraid"))) == target - 1


def test_save_load_and_html(setup, tmp_path):
    model, vectors = setup
    result = wb.monitor(model, vectors, [TRANSCRIPT, "the day"], LAYER, neutral_texts=NEUTRAL)
    back = MonitorResult.load(result.save(tmp_path))
    assert back.emotions == result.emotions and back.layer == LAYER
    np.testing.assert_allclose(back.text(0).z, result.text(0).z, atol=1e-6)
    assert back.text(0).messages == result.text(0).messages and back.valence == result.valence
    html = result._repr_html_()
    assert "<table>" in html and "assistant" in html
    # emotions ordered by valence for the figures
    v = dict(zip(result.emotions, result.valence))
    order = [result.emotions[i] for i in result.valence_order()]
    assert [v[e] for e in order] == sorted(v.values())


def test_figures(setup):
    from workbench.figures import monitor_heatmap, monitor_lines

    model, vectors = setup
    result = wb.monitor(model, vectors, TRANSCRIPT, LAYER, neutral_texts=NEUTRAL)
    fig = monitor_heatmap(result)
    heat = fig.data[0]
    assert list(heat.y) == [result.emotions[i] for i in result.valence_order()]
    np.testing.assert_allclose(np.asarray(heat.z), result.text(0).z[:, result.valence_order()].T)
    assert heat.zmid == 0 and heat.zmin == -heat.zmax
    assert "%{customdata}" in heat.hovertemplate and "%{z:.2f}" in heat.hovertemplate  # token and value
    assert heat.customdata[0][0] == f"{result.text(0).tokens[0]!r} (None)".replace("(None)", "(template)")
    lines = monitor_lines(result, ["happy", "sad"])
    assert [t.name for t in lines.data] == ["happy", "sad"]
    np.testing.assert_allclose(lines.data[1].y, result.series("sad"))


@pytest.mark.parametrize(("item", "match"), [
    ("", "monitor: text 0 is shorter than one token"),
    ([{"role": "user", "content": "hi"}, {"role": "bot", "content": "x"}], "transcript 0, message 1: unknown role 'bot'"),
    (42, "monitor: input 0 is a int, not a text or a chat transcript"),
])
def test_bad_inputs(setup, item, match):
    model, vectors = setup
    with pytest.raises(InputError, match=match):
        wb.monitor(model, vectors, [item], LAYER, neutral_texts=NEUTRAL)


def test_unknown_emotion_and_layer(setup):
    model, vectors = setup
    with pytest.raises(InputError, match="unknown emotion 'glad'"):
        wb.monitor(model, vectors, "the day", LAYER, emotions=["glad"], neutral_texts=NEUTRAL)
    with pytest.raises(InputError, match="layer 7 is out of range"):
        wb.monitor(model, vectors, "the day", 7, neutral_texts=NEUTRAL)
