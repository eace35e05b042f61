"""The battery: its file and loader, readings on a tiny chat model, planted answers and calibrated nulls."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from tiny import tiny_chat_tokenizer, tiny_llama

from workbench.analysis.vectors import EmotionVectors
from workbench.battery import load_battery, read_battery, score_battery
from workbench.battery.data import Battery, Ladder, Scenario
from workbench.battery.read import chat_readings
from workbench.battery.stats import ladder_stats, rank_rhos, scenario_stats
from workbench.data.forms import names_emotion
from workbench.errors import InputError
from workbench.models import adapter_from_hf

WORDS = "the a and of to in on at is was it he she they day night house room door window hand face eyes water light"
EMOTIONS = ("calm", "sad", "afraid", "angry", "happy", "proud", "lonely", "bored", "hopeful", "tired")


@pytest.fixture(scope="module")
def model():
    tok = tiny_chat_tokenizer()
    return adapter_from_hf(tiny_llama(len(tok), n_layers=3).float(), tok, name="tiny-chat", backend="nnsight")


def _neutral(n=12, length=24, seed=0):
    rng = np.random.default_rng(seed)
    words = WORDS.split()
    return [" ".join(rng.choice(words, length)) for _ in range(n)]


def _battery():
    ladder = Ladder("cold", "afraid", "the water was {value} and the night was dark", ("1", "2", "3", "4", "5", "6"), 1)
    scenarios = tuple(Scenario(t, ({"role": "user", "content": c},), 2 + i, f"s{i}") for i, (t, c) in enumerate([
        ("sad", "the old house was dark at night"), ("happy", "the light in the room was warm"),
        ("lonely", "he was in the house and no one was at the door")]))
    return Battery((ladder,), scenarios, "test")


# ---------------------------------------------------------------- the project's battery file

def test_the_project_battery_has_its_ladders_and_scenarios_and_never_names_a_target():
    b = load_battery()
    assert len(b.ladders) >= 8 and all(len(x.values) == 6 for x in b.ladders)
    assert len(b.scenarios) >= 24
    assert len({x.name for x in b.ladders}) == len(b.ladders)
    for s in b.scenarios:
        assert s.messages[-1]["role"] == "user"
        assert not any(names_emotion(m["content"], s.target) for m in s.messages), s
    for x in b.ladders:
        assert not any(names_emotion(x.template.replace("{value}", v), x.target) for v in x.values)


# ---------------------------------------------------------------- loader errors name the line

@pytest.mark.parametrize("row, excerpt", [
    ({"name": "a", "template": "I owe {value}", "values": [1, 2]}, "line 2: missing or empty 'target'"),
    ({"name": "a", "target": "glad-ish", "template": "I owe {value}", "values": [1, 2]},
     "line 2: unknown target emotion 'glad-ish'"),
    ({"name": "a", "target": "worried", "template": "I owe money", "values": [1, 2]},
     "line 2: ladder 'a': the template has no {value} placeholder"),
    ({"name": "a", "target": "worried", "template": "I owe {value}", "values": [1]},
     "line 2: ladder 'a': 'values' must be a list of at least 2 rungs"),
    ({"target": "sad", "messages": [{"role": "robot", "content": "hi"}]},
     "line 2: transcript 2, message 0: unknown role 'robot'"),
    ({"target": "sad", "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]},
     "line 2: a scenario must end with a user message"),
    ({"target": "sad", "text": "I feel so sad and sadly alone today"}, "line 2: names its target emotion 'sad' ('sad', 'sadly')"),
    ({"target": "sad"}, "line 2: neither a ladder"),
])
def test_battery_loader_refuses_bad_rows_naming_the_line(tmp_path, row, excerpt):
    good = {"target": "calm", "text": "the lake is still"}
    path = tmp_path / "b.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps(row) + "\n")
    with pytest.raises(InputError) as info:
        load_battery(path)
    assert excerpt in str(info.value) and str(path) in str(info.value)


def test_a_text_scenario_is_one_user_message(tmp_path):
    path = tmp_path / "b.jsonl"
    path.write_text(json.dumps({"target": "calm", "text": "the lake is still"}) + "\n")
    assert load_battery(path).scenarios[0].messages == ({"role": "user", "content": "the lake is still"},)


# ---------------------------------------------------------------- readings

def test_readings_are_the_last_user_token_and_the_generation_prompt(model):
    tok = model.tokenizer
    ids, last, opening = chat_readings(tok, [{"role": "user", "content": "the day was cold"}], "row")
    pieces = tok.convert_ids_to_tokens(ids)
    assert pieces[last] == "cold" and pieces[last + 1] == "<|im_end|>"
    # the tiny tokenizer drops the newlines: <|im_end|> closes the user turn, then the generation prompt
    assert [pieces[i] for i in opening] == ["<|im_start|>", "as", "s", "is", "t", "an", "t"]
    assert opening == list(range(last + 2, len(ids)))


def test_read_battery_equals_a_hand_forward_pass(model):
    b = _battery()
    states = read_battery(model, b, 1, neutral_texts=_neutral())
    messages = b.ladders[0].messages(3)
    ids, last, opening = chat_readings(model.tokenizer, messages, "x")
    with torch.no_grad():
        out = model.hf_model(torch.tensor([ids]), output_hidden_states=True).hidden_states[2][0].double()
    assert np.allclose(states.user_last[3], out[last].numpy(), atol=1e-5)
    assert np.allclose(states.opening[3], out[opening].mean(0).numpy(), atol=1e-5)
    assert len(states.items) == 6 + 3 and states.n_opening[0] == len(opening)


# ---------------------------------------------------------------- planted answers

def _vectors(contrast: np.ndarray, layer: int) -> EmotionVectors:
    t = torch.as_tensor(contrast[None], dtype=torch.float32)
    return EmotionVectors(EMOTIONS, (layer,), t.clone(), t.clone())


def test_a_planted_ladder_direction_gives_rho_one_and_a_small_p(model):
    states = read_battery(model, _battery(), 1, neutral_texts=_neutral())
    rng = np.random.default_rng(0)
    contrast = rng.standard_normal((len(EMOTIONS), model.d_model))
    rungs = np.arange(6.0)
    a = np.concatenate([states.user_last[:6], states.opening[:6]])
    a = a - a.mean(axis=0)
    y = np.concatenate([rungs, rungs]) - rungs.mean()
    contrast[EMOTIONS.index("afraid")] = np.linalg.lstsq(a, y, rcond=None)[0]  # projection = rung, exactly
    result = score_battery(states, _vectors(contrast, 1), n_random=2000, n_sets=500)
    for reading in ("user_last", "opening"):
        s = result.ladder("cold", reading)
        assert s["rho"] == pytest.approx(1.0)
        assert s["p"] < 0.01 and s["rank_among_emotions"] == 1
        assert np.all(np.diff(s["target_z"]) > 0)


def test_a_planted_scenario_direction_ranks_first(model):
    states = read_battery(model, _battery(), 1, neutral_texts=_neutral(n=20))
    rng = np.random.default_rng(1)
    contrast = rng.standard_normal((len(EMOTIONS), model.d_model))
    inv = np.linalg.pinv(states.neutral_cov)
    for i, it in enumerate(states.items):
        if it["kind"] == "scenario":  # the direction of largest z for that reading
            contrast[EMOTIONS.index(it["target"])] = inv @ (states.user_last[i] - states.neutral_mean)
    result = score_battery(states, _vectors(contrast, 1), n_random=500, n_sets=500)
    top = result.summary["scenarios"]["user_last"]
    assert top["ranks"] == [1, 1, 1] and top["top1"]["rate"] == 1.0 and top["top3"]["hits"] == 3
    assert top["top1"]["p_chance"] == pytest.approx((1 / len(EMOTIONS)) ** 3)  # binomial: all 3 hit


# ---------------------------------------------------------------- the nulls are calibrated

def test_random_directions_give_rho_centred_on_zero_and_uniform_p(model):
    states = read_battery(model, _battery(), 1, neutral_texts=_neutral())
    rng = np.random.default_rng(2)
    readings = states.user_last[:6]
    random_units = rng.standard_normal((1000, model.d_model))
    random_units /= np.linalg.norm(random_units, axis=1, keepdims=True)
    null = rank_rhos(readings @ random_units.T)
    assert abs(null.mean()) < 0.06 and null.std() > 0.2
    ps = []
    for _ in range(300):  # a "target" that is itself a random direction: its p must be uniform
        units = rng.standard_normal((3, model.d_model))
        units /= np.linalg.norm(units, axis=1, keepdims=True)
        ps.append(ladder_stats(readings, 0, units, random_units)["p"])
    ps = np.array(ps)
    assert 0.02 <= np.mean(ps <= 0.05) <= 0.09  # binomial(300, 0.05): sd 0.013
    assert 0.4 <= np.mean(ps <= 0.5) <= 0.6


def test_the_scenario_null_is_calibrated_when_targets_are_random():
    """Emotion z-scores and random-direction z-scores from one distribution: top-3 p is uniform."""
    rng = np.random.default_rng(3)
    ps, chance = [], []
    for _ in range(300):
        z = rng.standard_normal((24, 40))
        z_random = rng.standard_normal((24, 400))
        out = scenario_stats(z, list(rng.integers(40, size=24)), z_random, 400, rng)
        ps.append(out["top3"]["p"])
        assert abs(out["top3"]["null_mean"] - 3 / 40) < 0.03
        chance.append(out["top3"]["p_chance"])
    ps, chance = np.array(ps), np.array(chance)
    assert np.mean(ps <= 0.05) <= 0.09 and np.mean(ps <= 0.5) >= 0.35
    assert np.mean(chance <= 0.05) <= 0.09  # the binomial reference is calibrated (conservative) too


def test_battery_result_saves_and_loads(model, tmp_path):
    states = read_battery(model, _battery(), 1, neutral_texts=_neutral())
    contrast = np.random.default_rng(4).standard_normal((len(EMOTIONS), model.d_model))
    result = score_battery(states, _vectors(contrast, 1), n_random=100, n_sets=100)
    result.save(tmp_path)
    back = type(result).load(tmp_path)
    assert back.summary == json.loads(json.dumps(result.summary))
    assert len(back.rows) == 2 * 9 and back.rows[0]["reading"] == "user_last"
    assert json.loads((tmp_path / "manifest.json").read_text())["battery"]["layer"] == 1


def test_a_target_without_a_vector_is_refused(model):
    states = read_battery(model, _battery(), 1, neutral_texts=_neutral())
    small = EmotionVectors(("calm", "sad"), (1,), torch.randn(1, 2, model.d_model), torch.randn(1, 2, model.d_model))
    with pytest.raises(InputError, match=r"target emotion\(s\) \['afraid', 'happy', 'lonely'\] have no vector"):
        score_battery(states, small)
