"""A steering experiment: plan it from an analysed run folder, run it on a model, get a :class:`SteeringResult`.

``prepare_steering(report, vectors, acts, settings)`` (in-memory results) or
``prepare_steering(run_dir, settings)`` (a run folder) checks every input before a model is
loaded (layer range, direction name, vectors and analysis present, prompts) and
resolves the steered direction, the random controls, the read-back layer and
direction, and the layer's norm (from the run's activations, by the definition
``settings.norm`` names: :data:`workbench.steer.directions.NORMS`). ``run_steering(model, plan)``
generates (paired seeds), scores and summarizes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import torch

from workbench.errors import InputError, RunFolderError
from workbench.steer.directions import (
    NORMS,
    Direction,
    default_readback_layer,
    random_directions,
    resolve_direction,
    valence_direction,
)
from workbench.steer.settings import SteerSettings

__all__ = ["SteerPlan", "prepare_steering", "run_steering"]


@dataclass(frozen=True, eq=False)
class SteerPlan:
    """Everything a steering run needs besides the model; the steered direction comes first in ``directions``."""

    run_dir: Path | None  # None when planned from in-memory results
    settings: SteerSettings
    directions: tuple[Direction, ...]
    readback_layer: int
    readback_direction: torch.Tensor
    norm: float
    prompts: tuple[str, ...]
    model: dict  # the run's model spec (collect section): name, dtype, ...
    n_model_layers: int
    made_from: dict | None = None  # the run folder's stages it was planned from (workbench.runfolder.stamp)

    @property
    def direction(self) -> Direction:
        return self.directions[0]


def _check_layer(layer: int, n_layers: int, what: str, analysed) -> int:
    if not -n_layers <= layer < n_layers:
        raise InputError(f"{what} {layer} is out of range: the run's model has {n_layers} blocks (0..{n_layers - 1})")
    layer %= n_layers
    if layer not in analysed:
        raise InputError(f"{what} {layer} was not analysed in this run (layers {list(analysed)})")
    return layer


def prepare_steering(report, vectors=None, acts=None, settings: SteerSettings | None = None) -> SteerPlan:
    """Check the inputs and resolve directions, read-back and norm (no model needed).

    In memory: ``prepare_steering(report, vectors, acts, settings)`` with a
    :class:`GeometryReport`, its :class:`EmotionVectors` (``None`` is enough for
    ``direction="valence"``) and the :class:`StoryActivations` (for the norm and
    d_model). From a run folder (the CLI): ``prepare_steering(run_dir, settings)``.
    """
    if isinstance(report, (str, Path)):
        if settings is not None or acts is not None:
            raise InputError("prepare_steering(run_dir, settings): pass only the run folder and the settings")
        return _from_run_folder(Path(report), vectors)
    from workbench.analysis.report import GeometryReport
    from workbench.collect.activations import StoryActivations

    if not isinstance(report, GeometryReport):
        raise InputError(f"prepare_steering: expected a GeometryReport or a run folder, got {type(report).__name__}")
    if not isinstance(acts, StoryActivations):
        raise InputError(f"prepare_steering: expected the run's StoryActivations, got {type(acts).__name__}")
    return _plan(report, vectors, acts, settings, None)


def _from_run_folder(run_dir: Path, settings) -> SteerPlan:
    from workbench.analysis.report import GeometryReport
    from workbench.analysis.vectors import EmotionVectors
    from workbench.collect.activations import StoryActivations

    if not run_dir.is_dir():
        raise RunFolderError(f"run folder {run_dir} does not exist")
    _check_settings(settings)
    report = GeometryReport.load(run_dir)
    vectors = None if settings.direction.strip() == "valence" else EmotionVectors.load(run_dir)
    return _plan(report, vectors, StoryActivations.load(run_dir), settings, run_dir)


def _check_settings(settings) -> None:
    if not isinstance(settings, SteerSettings):
        raise InputError(f"settings must be a SteerSettings, got {type(settings).__name__}")


def _plan(report, vectors, acts, settings, run_dir) -> SteerPlan:
    from workbench.io import read_json
    from workbench.runfolder import stamp
    from workbench.steer.prompts import load_prompts
    from workbench.steer.recipes import load_recipe
    from workbench.steer.results import STEER_STAGES

    _check_settings(settings)
    n_layers = report.n_model_layers
    layer = _check_layer(settings.layer, n_layers, "--layer", report.layers)
    direction = resolve_direction(settings.direction, layer, report, vectors)
    readback = settings.readback_layer
    readback = (default_readback_layer(report, layer) if readback is None
                else _check_layer(readback, n_layers, "--readback-layer", report.layers))
    prompts = load_prompts(settings.prompts)
    load_recipe(settings.hook)  # an unknown recipe fails here, before a model is loaded
    if acts.d_model != direction.vector.numel():
        raise InputError(f"the activations have d_model {acts.d_model}; the direction has {direction.vector.numel()}")
    controls = random_directions(acts.d_model, settings.random_controls, settings.seed, layer)
    try:
        norm = NORMS[settings.norm][0](acts, layer)
    except RunFolderError as exc:
        raise RunFolderError(f"{run_dir or 'the activations'}: {exc}") from None
    made_from = None if run_dir is None else stamp(read_json(run_dir / "manifest.json"), STEER_STAGES)
    return SteerPlan(run_dir, settings, (direction,) + controls, readback, valence_direction(report, readback),
                     norm, prompts, dict(acts.spec), n_layers, made_from)


def _rows(plan: SteerPlan, gens, vader, readback, perplexity) -> list[dict]:
    s = plan.settings
    return [{
        "direction": g.direction, "kind": g.kind, "alpha": g.alpha, "prompt_index": g.prompt_index,
        "sample": g.sample, "sampling_seed": g.sampling_seed, "layer": plan.direction.layer, "norm": plan.norm,
        "scale": g.alpha * plan.norm, "hook": s.hook, "positions": s.positions, "readback_layer": plan.readback_layer,
        "top_k": s.top_k, "temperature": float(s.temperature), "max_new_tokens": s.max_new_tokens,
        "n_new_tokens": len(g.new_ids), "hit_eos": g.hit_eos, "vader": float(v), "readback": float(r),
        "perplexity": float(p), "prompt": plan.prompts[g.prompt_index], "text": g.text,
    } for g, v, r, p in zip(gens, vader, readback, perplexity)]


def _alpha0_identical(gens) -> bool | None:
    """Whether every (prompt, sample) has the same continuation at alpha 0 for every direction."""
    zero: dict[tuple[int, int], set] = {}
    for g in gens:
        if g.alpha == 0.0:
            zero.setdefault((g.prompt_index, g.sample), set()).add(g.new_ids)
    return None if not zero else all(len(v) == 1 for v in zero.values())


def _empty_by_alpha(plan: SteerPlan, gens) -> dict:
    """Per direction, the texts at each alpha with no visible text (missing for VADER)."""
    out = {d.name: {str(a): 0 for a in plan.settings.alphas} for d in plan.directions}
    for g in gens:
        if not g.text.strip():
            out[g.direction][str(g.alpha)] += 1
    return out


def run_steering(model, plan: SteerPlan, progress: bool = False, generate_threads: int | None = None):
    """Generate every (direction, alpha, prompt, sample), score the texts, summarize: a :class:`SteeringResult`.

    ``generate_threads``: torch threads while generating (``None``: unchanged; see
    :func:`workbench.steer.generation.generate_paired`).
    """
    from workbench.steer.generation import generate_paired
    from workbench.steer.results import SteeringResult
    from workbench.steer.scoring import readback_and_perplexity, vader_scores
    from workbench.steer.summary import summarize

    if model.n_layers != plan.n_model_layers or model.d_model != plan.direction.vector.numel():
        raise InputError(f"{model.name} has {model.n_layers} blocks of width {model.d_model}; the run's model has "
                         f"{plan.n_model_layers} blocks of width {plan.direction.vector.numel()}")
    s = plan.settings
    start = time.perf_counter()
    gens, gen_info = generate_paired(model, plan.prompts, plan.directions, s, plan.norm, progress,
                                     threads=generate_threads)
    t_gen = time.perf_counter()
    vader = vader_scores([g.text for g in gens])
    readback, perplexity = readback_and_perplexity(model, [(g.prompt_ids, g.new_ids) for g in gens],
                                                   plan.readback_layer, plan.readback_direction,
                                                   progress=progress)
    t_score = time.perf_counter()
    rows = _rows(plan, gens, vader, readback, perplexity)
    summary = summarize(rows, [(d.name, d.kind) for d in plan.directions], s.alphas, len(plan.prompts), s.samples,
                        n_boot=s.bootstrap, seed=s.seed)
    t_end = time.perf_counter()
    summary.update({
        "direction": plan.direction.name, "layer": plan.direction.layer, "readback_layer": plan.readback_layer,
        "norm": plan.norm, "norm_definition": s.norm, "norm_source": NORMS[s.norm][1],
        "model": {k: plan.model.get(k) for k in ("name", "dtype", "architecture", "weights_sha256")},
        "loaded_model": {"name": model.name, "dtype": str(model.dtype).removeprefix("torch."),
                         "backend": model.backend},
        "run_dir": None if plan.run_dir is None else str(plan.run_dir), "prompts": list(plan.prompts), "settings": s.to_dict(),
        "alpha0_identical": _alpha0_identical(gens), "alpha0_shared": bool(s.share_unsteered and 0.0 in s.alphas),
        "generate_threads": generate_threads, "made_from": plan.made_from,
        "empty_continuations": int(sum(1 for g in gens if not g.new_ids)),
        "empty_text_by_alpha": _empty_by_alpha(plan, gens),
        "timings": {"generate": round(t_gen - start, 3), "score": round(t_score - t_gen, 3),
                    "summarize": round(t_end - t_score, 3), "total": round(t_end - start, 3), **gen_info},
    })
    return SteeringResult(tuple(rows), summary)
