"""How long the full analysis takes at the paper's scale on this machine.

171 emotions (the project's ratings) x 6 stories x 18 layers x d_model 640 (the
embedded Gemma 3 270M's shape), 40 neutral texts, 1,000 bootstrap resamples
(stories within emotions too), 1,000 permutations, both neutral-projection
settings. The activations are synthetic, with a residual-stream-like decaying
noise spectrum and a valence direction that strengthens with depth; the time
of the bootstrap depends on how well separated the leading PCs are, so
``--decay 0`` (isotropic noise, the slowest case) is also worth a run.

Prints one JSON line: ``{"benchmark": "analysis_speed", "seconds": ..., ...}``.
Usage: ``.venv/bin/python benchmarks/analysis_speed.py [--bootstrap 1000] [--permutations 1000]``
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np


def run(bootstrap: int = 1000, permutations: int = 1000, n_layers: int = 18, d_model: int = 640,
        stories: int = 6, decay: float = 1.0, seed: int = 0, workers: int | None = None) -> dict:
    from workbench.analysis import analyze, emotion_vectors
    from workbench.analysis.synthetic import synthetic_activations
    from workbench.data.ratings import load_ratings

    ratings = load_ratings()
    acts, neutral = synthetic_activations(ratings.emotions, ratings.valence, ratings.arousal, n_layers=n_layers,
                                          d_model=d_model, stories=stories,
                                          valence_signal=np.linspace(2.0, 12.0, n_layers),
                                          arousal_signal=np.linspace(1.0, 5.0, n_layers), decay=decay, seed=seed)
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    vectors = emotion_vectors(acts, neutral)
    built = time.perf_counter()
    report = analyze(vectors, ratings, acts, bootstrap=bootstrap, permutations=permutations, seed=seed,
                     progress=False, workers=workers)
    done = time.perf_counter()
    off = report.peak
    return {
        "benchmark": "analysis_speed", "seconds": round(done - built, 2), "vectors_seconds": round(built - start, 2),
        "n_emotions": len(report.emotions), "n_layers": n_layers, "d_model": d_model, "stories": stories,
        "bootstrap": bootstrap, "permutations": permutations, "conditions": len(report.conditions),
        "noise_decay": decay, "timings": report.timings, "cpu_count": os.cpu_count(),
        "loadavg_1min_before": round(load_before, 2), "loadavg_1min_after": round(os.getloadavg()[0], 2),
        "peak_layer": off.layer, "peak_r": off.r,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--permutations", type=int, default=1000)
    parser.add_argument("--layers", type=int, default=18)
    parser.add_argument("--d-model", type=int, default=640)
    parser.add_argument("--stories", type=int, default=6)
    parser.add_argument("--decay", type=float, default=1.0, help="noise spectrum decay (0: isotropic)")
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.bootstrap, args.permutations, args.layers, args.d_model, args.stories, args.decay,
                         workers=args.workers)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
