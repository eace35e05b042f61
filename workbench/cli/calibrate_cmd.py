"""``workbench calibrate``: the calibration table of the analysis' statistics, by simulation (docs/statistics.md)."""

from __future__ import annotations

import argparse
import time

__all__ = ["register"]


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "calibrate", help="simulate null and planted data and measure false-positive rates, coverage and widths",
        description="Simulate data sets with emotion-level nuisance axes (null) and with a planted valence direction "
                    "of known population r, run the analysis' own statistics on each, and print the calibration "
                    "table (Markdown): false-positive rate at nominal 5%, coverage at nominal 95%, mean interval "
                    "width against the width needed, power. docs/statistics.md holds the full table.")
    p.add_argument("--sims", type=int, default=200, help="simulated data sets per design (default: 200)")
    p.add_argument("--bootstrap", type=int, default=200, help="bootstrap resamples per data set (default: 200)")
    p.add_argument("--permutations", type=int, default=1000,
                   help="permutations per data set (default: 1000; BH over 8 layers needs p below 0.05 / 8)")
    p.add_argument("--splits", type=int, default=50, help="random emotion halves of the cross-fit (default: 50)")
    p.add_argument("--emotions", type=int, default=171, help="emotions per data set (default: 171)")
    p.add_argument("--seed", type=int, default=0, help="seed of the simulation (default: 0)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True, help="show a progress bar")
    p.set_defaults(func=run_calibrate)


def run_calibrate(args) -> int:
    from tqdm.auto import tqdm

    from workbench.analysis.calibration import DESIGNS, calibration_table, format_table
    from workbench.errors import InputError

    for name in ("sims", "bootstrap", "permutations", "splits"):
        if getattr(args, name) < (1 if name in ("sims", "splits") else 10):
            raise InputError(f"--{name} must be at least {1 if name in ('sims', 'splits') else 10}, got "
                             f"{getattr(args, name)}")
    if args.emotions < 20:
        raise InputError(f"--emotions must be at least 20, got {args.emotions}")
    start = time.perf_counter()
    with tqdm(total=args.sims * len(DESIGNS), desc="calibrate", unit="data set", disable=not args.progress,
              leave=False) as bar:
        rows = calibration_table(args.sims, args.bootstrap, args.permutations, args.splits, args.seed,
                                 n_emotions=args.emotions, progress=bar.update)
    print(format_table(rows))
    failed = [r for r in rows if r["accept"] is not None and not r["accept"][0] <= r["value"] <= r["accept"][1]]
    print(f"\n{args.sims} simulated data sets per design, {args.bootstrap} bootstrap resamples, {args.permutations} "
          f"permutations, {args.splits} splits, seed {args.seed}: {len(failed)} of "
          f"{sum(r['accept'] is not None for r in rows)} checked numbers outside their range "
          f"({time.perf_counter() - start:.0f} s)")
    return 0
