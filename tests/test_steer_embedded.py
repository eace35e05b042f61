"""Steering the embedded Gemma 3 270M (slow): paired seeds and scores on the real model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from workbench.steer import SteerSettings, random_directions
from workbench.steer.directions import Direction
from workbench.steer.generation import generate_paired
from workbench.steer.prompts import load_prompts
from workbench.steer.scoring import readback_and_perplexity

pytestmark = pytest.mark.slow


def test_paired_generation_and_scores_on_the_embedded_model(embedded):
    prompts = load_prompts()[:2]
    g = torch.Generator().manual_seed(0)
    v = torch.randn(embedded.d_model, generator=g)
    dirs = (Direction("probe", "direction", 6, v / v.norm()),) + random_directions(embedded.d_model, 1, 0, 6)
    settings = SteerSettings(layer=6, alphas=(-0.1, 0.0, 0.1), samples=2, max_new_tokens=8, random_controls=1,
                             share_unsteered=False, bootstrap=100)
    gens, info = generate_paired(embedded, prompts, dirs, settings, norm=3500.0, threads=1)
    zero = {}
    for gen in gens:
        if gen.alpha == 0.0:
            zero.setdefault((gen.prompt_index, gen.sample), set()).add(gen.new_ids)
    assert len(zero) == 4 and all(len(v) == 1 for v in zero.values())
    moved = [gen for gen in gens if gen.alpha == 0.1 and gen.direction == "probe"]
    assert any(gen.new_ids != next(iter(zero[(gen.prompt_index, gen.sample)])) for gen in moved)
    unsteered = [gen for gen in gens if gen.alpha == 0.0 and gen.direction == "probe"]
    readback, ppl = readback_and_perplexity(embedded, [(u.prompt_ids, u.new_ids) for u in unsteered], 9,
                                            dirs[0].vector)
    assert np.isfinite(readback).all()
    # sampled text from the model itself: perplexity well above 1 and far below the vocabulary size
    assert np.all((ppl > 1.0) & (ppl < 1000.0)), ppl
    assert info["new_tokens"] > 0
