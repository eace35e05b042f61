"""``workbench prefer RUN_DIR --layer L``: a thin layer over :mod:`workbench.prefer`."""

from __future__ import annotations

import argparse
from pathlib import Path

from workbench.cli.options import add_dataclass_options, dataclass_from_args
from workbench.values import format_number

__all__ = ["register", "headline"]


def register(subparsers) -> None:
    from workbench.prefer.settings import PreferSettings

    p = subparsers.add_parser(
        "prefer", help="preferences between activities: Elo against the valence projection; steering and ablation",
        description="Asks the model, for both orders of pairs of activities, which it would rather do (A or B), "
                    "reading only the two answer tokens' logits at the last position; fits Bradley-Terry strengths "
                    "(Elo, mean 1000) to the preferences averaged over both orders; correlates each activity's "
                    "Elo with the valence projection of its text at --layer; repeats the tournament while "
                    "steering along the valence direction, named emotions and random unit directions (alphas on "
                    "both sides) and, with --ablate, with the valence direction ablated beside random ones. "
                    "Chat models get the question under their chat template; a model without one gets a plain "
                    "prompt (--format). Writes preferences.csv, preferences_summary.json and the manifest's "
                    "prefer section into RUN_DIR.")
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a run folder analysed with `workbench analyze`")
    p.add_argument("--layer", type=int, required=True, help="block of the valence projection, steering and ablation")
    add_dataclass_options(p, PreferSettings, exclude=("layer",))
    p.add_argument("--model", default=None, help="model to load (default: the one recorded in the run folder)")
    p.add_argument("--dtype", default="float32",
                   help="model dtype (default: float32: bfloat16 logits are too coarse for small logit gaps)")
    p.add_argument("--backend", default="nnsight", help="auto, transformer_lens or nnsight (default: nnsight)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (default: 1, faster for a small model on a busy shared CPU; 0: torch's)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True, help="show a progress bar")
    p.set_defaults(func=run_prefer_cmd)


def _n(x, spec="+.2f") -> str:
    return format_number(x, spec)


def headline(summary: dict) -> list[str]:
    info, ev, pb = summary["info"], summary["elo_valence"], summary["position_bias"]["unsteered"]
    lines = [f"{summary['n_activities']} activities, {summary['n_pairs']} pairs x 2 orders, format {info['format']}, "
             f"layer {info['layer']}: {info['n_prompts']} prompts per tournament, {info['prompt_tokens']} prompt "
             f"tokens in {info['seconds']:.0f} s ({info['tokens_per_s']} tok/s)",
             f"position bias: P(A) = {pb['p_answer_a']:.3f}; answer flips with the order in "
             f"{pb['flip_share_raw']:.1%} of pairs raw, {pb['flip_share_centred']:.1%} after removing the mean "
             f"A-B gap; averaged over both orders each pair has one answer ({pb['near_tie_share_averaged']:.1%} "
             f"within 0.05 of a tie)",
             f"Elo vs valence projection: r = {_n(ev['r'])} [{_n(ev['ci_low'])}, {_n(ev['ci_high'])}], permutation "
             f"p = {_n(ev['p_perm'], '.4f')} (n = {ev['n']})",
             f"Elo pleasant - unpleasant (unsteered): {_n(summary['unsteered_group_gap']['gap'], '+.0f')} "
             f"[{_n(summary['unsteered_group_gap']['ci_low'], '+.0f')}, "
             f"{_n(summary['unsteered_group_gap']['ci_high'], '+.0f')}]"]
    for c in summary["conditions"][1:]:
        ppl = f", perplexity x{c['perplexity_ratio']:.3f}" if c.get("perplexity_ratio") is not None else ""
        vs = c.get("vs_controls")
        versus = (f"; minus controls {_n(vs['difference'], '+.1f')} [{_n(vs['ci_low'], '+.1f')}, "
                  f"{_n(vs['ci_high'], '+.1f')}]" if vs else "")
        lines.append(f"  {c['name']:>28} ({c['kind']}): shift of the gap {_n(c['shift'], '+.1f')} "
                     f"[{_n(c['ci_low'], '+.1f')}, {_n(c['ci_high'], '+.1f')}]{versus}{ppl}")
    across = summary["across_directions"]
    lines.append(f"across {across['n']} steered directions: r(projection-Elo r, Elo shift per alpha) = "
                 f"{_n(across['r'])}")
    return lines


def run_prefer_cmd(args) -> int:
    import workbench as wb
    from workbench.errors import InputError
    from workbench.prefer.settings import PreferSettings
    from workbench.report.check import check_analysed_run

    settings = dataclass_from_args(PreferSettings, args, layer=args.layer)  # bad settings fail before torch loads
    if args.threads < 0:
        raise InputError(f"--threads must be >= 0, got {args.threads}")
    check_analysed_run(args.run_dir, layer=settings.layer)  # and so do a folder not analysed, a layer it lacks
    import torch

    from workbench.prefer.experiment import prepare_prefer, run_prefer

    plan = prepare_prefer(args.run_dir, settings)
    if args.threads:
        torch.set_num_threads(args.threads)
    model = wb.load_model(args.model or plan.model.get("name"), backend=args.backend, dtype=args.dtype)
    result = run_prefer(model, plan, progress=args.progress)
    result.save(args.run_dir)  # under the run folder's writer lock
    for line in headline(result.summary):
        print(line)
    print(f"wrote preferences.csv, preferences_summary.json to {args.run_dir}")
    return 0
