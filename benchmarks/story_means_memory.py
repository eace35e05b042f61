"""Peak memory of collect's storage path and of analyze, on synthetic story means at 1x and 20x the bundled corpus.

The story means have the embedded model's shape as collect stores it (Gemma 3
270M: ``resid_post`` of its 18 blocks, d_model 640, fp32; collect stores no
embedding row). The texts are the bundled corpus's stories (513), copied
``copies`` times (topics marked with the copy number), and the 48 bundled
neutral texts. Per size, two fresh processes:

1. collect's storage path without the model: the token-budget batches of
   ``make_batches`` (synthetic lengths of 120-510 tokens, 4,096 padded tokens a
   batch), each batch's means (an emotion's planted vector plus story noise)
   written into the run folder through the ``FileSink`` that ``collect`` uses,
   a checkpoint every 10 batches, then the run folder written as ``collect``
   finishes it (``write_run_folder``);
2. ``workbench analyze`` on that folder (``analyze_folder``: load, emotion
   vectors, the analysis, save), with fewer resamples than the CLI's default.

Each prints the peak RSS while its work ran (sampled every 5 ms), the RSS before
it and the process's ``ru_maxrss``.

    python benchmarks/story_means_memory.py [--sizes 1,20] [--bootstrap 200] [--permutations 200]

Prints one JSON line per process, then one with the 20x / 1x ratios.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

N_LAYERS, D_MODEL = 18, 640  # Gemma 3 270M as collect stores it: blocks 0..17, no embedding row


def _meta(copies: int) -> list[dict]:
    from workbench.data.corpus import load_corpus
    from workbench.data.neutral import load_neutral_texts

    corpus = load_corpus("bundled")
    rows = [{"emotion": s.emotion, "topic": f"{s.topic} (copy {k + 1})", "story": s.number, "kind": "story"}
            for k in range(copies) for s in corpus.stories]
    return rows + [{"kind": "neutral", "story": i} for i in range(len(load_neutral_texts()))]


def collect_child(args) -> None:
    import torch
    from _rss import peak_rss, rss_mb

    from workbench.collect.activations import write_run_folder
    from workbench.collect.plan import make_batches
    from workbench.collect.run import _sink
    from workbench.runfolder import COLLECT_FILES, writing_into

    meta = _meta(args.copies)
    n = len(meta)
    emotions = sorted({m["emotion"] for m in meta if m["kind"] == "story"})
    gen = torch.Generator().manual_seed(0)
    planted = torch.randn((len(emotions) + 1, N_LAYERS, D_MODEL), generator=gen)  # the last: neutral texts
    code = torch.tensor([emotions.index(m["emotion"]) if m["kind"] == "story" else len(emotions) for m in meta])
    lengths = torch.randint(120, 511, (n,), generator=gen).tolist()
    n_tokens = torch.tensor([x - 50 for x in lengths], dtype=torch.int64)
    keep = list(range(n))
    batches = make_batches(lengths, 4096, order=keep)
    layers = tuple(range(N_LAYERS))
    spec = {"name": "synthetic (Gemma 3 270M shape)", "n_layers": N_LAYERS}
    params = {"token_offset": 50, "max_tokens_per_batch": 4096, "n_layers": N_LAYERS, "key": f"synthetic-{n}"}
    out = Path(args.out)
    before = rss_mb()
    t0 = time.perf_counter()
    with peak_rss(0.005) as rss, writing_into(out, "run", writes=COLLECT_FILES):
        sink = _sink(out, params["key"], n, layers, D_MODEL, n_tokens, keep, batches, None, resume=True)
        for b, batch in enumerate(batches):
            g = torch.Generator().manual_seed(1000 + b)
            means = planted[code[batch]] + 3.0 * torch.randn((len(batch), N_LAYERS, D_MODEL), generator=g)
            sink.write(batch, means, means.norm(dim=-1))
            if (b + 1) % 10 == 0:
                sink.checkpoint(b + 1)
        sink.checkpoint(len(batches))
        sink.close()
        acts = write_run_folder(out, sink.path, tuple(meta), layers=layers, spec=spec, params=params,
                                info={"n_batches": len(batches)})
    _report(args, "collect storage", rss, before, time.perf_counter() - t0,
            texts=n, batches=len(batches), means_mb=round(acts.means.numel() * 4 / 2**20, 1),
            file_mb=round((out / "activations.safetensors").stat().st_size / 2**20, 1))


def analyze_child(args) -> None:
    from _rss import peak_rss, rss_mb

    from workbench.analysis.settings import AnalysisSettings
    from workbench.cli.analyze_cmd import analyze_folder

    settings = AnalysisSettings(bootstrap=args.bootstrap, permutations=args.permutations, cka_shuffles=50)
    import torch  # noqa: F401  (imported before the baseline RSS, as the analysis imports it)

    before = rss_mb()
    t0 = time.perf_counter()
    with peak_rss(0.005) as rss:
        report, _ = analyze_folder(args.out, settings, progress=False)
    off = report.condition(False)
    _report(args, "analyze", rss, before, time.perf_counter() - t0,
            emotions=len(report.emotions), peak_pc1_valence_r=round(float(max(off.columns["pc1_valence_r"])), 3))


def _report(args, stage, rss, before, seconds, **extra) -> None:
    print(json.dumps({"stage": stage, "copies": args.copies, **extra, "seconds": round(seconds, 1),
                      "rss_before_mb": round(before, 1), "peak_rss_mb": round(rss["peak_mb"], 1),
                      "rise_mb": round(rss["peak_mb"] - before, 1),
                      "max_rss_process_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}),
          flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1,20", help="corpus sizes, in copies of the bundled corpus")
    ap.add_argument("--bootstrap", type=int, default=200)
    ap.add_argument("--permutations", type=int, default=200)
    ap.add_argument("--child", choices=("collect", "analyze"), help=argparse.SUPPRESS)
    ap.add_argument("--copies", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        (collect_child if args.child == "collect" else analyze_child)(args)
        return
    results: dict[tuple[str, int], dict] = {}
    with tempfile.TemporaryDirectory(prefix="story_means_memory.") as tmp:
        for copies in (int(x) for x in args.sizes.split(",")):
            out = Path(tmp) / f"run_{copies}x"
            for child in ("collect", "analyze"):
                cmd = [sys.executable, __file__, "--child", child, "--copies", str(copies), "--out", str(out),
                       "--bootstrap", str(args.bootstrap), "--permutations", str(args.permutations)]
                proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
                if proc.returncode != 0:
                    sys.exit(f"the {copies}x {child} failed:\n{proc.stderr[-3000:]}")
                line = proc.stdout.strip().splitlines()[-1]
                print(line, flush=True)
                results[(child, copies)] = json.loads(line)
    sizes = sorted({c for _, c in results})
    if len(sizes) >= 2:
        lo, hi = sizes[0], sizes[-1]
        print(json.dumps({f"{child}_peak_rss_ratio": round(results[(child, hi)]["peak_rss_mb"]
                                                           / results[(child, lo)]["peak_rss_mb"], 3)
                          for child in ("collect", "analyze")} | {
            f"{child}_max_rss_ratio": round(results[(child, hi)]["max_rss_process_mb"]
                                            / results[(child, lo)]["max_rss_process_mb"], 3)
            for child in ("collect", "analyze")}))


if __name__ == "__main__":
    main()
