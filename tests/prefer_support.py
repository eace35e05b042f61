"""A preference result from planted logit gaps, without a model (no tests here)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from workbench.prefer.activities import Activities
from workbench.prefer.experiment import Condition
from workbench.prefer.settings import PreferSettings
from workbench.prefer.stats import order_pairs, pair_design

GROUPS = ("pleasant",) * 3 + ("neutral",) * 2 + ("unpleasant",) * 3


def planted_result(push: float = 0.5, seed: int = 0):
    """8 activities with strengths by group; ``valence +1`` adds ``push`` to the pleasant ones' logits (and
    ``-1`` removes it); the random control changes nothing. The projection on valence is the strength."""
    from workbench.prefer.result import summarize

    rng = np.random.default_rng(seed)
    theta = np.array([1.5, 1.0, 0.8, 0.1, -0.1, -0.9, -1.2, -1.6])
    acts = Activities(tuple(f"activity {k}" for k in range(8)), GROUPS, ("c",) * 8, "planted")
    settings = PreferSettings(layer=1, directions="valence", random_controls=1, alphas=(-1.0, 1.0), bootstrap=200,
                              permutations=500, pairs=0)
    directions = (SimpleNamespace(name="valence", kind="direction"), SimpleNamespace(name="random0", kind="control"))
    conditions = [Condition("unsteered", "unsteered", "none", 0.0)]
    for d in directions:
        for a in settings.alphas:
            conditions.append(Condition(f"{d.name} {a:+g}", d.kind, d.name, a, (1,), ()))
    plan = SimpleNamespace(settings=settings, activities=acts, conditions=tuple(conditions), directions=directions)
    ordered = order_pairs(pair_design(8, 0, 0))
    pleasant = np.array([g == "pleasant" for g in GROUPS], dtype=float)

    def gaps(extra):
        t = theta + extra * pleasant
        return np.array([t[a] - t[b] + 0.7 for a, b in ordered]) + rng.normal(0, 0.05, len(ordered))

    all_gaps = {"unsteered": gaps(0.0), "valence -1": gaps(-push), "valence +1": gaps(push),
                "random0 -1": gaps(0.0), "random0 +1": gaps(0.0)}
    projections = np.zeros((len(ordered), 2, 2))
    for k, (a, b) in enumerate(ordered):
        projections[k, 0] = [theta[a], rng.normal()]
        projections[k, 1] = [theta[b], rng.normal()]
    info = {"layer": 1, "format": "plain", "template": "{a} or {b}", "answers": [" A", " B"], "norm": 3.0,
            "n_prompts": len(ordered), "prompt_tokens": 100, "seconds": 1.0, "tokens_per_s": 100.0,
            "settings": settings.to_dict(), "made_from": None, "condition_seconds": {}}
    return summarize(plan, ordered, all_gaps, projections, {}, info)
