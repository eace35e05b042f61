"""Paired generation on a tiny model: per-row seeded sampling, alpha 0 = unsteered, positions, norms, cleanup."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_steer_support import TINY_PROMPTS
from tiny import tiny_model

from workbench.errors import RecipeError
from workbench.models import adapter_from_hf
from workbench.steer import SteerSettings, random_directions, residual_norm, steering
from workbench.steer.directions import Direction
from workbench.steer.generation import RowSampler, generate_paired, sampling_seed
from workbench.steer.prompts import load_prompts

BACKENDS = ["transformer_lens", "nnsight"]


@pytest.fixture(params=BACKENDS)
def adapter(request, tokenizer):
    return adapter_from_hf(tiny_model("llama", len(tokenizer)), tokenizer, backend=request.param, name="tiny")


def _directions(d_model, n_controls=2):
    g = torch.Generator().manual_seed(11)
    v = torch.randn(d_model, generator=g)
    return (Direction("valence", "direction", 1, v / v.norm()),) + random_directions(d_model, n_controls, 4, 1)


def _settings(**kw):
    base = dict(layer=1, alphas=(-2.0, 0.0, 2.0), samples=2, max_new_tokens=8, random_controls=2, batch_size=3,
                share_unsteered=False, bootstrap=100)
    return SteerSettings(**{**base, **kw})


def test_row_sampler_draws_from_the_top_k_softmax():
    logits = torch.tensor([[2.0, 1.0, 0.5, -1.0, 3.0, -5.0]])
    sampler = RowSampler([123], top_k=4, temperature=0.7)
    n = 6000
    picks = [int(sampler(None, logits).argmax()) for _ in range(n)]
    counts = np.bincount(picks, minlength=6)
    top = [4, 0, 1, 2]
    p = torch.softmax(logits[0, top] / 0.7, dim=0).double().numpy()
    assert counts[3] == 0 and counts[5] == 0  # outside the top 4
    sd = np.sqrt(n * p * (1 - p))
    assert np.all(np.abs(counts[top] - n * p) < 4 * sd)
    out = RowSampler([1], 2, 1.0)(None, logits)
    assert torch.isfinite(out).sum() == 1 and out.max() == 0


def test_a_rows_draws_do_not_depend_on_the_batch():
    rng = torch.Generator().manual_seed(0)
    scores = torch.randn(3, 50, generator=rng)
    together = RowSampler([7, 8, 9], 10, 1.0)
    alone = RowSampler([8], 10, 1.0)
    for _ in range(20):
        assert together(None, scores).argmax(-1)[1] == alone(None, scores[1:2]).argmax(-1)[0]


def test_sampling_seeds_are_per_prompt_and_sample():
    seeds = {sampling_seed(0, p, s) for p in range(10) for s in range(10)}
    assert len(seeds) == 100 and sampling_seed(0, 3, 4) == sampling_seed(0, 3, 4) != sampling_seed(1, 3, 4)


def test_alpha_zero_is_the_unsteered_text_for_every_direction(adapter):
    dirs = _directions(adapter.d_model)
    gens, info = generate_paired(adapter, TINY_PROMPTS, dirs, _settings(), norm=8.0)
    assert len(gens) == 3 * 3 * len(TINY_PROMPTS) * 2 and info["generated_texts"] == len(gens)
    zero = {}
    for g in gens:
        if g.alpha == 0.0:
            zero.setdefault((g.prompt_index, g.sample), set()).add(g.new_ids)
    assert all(len(v) == 1 for v in zero.values())
    # and it is what the unsteered model samples with the same seed
    enc = adapter.tokenizer([TINY_PROMPTS[2]], return_tensors="pt")
    plain = adapter.generate(enc["input_ids"], enc["attention_mask"], max_new_tokens=8, do_sample=False,
                             logits_processor=[RowSampler([sampling_seed(0, 2, 1)], 50, 1.0)], pad_token_id=0,
                             eos_token_id=[2])
    new = tuple(plain[0, enc["input_ids"].shape[1]:].tolist())
    assert zero[(2, 1)] == {new[:new.index(2)] if 2 in new else new}
    # steering by 2 norms changes the texts; the samples of one prompt differ
    steered = {(g.direction, g.prompt_index, g.sample): g.new_ids for g in gens if g.alpha == 2.0}
    assert sum(steered[("valence", p, s)] != next(iter(zero[(p, s)])) for p, s in zero) >= len(zero) // 2
    assert len({next(iter(zero[(p, s)])) for p, s in zero}) > len(TINY_PROMPTS)


def test_sharing_alpha_zero_gives_the_same_table(adapter):
    dirs = _directions(adapter.d_model)
    a, info_a = generate_paired(adapter, TINY_PROMPTS, dirs, _settings(), norm=8.0)
    b, info_b = generate_paired(adapter, TINY_PROMPTS, dirs, _settings(share_unsteered=True), norm=8.0)
    assert [(g.direction, g.alpha, g.prompt_index, g.sample, g.new_ids, g.text) for g in a] == \
           [(g.direction, g.alpha, g.prompt_index, g.sample, g.new_ids, g.text) for g in b]
    assert info_b["generated_texts"] == info_a["generated_texts"] - 2 * len(TINY_PROMPTS) * 2


def test_an_error_during_generation_leaves_no_hook(adapter, tmp_path):
    recipe = tmp_path / "explode.py"
    recipe.write_text("def make_hook(direction, scale):\n    def hook(h):\n        raise RuntimeError('boom')\n"
                      "    return hook\n")
    with pytest.raises(RecipeError, match="explode.py raised an error in its hook") as info:
        generate_paired(adapter, TINY_PROMPTS, _directions(adapter.d_model), _settings(hook=str(recipe)), norm=1.0)
    assert str(info.value).count("raise RuntimeError('boom')") == 1 and "RuntimeError: boom" in str(info.value)
    assert adapter.active_interventions == ()


def _blocks(adapter, texts=TINY_PROMPTS[:2]):
    enc = adapter.tokenizer(list(texts), return_tensors="pt", padding=True, padding_side="left")
    got = {}
    adapter.run_blocks(enc["input_ids"], enc["attention_mask"], lambda layer, h: got.__setitem__(layer, h.clone()))
    return got


def test_positions_last_steers_only_the_last_position(adapter):
    u = _directions(adapter.d_model)[0].vector
    base = _blocks(adapter)
    with steering(adapter, u, 0.5, 1, positions="last", norm=4.0):
        last = _blocks(adapter)
    shift = last[1] - base[1]
    torch.testing.assert_close(shift[:, -1], (2.0 * u).expand(2, -1), rtol=1e-5, atol=1e-5)
    assert shift[:, :-1].abs().max() == 0
    with pytest.raises(Exception, match="positions must be one of"):
        with steering(adapter, u, 0.5, 1, positions="first", norm=4.0):
            pass


def test_norm_none_runs_a_calibration_pass_on_the_default_prompts(adapter):
    u = _directions(adapter.d_model)[0].vector
    expected = residual_norm(adapter, load_prompts(), 2)
    base = _blocks(adapter)
    with steering(adapter, u, 0.1, 2):
        moved = _blocks(adapter)
    torch.testing.assert_close(moved[2] - base[2], (0.1 * expected * u).expand_as(base[2]), rtol=1e-4, atol=1e-4)


def test_a_hook_factory_can_be_passed_directly(adapter):
    u = _directions(adapter.d_model)[0].vector
    base = _blocks(adapter)
    with steering(adapter, u, 0.5, 0, norm=2.0, hook=lambda d, scale: (lambda h: h * (1 + scale))):
        doubled = _blocks(adapter)
    torch.testing.assert_close(doubled[0], 2.0 * base[0])
    assert adapter.active_interventions == ()
