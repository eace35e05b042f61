"""Throughput of collect against a bare decoder forward and the naive way, on identical batches.

On the embedded model (bf16 by default) and the first 20 emotions of the
published Gemma corpus in ../shared. One JSON line per method: tokens/s, ratio
to the bare forward, peak RSS, and how far RSS rose above its level when the
method started (the loaded models).

    python benchmarks/extract_throughput.py [--emotions 20] [--dtype bfloat16] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _rss import peak_rss, rss_mb  # noqa: E402

import workbench as wb  # noqa: E402
from workbench.collect import collect  # noqa: E402
from workbench.collect.plan import make_batches, pad_batch, plan_tokens  # noqa: E402
from workbench.models.adapter import position_ids_from_mask  # noqa: E402
from workbench.models.embedded import load_embedded  # noqa: E402

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpora" / "gemma4-e4b-stories.jsonl"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--emotions", type=int, default=20)
    ap.add_argument("--dtype", default="bfloat16")
    ap.add_argument("--repeats", type=int, default=2, help="timed passes per method (best is reported)")
    ap.add_argument("--max-tokens-per-batch", type=int, default=4096)
    args = ap.parse_args()
    if not CORPUS.is_file():
        sys.exit(f"the published corpus is not at {CORPUS}: this benchmark needs ../shared")
    torch.set_grad_enabled(False)
    corpus = wb.load_corpus(str(CORPUS)).head(args.emotions)
    texts = list(corpus.texts)

    base_rss = rss_mb()
    models = {backend: wb.load_model("gemma-3-270m", dtype=args.dtype, backend=backend)
              for backend in ("transformer_lens", "nnsight")}
    model = models["transformer_lens"]
    _ = model.native  # build the TransformerLens bridge now (it is built on first use), so it wraps the body
    plain, _, _ = load_embedded(dtype=getattr(torch, args.dtype))  # an unhooked copy for the baselines
    loaded_rss = rss_mb()

    plan = plan_tokens(model.tokenizer, texts, 50, 512)
    lengths = [len(r) for r in plan.ids]
    batches = make_batches(lengths, args.max_tokens_per_batch)
    padded = [pad_batch(plan, b, model.tokenizer.pad_token_id, "right") for b in batches]
    n_tokens = sum(lengths)

    def bare():
        for ids, mask, _ in padded:
            plain.model(input_ids=ids, attention_mask=mask, position_ids=position_ids_from_mask(mask), use_cache=False)

    def bridged():
        body = models["transformer_lens"].body  # the same HF body, wrapped in place by TransformerLens
        for ids, mask, _ in padded:
            body(input_ids=ids, attention_mask=mask, position_ids=position_ids_from_mask(mask), use_cache=False)

    def collector(backend):
        def run():
            collect(models[backend], texts, token_offset=50, max_length=512,
                    max_tokens_per_batch=args.max_tokens_per_batch, progress=False)
        return run

    def naive():
        out = []
        for ids, mask, weights in padded:
            res = plain(input_ids=ids, attention_mask=mask, position_ids=position_ids_from_mask(mask),
                        output_hidden_states=True, use_cache=False)
            logits = res.logits.float()  # the paper's code keeps full-vocabulary logits
            stacked = torch.stack(res.hidden_states[1:]).float()
            out.append(torch.einsum("bt,lbtd->bld", weights, stacked) / weights.sum(1)[:, None, None])
            del logits
        return out

    methods = {"bare_forward": bare, "bare_forward_tl_bridge": bridged,
               "collect_transformer_lens": collector("transformer_lens"),
               "collect_nnsight": collector("nnsight"), "naive_hidden_states": naive}
    bare()  # warm-up: allocators, kernels
    results = {name: {"seconds": float("inf"), "peak_mb": 0.0, "growth_mb": 0.0} for name in methods}
    for _ in range(args.repeats):  # interleaved, so drifts in machine load hit every method alike
        for name, fn in methods.items():
            with peak_rss() as mem:
                t0 = time.perf_counter()
                fn()
                seconds = time.perf_counter() - t0
            results[name]["seconds"] = min(results[name]["seconds"], seconds)
            results[name]["peak_mb"] = max(results[name]["peak_mb"], mem["peak_mb"])
            results[name]["growth_mb"] = max(results[name]["growth_mb"], mem["peak_mb"] - mem["start_mb"])
    for name, r in results.items():
        print(json.dumps({
            "method": name, "dtype": args.dtype, "texts": len(texts), "tokens": n_tokens, "batches": len(batches),
            "tokens_per_s": round(n_tokens / r["seconds"], 1),
            "ratio_to_bare": round(results["bare_forward"]["seconds"] / r["seconds"], 3),
            "peak_rss_mb": round(r["peak_mb"], 1),
            "peak_rss_above_start_mb": round(r["growth_mb"], 1),  # growth while the method ran
            "loaded_models_rss_mb": round(loaded_rss - base_rss, 1),
        }))


if __name__ == "__main__":
    main()
