"""A logit lens and a battery result for a run folder's vectors, computed on a tiny chat model (d_model 64)."""

from __future__ import annotations

from tiny import tiny_chat_tokenizer, tiny_llama

from workbench.battery import read_battery, score_battery
from workbench.battery.data import Battery, Ladder, Scenario
from workbench.lens import vector_logit_lens
from workbench.models import adapter_from_hf

NEUTRAL = ["the water of the house was cold at night and the light was on in the room",
           "the old man had a hand on the door of the house and the child was at the window"] * 3


def tiny_chat_model():
    tok = tiny_chat_tokenizer()
    return adapter_from_hf(tiny_llama(len(tok), n_layers=3).float(), tok, name="tiny-chat", backend="nnsight")


def save_lens_and_battery(vectors, folder, layer: int = 1):
    """Compute both for ``vectors`` (width 64) with the tiny chat model and save them into ``folder``."""
    model = tiny_chat_model()
    vector_logit_lens(model, vectors, layer, k=5, n_random=40, n_sets=200).save(folder)
    e = vectors.emotions
    battery = Battery((Ladder("days", e[0], "the day was {value} and cold", ("1", "2", "3", "4"), 1),),
                      (Scenario(e[1], ({"role": "user", "content": "the house was dark at night"},), 2, "dark"),
                       Scenario(e[2], ({"role": "user", "content": "the light was warm"},), 3, "warm")), "test")
    states = read_battery(model, battery, layer, neutral_texts=NEUTRAL)
    return score_battery(states, vectors, n_random=60, n_sets=200).save(folder)
