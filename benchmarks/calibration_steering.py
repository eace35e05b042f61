"""Calibration of the steering dose-response statistic: prints a markdown table.

Simulated steering data (prompts x samples x alphas, a random intercept and a
random slope per prompt, noise; ``workbench.steer.calibration``) under the null
(no dose effect on average) and with a planted within-prompt effect whose
population value comes from a very large simulation. For each statistic and
interval: the false-positive rate at nominal 5% (null), the power and the
coverage of the population value at nominal 95% (planted), and the mean width
against the width needed. The same data sets go through every method.

Usage: ``.venv/bin/python benchmarks/calibration_steering.py [--sets 400] [--bootstrap 2000] [--seed 0]``
(about 15 minutes on 2 busy cores at the defaults). The table in
The steering section of docs/statistics.md was made with the defaults.
"""

from __future__ import annotations

import argparse
import time

from workbench.steer.calibration import Design, calibration_rows, markdown_table

# Heterogeneous prompts (slopes vary by prompt, as with real prompts) at the size of the README's run, and
# homogeneous slopes at the default prompt count (where resampling samples too counts their noise twice).
DESIGNS = (
    (Design(n_prompts=8, n_samples=4, sd_intercept=0.2, sd_slope=1.0, sd_noise=0.1), 1.0),
    (Design(n_prompts=16, n_samples=4, sd_intercept=0.2, sd_slope=0.0, sd_noise=0.1), 0.5),
)


def designs():
    return [d for base, beta in DESIGNS for d in (base, base.planted(beta))]


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sets", type=int, default=400, help="simulated data sets per row (default: 400)")
    p.add_argument("--bootstrap", type=int, default=2000, help="bootstrap resamples per data set (default: 2000)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    start = time.perf_counter()
    rows = calibration_rows(designs(), n_sets=args.sets, n_boot=args.bootstrap, seed=args.seed)
    print(markdown_table(rows))
    print(f"{args.sets} data sets per row, {args.bootstrap} bootstrap resamples, seed {args.seed}; "
          f"{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
