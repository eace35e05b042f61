"""What a remote collect sends and gets back per batch, through the local simulation of NDIF.

The embedded model (bf16, nnsight) on the first emotions of the bundled corpus,
``collect(..., remote="local")`` against a local collect on the same batches:
per batch the texts, the padded tokens, the request and result bytes (the
result as NDIF sends it: ``torch.save`` of the saved values, before zstd), the
bytes of the returned tensors, and what the block outputs of every layer would
have been (the download a trace that saves hidden states makes), then the
largest difference between the two collects' means and both wall times.

    python benchmarks/remote_bytes.py [--emotions 4] [--max-tokens-per-batch 4096] [--max-length 512]
"""

from __future__ import annotations

import argparse
import json
import time

import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--emotions", type=int, default=4)
    ap.add_argument("--max-tokens-per-batch", type=int, default=4096)
    ap.add_argument("--max-length", type=int, default=512)
    ap.add_argument("--dtype", default="bfloat16")
    args = ap.parse_args()
    import workbench as wb
    from workbench.collect import collect
    from workbench.collect.plan import make_batches, plan_tokens

    torch.set_grad_enabled(False)
    model = wb.load_model("gemma-3-270m", dtype=args.dtype, backend="nnsight")
    texts = list(wb.load_corpus("bundled").head(args.emotions).texts)
    kw = {"token_offset": 50, "max_length": args.max_length, "max_tokens_per_batch": args.max_tokens_per_batch,
          "progress": False}
    t0 = time.perf_counter()
    local = collect(model, texts, **kw)
    t_local = time.perf_counter() - t0
    t0 = time.perf_counter()
    remote = collect(model, texts, remote="local", **kw)
    t_remote = time.perf_counter() - t0
    plan = plan_tokens(model.tokenizer, texts, 50, args.max_length)
    batches = make_batches([len(r) for r in plan.ids], args.max_tokens_per_batch, order=range(len(texts)))
    info = remote.info["remote"]
    item = torch.empty(0, dtype=getattr(torch, args.dtype)).element_size()
    for b, batch in enumerate(batches):
        padded = len(batch) * max(len(plan.ids[i]) for i in batch)
        print(json.dumps({"batch": b, "texts": len(batch), "padded_tokens": padded,
                          "result_bytes": info["result_bytes"][b], "returned_tensor_bytes": info["returned"][b],
                          "sums_and_counts_bytes": len(batch) * (model.n_layers * model.d_model + 1) * 4,
                          "hidden_states_bytes": padded * model.n_layers * model.d_model * item}))
    print(json.dumps({"texts": len(texts), "batches": len(batches), "max_abs_diff_vs_local": float(
        (remote.means - local.means).abs().max()), "bitwise_equal": bool(torch.equal(remote.means, local.means)),
        "local_s": round(t_local, 1), "remote_local_s": round(t_remote, 1)}))


if __name__ == "__main__":
    main()
