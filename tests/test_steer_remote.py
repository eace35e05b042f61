"""Steered generation as an nnsight trace (the local simulation of NDIF) equals local steering token for token."""

from __future__ import annotations

import pytest
import torch
from test_steer_support import TINY_PROMPTS
from tiny import tiny_model

from workbench.errors import InputError
from workbench.models import adapter_from_hf
from workbench.steer.directions import Direction
from workbench.steer.generation import generate_paired
from workbench.steer.remote import RemoteGeneration
from workbench.steer.settings import SteerSettings
from workbench.steer.steering import steering


@pytest.fixture(scope="module")
def model(tokenizer):
    hf = tiny_model("llama", len(tokenizer))
    with torch.no_grad():  # weights scaled so that the text depends on the prompt and on the steering
        for name, p in hf.named_parameters():
            if "norm" not in name:
                p.mul_(8.0)
    return adapter_from_hf(hf, tokenizer, backend="nnsight", name="tiny-llama")


def _direction(seed=0):
    v = torch.randn(64, generator=torch.Generator().manual_seed(seed))
    return Direction("d", "direction", 1, v / v.norm())


def _paired(model, hook="add_direction", positions="all", top_k=1, alphas=(0.0, 3.0)):
    settings = SteerSettings(layer=1, alphas=alphas, samples=2, max_new_tokens=6, top_k=top_k, hook=hook,
                             positions=positions, share_unsteered=False, batch_size=8)
    gens, _ = generate_paired(model, TINY_PROMPTS, [_direction()], settings, norm=5.0)
    return {(g.alpha, g.prompt_index, g.sample): g.new_ids for g in gens}


def test_add_recipe_equals_local_steering_to_the_token_greedy(model):
    local = _paired(model)
    remote = _paired(RemoteGeneration(model, "local"))
    assert remote == local
    steered = sum(local[(3.0, p, s)] != local[(0.0, p, s)] for p in range(len(TINY_PROMPTS)) for s in range(2))
    assert steered >= len(TINY_PROMPTS)  # the steering changed most continuations: the comparison has teeth


def test_alpha_zero_reproduces_the_unsteered_text(model):
    remote = RemoteGeneration(model, "local")
    enc = model.tokenizer(list(TINY_PROMPTS), return_tensors="pt", padding=True, padding_side="left")
    kw = {"max_new_tokens": 6, "do_sample": False, "num_beams": 1, "pad_token_id": 0, "eos_token_id": [2]}
    plain = model.generate(enc.input_ids, enc.attention_mask, **kw)
    with steering(model, _direction().vector, 0.0, 1, norm=5.0):
        zero = remote.generate(enc.input_ids, enc.attention_mask, **kw)
    assert torch.equal(zero, plain)
    assert torch.equal(remote.generate(enc.input_ids, enc.attention_mask, **kw), plain)  # no steering at all


@pytest.mark.parametrize("hook, positions", [("ablate_direction", "all"), ("clamp_direction", "last"),
                                             ("add_direction", "last")])
def test_other_recipes_and_positions_match_too(model, hook, positions):
    assert _paired(RemoteGeneration(model, "local"), hook, positions, alphas=(0.0, 2.0)) == \
        _paired(model, hook, positions, alphas=(0.0, 2.0))


def test_seeded_sampling_travels_with_the_request(model):
    """Top-k sampling with per-row seeds gives the same draws on the (simulated) server as here."""
    assert _paired(RemoteGeneration(model, "local"), top_k=20, alphas=(0.0, 2.0)) == \
        _paired(model, top_k=20, alphas=(0.0, 2.0))


def test_remote_steering_refusals(model, tokenizer):
    with pytest.raises(InputError, match="remote must be True"):
        RemoteGeneration(model, "yes")
    enc = tokenizer(["the day"], return_tensors="pt")
    with pytest.raises(InputError, match="hosts Hugging Face hub models"):
        RemoteGeneration(model, True).generate(enc.input_ids, enc.attention_mask, max_new_tokens=2)
    tl = adapter_from_hf(tiny_model("llama", len(tokenizer)), tokenizer, backend="transformer_lens", name="tl")
    with pytest.raises(InputError, match="backend='nnsight'"):
        RemoteGeneration(tl, "local").generate(enc.input_ids, enc.attention_mask, max_new_tokens=2)


@pytest.mark.filterwarnings("ignore:Mean of empty slice")  # one sample: a prompt's empty continuations have no VADER score
def test_cli_steer_remote_local_gives_the_local_texts(tmp_path, tokenizer, capsys):
    import csv

    from test_steer_support import make_model_dir, make_run, prompts_file

    from workbench.cli import main

    run = make_run(tmp_path / "run", make_model_dir(tmp_path / "model", tokenizer))
    args = ["steer", str(run), "--layer", "1", "--prompts", str(prompts_file(tmp_path / "p.txt")), "--alphas=0,4",
            "--samples", "1", "--max-new-tokens", "5", "--random-controls", "0", "--top-k", "1", "--dtype", "float32",
            "--bootstrap", "100", "--no-progress"]
    assert main([*args, "--out", str(tmp_path / "local")]) == 0
    assert main([*args, "--out", str(tmp_path / "remote"), "--remote", "local"]) == 0

    def texts(folder):
        return [(r["alpha"], r["prompt_index"], r["text"]) for r in csv.DictReader((folder / "steering.csv").open())]

    assert texts(tmp_path / "remote") == texts(tmp_path / "local") and len(texts(tmp_path / "local")) == 8
    capsys.readouterr()
    assert main([*args, "--out", str(tmp_path / "ndif"), "--remote"]) == 2
    assert "read-back and perplexity scores need the model's hidden states" in capsys.readouterr().err
