"""A preference experiment: plan it from an analysed run folder, run its tournaments, summarize.

``prepare_prefer(run_dir, settings)`` checks every input before a model is loaded (layer, direction
names, activities, the run's vectors, analysis and activations) and resolves the steered directions,
the random controls of equal norm (unit vectors; the push is ``alpha x norm`` for every direction),
the layer's per-token norm (``token-mean``, as ``workbench steer``) and, for ``--ablate``, the valence
direction found at each layer from ``--layer`` on. ``run_prefer(model, plan)`` runs:

1. the unsteered tournament, reading each activity's mean block output at the layer on every direction;
2. one tournament per steered direction and alpha (the same pairs, both orders);
3. with ``ablate``: the valence direction ablated (``hooks/ablate_direction.py``) at the layer, and at
   every analysed layer from it on (each layer's own valence direction), beside random unit directions
   ablated at the same layers, each with the perplexity of neutral texts.

Logits are deterministic (nothing is sampled), so the conditions are paired by construction.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from workbench.errors import InputError, SettingError
from workbench.prefer.activities import Activities
from workbench.prefer.settings import PreferSettings

__all__ = ["PreferPlan", "Condition", "prepare_prefer", "run_prefer", "PREFER_STAGES"]

PREFER_STAGES = ("collect", "vectors", "analysis")


@dataclass(frozen=True, eq=False)
class Condition:
    """One tournament: ``name``, ``kind`` (unsteered, direction, control, ablation, ablation-control),
    the ``direction`` name, ``alpha``, and ``layers``/``vectors`` of the intervention (none: unsteered)."""

    name: str
    kind: str
    direction: str
    alpha: float
    layers: tuple[int, ...] = ()
    vectors: tuple[torch.Tensor, ...] = ()
    hook: str = "add_direction"


@dataclass(frozen=True, eq=False)
class PreferPlan:
    run_dir: Path
    settings: PreferSettings
    activities: Activities
    directions: tuple  # steered Direction objects, then the random controls
    conditions: tuple[Condition, ...]
    norms: dict  # layer -> per-token norm
    model: dict
    n_model_layers: int
    made_from: dict | None


def _control(acts, L: int, seed: int, orthogonal: bool) -> torch.Tensor:
    """A random unit direction at block ``L`` (``orthogonal``: orthogonal to the mean residual of the run's texts)."""
    from workbench.steer.directions import random_directions

    v = random_directions(acts.d_model, 1, seed + 1000 + L, L)[0].vector.double()
    if orthogonal:
        if L not in acts.layers:
            raise SettingError(f"ablation_control orthogonal: layer {L} was not collected in this run",
                               "ablation_control")
        m = acts.means[:, acts.layers.index(L)].double().mean(dim=0)
        m = m / m.norm()
        v = v - (v @ m) * m
    return (v / v.norm()).float()


def _ablations(report, acts, layer: int, seed: int, orthogonal: bool) -> list[Condition]:
    from workbench.steer.directions import valence_direction

    later = [L for L in report.layers if L >= layer]
    out = []
    for name, layers in ((f"L{layer}", (layer,)), (f"L{layer}-{later[-1]}", tuple(later))):
        valence = tuple(valence_direction(report, L) for L in layers)
        rand = tuple(_control(acts, L, seed, orthogonal) for L in layers)
        out.append(Condition(f"ablate valence {name}", "ablation", "valence", 1.0, layers, valence,
                             "ablate_direction"))
        out.append(Condition(f"ablate random {name}", "ablation-control", "random", 1.0, layers, rand,
                             "ablate_direction"))
    return out


def prepare_prefer(run_dir: str | Path, settings: PreferSettings) -> PreferPlan:
    """Check the run folder and the settings, resolve directions, norms and conditions (no model needed)."""
    from workbench.analysis.report import GeometryReport
    from workbench.analysis.vectors import EmotionVectors
    from workbench.collect.activations import StoryActivations
    from workbench.io import read_json
    from workbench.prefer.activities import load_activities
    from workbench.runfolder import stamp
    from workbench.runfolder.layers import analysed_layers, check_layer
    from workbench.steer.directions import random_directions, resolve_direction, token_norm

    if not isinstance(settings, PreferSettings):
        raise InputError(f"settings must be a PreferSettings, got {type(settings).__name__}")
    run_dir = Path(run_dir)
    activities = load_activities(settings.activities)
    layer = check_layer(settings.layer, *analysed_layers(run_dir))  # from the manifest, before any tensor
    report = GeometryReport.load(run_dir)
    vectors = EmotionVectors.load(run_dir)
    steered = tuple(resolve_direction(name, layer, report, vectors) for name in settings.direction_names)
    acts = StoryActivations.load(run_dir)
    controls = random_directions(acts.d_model, settings.random_controls, settings.seed, layer)
    norms = {layer: token_norm(acts, layer)}
    conditions = [Condition("unsteered", "unsteered", "none", 0.0)]
    for d in steered + controls:
        for a in settings.alphas:
            conditions.append(Condition(f"{d.name} {a:+g}", d.kind, d.name, float(a), (layer,), (d.vector,)))
    if settings.ablate:
        conditions += _ablations(report, acts, layer, settings.seed, settings.ablation_control == "orthogonal")
    made_from = stamp(read_json(run_dir / "manifest.json"), PREFER_STAGES)
    return PreferPlan(run_dir, settings, activities, steered + controls, tuple(conditions), norms, dict(acts.spec),
                      report.n_model_layers, made_from)


def _steer_for(model, cond: Condition, norm: float, positions: str):
    """``ask``'s ``steer``: the context steering one batch (``assistant``: from each row's answer turn)."""
    from workbench.steer.steering import steering

    if not cond.layers:
        return None

    def context(batch, mask):
        if cond.hook == "ablate_direction":
            return steering(model, dict(zip(cond.layers, cond.vectors)), 1.0, None,
                            norm={L: 1.0 for L in cond.layers}, hook=cond.hook)
        if positions == "assistant":
            width = mask.shape[1]
            start = torch.tensor([width - (len(p.ids) - p.turn) for p in batch])
            return steering(model, cond.vectors[0], cond.alpha, cond.layers[0], positions="assistant", start=start,
                            norm=norm)
        return steering(model, cond.vectors[0], cond.alpha, cond.layers[0], norm=norm)

    return context


def text_perplexity(model, texts, max_length: int = 256) -> float:
    """exp of the mean next-token NLL over all tokens of ``texts`` (BOS predicts the first), active
    interventions applied; the LM head runs in chunks of positions."""
    from workbench.steer.scoring import continuation_nll

    last = model.n_layers - 1
    total, count = 0.0, 0
    for text in texts:
        enc = model.tokenizer([text], return_tensors="pt", truncation=True, max_length=max_length)
        ids = enc["input_ids"]
        got: dict[int, torch.Tensor] = {}
        model.run_blocks(ids.to(model.device), enc["attention_mask"].to(model.device), got.__setitem__,
                         layers=[last])
        with torch.inference_mode():
            nll = continuation_nll(model, model.final_norm(got[last][0, :-1]), ids[0, 1:])
        total += float(nll.double().sum())
        count += len(nll)
    return float(np.exp(total / count))


def run_prefer(model, plan: PreferPlan, progress: bool = False):
    """Run every tournament of ``plan`` and summarize: a :class:`~workbench.prefer.result.PreferenceResult`."""
    from tqdm.auto import tqdm

    from workbench.data.neutral import load_neutral_texts
    from workbench.prefer.result import summarize
    from workbench.prefer.stats import order_pairs, pair_design
    from workbench.prefer.tournament import answer_ids, ask, build_prompts, choose_format
    from workbench.steer.steering import steering

    s = plan.settings
    if model.n_layers != plan.n_model_layers or model.d_model != plan.directions[0].vector.numel():
        raise InputError(f"{model.name} has {model.n_layers} blocks of width {model.d_model}; the run's model has "
                         f"{plan.n_model_layers} blocks of width {plan.directions[0].vector.numel()}")
    start = time.perf_counter()
    fmt = choose_format(model.tokenizer, s.format)
    ids = answer_ids(model.tokenizer, fmt)
    acts = plan.activities
    ordered = order_pairs(pair_design(len(acts), s.pairs, s.seed))
    prompts = build_prompts(model.tokenizer, fmt, acts.texts, ordered)
    layer = plan.conditions[1].layers[0] if len(plan.conditions) > 1 else s.layer
    norm = plan.norms[layer]
    units = torch.stack([d.vector for d in plan.directions])
    bar = tqdm(total=len(prompts) * len(plan.conditions), desc="prefer", unit="prompt", disable=not progress)
    gaps, timings, tokens, perplexity, projections = {}, {}, 0, {}, None
    neutral = load_neutral_texts()[:s.neutral_texts] if s.ablate else ()
    try:
        for cond in plan.conditions:
            t0 = time.perf_counter()
            reading = cond.kind == "unsteered"
            answers = ask(model, prompts, ids, read_layer=layer if reading else None,
                          directions=units if reading else None, batch_size=s.batch_size,
                          steer=_steer_for(model, cond, norm, s.positions), bar=bar)
            gaps[cond.name] = answers.gap
            tokens += answers.n_tokens
            if reading:
                projections = answers.projections
            if s.ablate and cond.kind in ("unsteered", "ablation", "ablation-control"):
                if cond.layers:
                    with steering(model, dict(zip(cond.layers, cond.vectors)), 1.0, None,
                                  norm={L: 1.0 for L in cond.layers}, hook=cond.hook):
                        perplexity[cond.name] = text_perplexity(model, neutral)
                else:
                    perplexity[cond.name] = text_perplexity(model, neutral)
            timings[cond.name] = round(time.perf_counter() - t0, 3)
    finally:
        bar.close()
    seconds = time.perf_counter() - start
    info = {"format": fmt.name, "template": fmt.template, "answers": list(fmt.answers), "answer_ids": list(ids),
            "layer": layer, "norm": norm, "norm_definition": "token-mean", "n_prompts": len(prompts),
            "prompt_tokens": tokens, "seconds": round(seconds, 3), "tokens_per_s": round(tokens / seconds, 1),
            "condition_seconds": timings, "model": {k: plan.model.get(k) for k in ("name", "dtype", "architecture")},
            "loaded_model": {"name": model.name, "dtype": str(model.dtype).removeprefix("torch."),
                             "backend": model.backend},
            "run_dir": str(plan.run_dir), "made_from": plan.made_from, "settings": s.to_dict(),
            "activities_source": acts.source, "n_neutral_texts": len(neutral)}
    return summarize(plan, ordered, gaps, projections, perplexity, info)
