"""``workbench steer RUN_DIR --layer L``: a thin layer over :mod:`workbench.steer`."""

from __future__ import annotations

import argparse
from pathlib import Path

from workbench.cli.options import add_dataclass_options, dataclass_from_args
from workbench.errors import InputError
from workbench.values import format_interval, format_number

__all__ = ["register", "headline"]


def register(subparsers) -> None:
    from workbench.steer.settings import SteerSettings

    p = subparsers.add_parser(
        "steer", help="steer generation along a recovered direction; dose-response against random controls",
        description="Generate continuations of neutral prompts while adding alpha x (the layer's norm: by "
                    "default the mean per-token resid_post norm over the run's story tokens) x a unit direction to "
                    "the output of block --layer; every (prompt, sample) uses the same "
                    "sampling seed at every alpha, for the direction and for random unit controls. Each text is "
                    "scored with VADER, by read-back (the unsteered model's mean projection on the valence axis "
                    "at a later layer) and by its perplexity under the unsteered model. Writes steering.csv, "
                    "steering_summary.json and the manifest's steer section (into RUN_DIR unless --out).")
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a run folder analysed with `workbench analyze`")
    p.add_argument("--layer", type=int, required=True, help="block whose output is steered")
    add_dataclass_options(p, SteerSettings, exclude=("layer",))
    p.add_argument("--out", type=Path, default=None, help="folder for the outputs (default: RUN_DIR)")
    p.add_argument("--model", default=None, help="model to load (default: the one recorded in the run folder)")
    p.add_argument("--dtype", default="bfloat16", help="model dtype (default: bfloat16)")
    p.add_argument("--backend", default="nnsight",
                   help="auto, transformer_lens or nnsight (default: nnsight, the faster one for generation)")
    p.add_argument("--generate-threads", type=int, default=1,
                   help="torch threads while generating (default: 1; a small model's many tiny ops stall on a "
                        "busy shared CPU with more; 0: torch's default)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True, help="show a progress bar")
    p.add_argument("--remote", nargs="?", const="ndif", default=None, choices=("ndif", "local"),
                   help="generate as nnsight traces with the steering inside them: on NDIF (--remote), or through "
                        "nnsight's local simulation of a remote run (--remote local); sampling is seeded per row "
                        "on the server, as here. Scoring (read-back, perplexity) runs on the local model")
    p.set_defaults(func=run_steer)


def _ci(entry) -> str:
    return format_interval(entry)


def headline(summary: dict) -> list[str]:
    """One line per score: mean within-prompt rho of the direction, of the controls, and the difference, with CIs."""
    lines = []
    for score, entry in summary["scores"].items():
        line = f"{score:>10}: within-prompt rho {_ci(entry['direction'])}"
        if entry.get("controls"):
            line += f"; controls {_ci(entry['controls'])}; difference {_ci(entry['difference'])}"
        lines.append(line)
    by_alpha = summary["scores"]["perplexity"]["by_alpha"]["direction"]
    means = " ".join(f"{p['alpha']:+g}:{format_number(p['mean'], '.1f')}" for p in by_alpha)
    lines.append(f"perplexity by alpha ({summary['direction']}): {means}")
    empty = summary.get("empty_text_by_alpha", {}).get(summary.get("direction"))
    if empty is not None:
        counts = " ".join(f"{float(a):+g}:{n}" for a, n in empty.items())
        lines.append(f"empty continuations by alpha ({summary['direction']}; missing for VADER): {counts}")
    return lines


def run_steer(args) -> int:
    import workbench as wb
    from workbench.steer.settings import SteerSettings

    settings = dataclass_from_args(SteerSettings, args, layer=args.layer)  # bad settings fail before torch loads
    from workbench.report.check import check_analysed_run

    # so do a missing file and a layer the run does not have
    check_analysed_run(args.run_dir, layer=settings.layer, readback_layer=settings.readback_layer)
    from workbench.runfolder import claim_output_dir, run_lock, same_path, writing_into
    from workbench.steer import prepare_steering, run_steering
    from workbench.steer.results import STEER_FILES

    out = args.out or args.run_dir
    elsewhere = args.out is not None and not same_path(args.out, args.run_dir)  # a folder of steering results only
    if elsewhere:
        claim_output_dir(out, "steer", writes=STEER_FILES, create=False)
    plan = prepare_steering(args.run_dir, settings)
    if args.remote == "ndif":
        raise InputError("steer --remote (NDIF): the read-back and perplexity scores need the model's hidden states "
                         "on this machine, which a model hosted on NDIF does not give; generate on NDIF from Python "
                         "(workbench.steer.remote.generate_remote) or simulate the remote run with --remote local")
    model = wb.load_model(args.model or plan.model.get("name"), backend=args.backend, dtype=args.dtype)
    if args.remote == "local":
        from workbench.steer.remote import RemoteGeneration

        model = RemoteGeneration(model, "local")
    if args.generate_threads < 0:
        raise InputError(f"--generate-threads must be >= 0, got {args.generate_threads}")
    with writing_into(out, "steer", writes=STEER_FILES) if elsewhere else run_lock(out):
        result = run_steering(model, plan, progress=args.progress, generate_threads=args.generate_threads or None)
        result.save(out)
    s = result.summary
    t = s["timings"]
    print(f"steered {s['direction']} at layer {s['layer']} (norm {s['norm']:.1f}, {s['norm_definition']}), "
          f"read-back at layer "
          f"{s['readback_layer']}: {len(result.rows)} texts, {t['new_tokens']} new tokens in {t['generate']:.0f} s "
          f"({t['tokens_per_s']} tok/s); total {t['total']:.0f} s")
    for line in headline(s):
        print(line)
    print(f"wrote steering.csv, steering_summary.json to {out}")
    return 0
