"""Peak memory of collect on the bundled corpus (1x) and on a corpus ten times its size (10x).

Each size runs in its own process: load the embedded model, collect 64 texts
once (this faults in the memory-mapped weights), then collect every story and
the bundled neutral texts into a run folder (checkpoints on, as the CLI does),
and report the peak resident set size while that collect ran (sampled every 10
ms), its rise over the RSS before it, the size of the result tensor, and the
process's lifetime maximum RSS. The 10x corpus is the bundled one ten times
over (topics marked with the copy number). Texts are cut to ``--max-length``
tokens so that the 10x run finishes in minutes on a CPU; pooling starts at
``--token-offset``.

    python benchmarks/memory_10x.py [--max-length 32] [--token-offset 16] [--dtype bfloat16]

Prints one JSON line per size, then one with the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

ROOT = Path(__file__).resolve().parents[1]


def write_corpus(path: Path, copies: int) -> int:
    """The bundled corpus ``copies`` times over, as one JSONL file; returns the number of stories."""
    from workbench.data.corpus import load_corpus

    corpus = load_corpus("bundled")
    rows: dict[tuple[str, str], list[str]] = {}
    for story in corpus.stories:
        rows.setdefault((story.emotion, story.topic), []).append(story.text)
    with open(path, "w", encoding="utf-8") as fh:
        for k in range(copies):
            for (emotion, topic), stories in rows.items():
                fh.write(json.dumps({"emotion": emotion, "topic": f"{topic} (copy {k + 1})", "stories": stories},
                                    ensure_ascii=False) + "\n")
    return len(corpus) * copies


def child(args) -> None:
    """One size, in this process: load, collect, report."""
    import torch
    from _rss import peak_rss, rss_mb

    from workbench.collect import collect
    from workbench.data.corpus import load_corpus
    from workbench.data.neutral import load_neutral_texts
    from workbench.models import load_model

    torch.set_grad_enabled(False)
    corpus = load_corpus(args.corpus)
    neutral = load_neutral_texts()
    texts = list(corpus.texts) + list(neutral)
    t0 = time.perf_counter()
    model = load_model("gemma-3-270m", dtype=args.dtype, backend="nnsight")
    load_s = time.perf_counter() - t0
    loaded_mb = rss_mb()
    # a first collect of a few texts faults in the weights (memory-mapped) and sizes the buffers
    collect(model, texts[:64], token_offset=args.token_offset, max_length=args.max_length,
            progress=False)
    warm_mb = rss_mb()
    t0 = time.perf_counter()
    with peak_rss(0.01) as rss:
        acts = collect(model, corpus, neutral=neutral, token_offset=args.token_offset, max_length=args.max_length,
                       out=args.out, progress=False)
    seconds = time.perf_counter() - t0
    result_mb = acts.means.numel() * acts.means.element_size() / 2**20
    print(json.dumps({
        "copies": args.copies, "texts": len(texts), "tokens": acts.info["tokens"],
        "collect_s": round(seconds, 1), "load_s": round(load_s, 1), "tokens_per_s": acts.info["tokens_per_s"],
        "rss_after_load_mb": round(loaded_mb, 1), "rss_after_warmup_mb": round(warm_mb, 1),
        "peak_rss_mb": round(rss["peak_mb"], 1), "rise_mb": round(rss["peak_mb"] - warm_mb, 1),
        "means_mb": round(result_mb, 1),
        "max_rss_process_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "activations_file_mb": round(os.path.getsize(Path(args.out) / "activations.safetensors") / 2**20, 1),
    }), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-length", type=int, default=32, help="texts are cut to this many tokens")
    ap.add_argument("--token-offset", type=int, default=16)
    ap.add_argument("--dtype", default="bfloat16")
    ap.add_argument("--sizes", default="1,10", help="corpus sizes, in copies of the bundled corpus")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--copies", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--corpus", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return
    results = {}
    with tempfile.TemporaryDirectory(prefix="memory_10x.") as tmp:
        for copies in (int(x) for x in args.sizes.split(",")):
            corpus = Path(tmp) / f"corpus_{copies}x.jsonl"
            write_corpus(corpus, copies)
            cmd = [sys.executable, __file__, "--child", "--copies", str(copies), "--corpus", str(corpus),
                   "--out", str(Path(tmp) / f"run_{copies}x"), "--max-length", str(args.max_length),
                   "--token-offset", str(args.token_offset), "--dtype", args.dtype]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                sys.exit(f"the {copies}x run failed:\n{proc.stderr[-3000:]}")
            line = proc.stdout.strip().splitlines()[-1]
            print(line, flush=True)
            results[copies] = json.loads(line)
    sizes = sorted(results)
    if len(sizes) >= 2:
        small, large = results[sizes[0]], results[sizes[-1]]
        print(json.dumps({
            "peak_rss_ratio": round(large["peak_rss_mb"] / small["peak_rss_mb"], 3),
            "rise_ratio": round(large["rise_mb"] / max(small["rise_mb"], 1e-9), 2),
            "means_mb_difference": round(large["means_mb"] - small["means_mb"], 1),
            "peak_rss_difference_mb": round(large["peak_rss_mb"] - small["peak_rss_mb"], 1),
        }))


if __name__ == "__main__":
    main()
