"""Peak memory of ``run_with_cache`` on 32 stories: one hook kept against every block's ``resid_post``.

Each case runs in its own process: load the embedded Gemma 3 270M, run
``run_with_cache`` once on 2 stories (this faults in the memory-mapped
weights), then on the first 32 stories of the bundled corpus (one batch,
right padding), sampling RSS every 5 ms. Cases: each backend with one hook
(``blocks.9.hook_resid_post``) and with ``resid_post`` of all 18 blocks, and
the naive HF way (``output_hidden_states=True`` with the logits) for scale.

    python benchmarks/cache_memory.py [--stories 32] [--dtype bfloat16]

Prints one JSON line per case.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

CASES = {
    "nnsight, one hook": ("nnsight", "blocks.9.hook_resid_post"),
    "nnsight, resid_post of all blocks": ("nnsight", "resid_post"),
    "transformer_lens, one hook": ("transformer_lens", "blocks.9.hook_resid_post"),
    "transformer_lens, resid_post of all blocks": ("transformer_lens", "resid_post"),
    "naive HF: output_hidden_states with logits": ("nnsight", None),
}


def child(args) -> None:
    import torch
    from _rss import peak_rss, rss_mb

    from workbench.data.corpus import load_corpus
    from workbench.models import load_model
    from workbench.models.tokens import encode

    backend, names = CASES[args.case]
    texts = list(load_corpus("bundled").texts)[:args.stories]
    model = load_model("gemma-3-270m", backend=backend, dtype=args.dtype)
    loaded = rss_mb()
    model.run_with_cache(texts[:2], names_filter=names or "resid_post")
    warm = rss_mb()
    t0 = time.perf_counter()
    with peak_rss() as rss:
        if names is None:
            ids, mask = encode(model.tokenizer, texts)
            with torch.inference_mode():
                out = model.hf_model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
            kept = sum(t.numel() * t.element_size() for t in (*out.hidden_states, out.logits))
            tokens = int(mask.sum())
        else:
            cache = model.run_with_cache(texts, names_filter=names)
            kept = sum(v.numel() * v.element_size() for v in cache.values.values())
            tokens = int(cache.attention_mask.sum())
    print(json.dumps({"case": args.case, "stories": len(texts), "tokens": tokens, "dtype": args.dtype,
                      "rss_loaded_mb": round(loaded), "rss_warm_mb": round(warm), "peak_mb": round(rss["peak_mb"]),
                      "rise_mb": round(rss["peak_mb"] - warm), "kept_mb": round(kept / 2**20, 1),
                      "seconds": round(time.perf_counter() - t0, 2)}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, default=32)
    parser.add_argument("--dtype", default="bfloat16")
    parser.add_argument("--case", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case is not None:
        child(args)
        return
    for case in CASES:
        subprocess.run([sys.executable, __file__, "--case", case, "--stories", str(args.stories),
                        "--dtype", args.dtype], check=True)


if __name__ == "__main__":
    main()
