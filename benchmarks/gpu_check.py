"""GPU check: the embedded model on CUDA in bf16 and fp32 against CPU fp32, throughput, device_map="auto", memory.

For a machine with a CUDA GPU; prints one table (and one JSON line per row with
``--json``) in a few minutes. Rows:

- ``collect parity``: max over texts and layers of |mean_gpu - mean_cpu| / |mean_cpu|
  (the CPU fp32 collect is the reference), for the embedded Gemma 3 270M in fp32 and bf16;
- ``collect throughput``: tokens/s of ``collect`` and of a bare decoder forward (no hooks,
  no LM head) on the same batches on the same GPU, and their ratio;
- ``device_map=auto``: tiny random Llama and Gemma 3 models loaded with ``device_map="auto"``,
  collect against CPU fp32;
- peak GPU memory of each row (``torch.cuda.max_memory_allocated``).

On a machine without CUDA it prints one line saying so and exits 0.
``--device cpu`` runs the same steps on the CPU (to check the script itself; no GPU figures).

    python benchmarks/gpu_check.py [--emotions 6] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # tiny.py: tiny random models from real configs


def _skip_reason(device: str) -> str | None:
    if device != "cuda":
        return None
    if not torch.cuda.is_available():
        built = torch.version.cuda or "no CUDA (a CPU build)"
        return f"gpu-check: skipped, no CUDA device visible (torch {torch.__version__}, built with {built})"
    return None


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _peak_reset(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()


def _peak_mb(device: str):
    return round(torch.cuda.max_memory_allocated() / 2**20, 1) if device.startswith("cuda") else None


def _rel_err(got: torch.Tensor, ref: torch.Tensor) -> float:
    return float(((got - ref).norm(dim=-1) / ref.norm(dim=-1).clamp_min(1e-12)).max())


def _timed(fn, device: str, repeats: int = 2) -> float:
    best = float("inf")
    for _ in range(repeats):
        _sync(device)
        t0 = time.perf_counter()
        fn()
        _sync(device)
        best = min(best, time.perf_counter() - t0)
    return best


def embedded_rows(device: str, texts: list[str], budget: int) -> list[dict]:
    import workbench as wb
    from workbench.collect import collect
    from workbench.collect.plan import make_batches, pad_batch, plan_tokens
    from workbench.models.adapter import position_ids_from_mask

    kw = {"token_offset": 50, "max_length": 512, "max_tokens_per_batch": budget, "progress": False}
    cpu = wb.load_model("gemma-3-270m", dtype="float32", backend="nnsight", device="cpu")
    reference = collect(cpu, texts, **kw).means
    del cpu
    rows = []
    for dtype in ("float32", "bfloat16"):
        _peak_reset(device)
        model = wb.load_model("gemma-3-270m", dtype=dtype, backend="nnsight", device=device)
        acts = collect(model, texts, **kw)  # also the warm-up of the timing below
        plan = plan_tokens(model.tokenizer, texts, 50, 512)
        batches = make_batches([len(r) for r in plan.ids], budget)
        padded = [tuple(t.to(device) for t in pad_batch(plan, b, model.tokenizer.pad_token_id, "right")[:2])
                  for b in batches]
        tokens = sum(len(r) for r in plan.ids)

        def bare(model=model, padded=padded):
            with torch.inference_mode():
                for ids, mask in padded:
                    model.body(input_ids=ids, attention_mask=mask, position_ids=position_ids_from_mask(mask),
                               use_cache=False)

        t_collect = _timed(lambda model=model: collect(model, texts, **kw), device)
        t_bare = _timed(bare, device)
        rows.append({"check": f"embedded {dtype} on {device}", "texts": len(texts), "tokens": tokens,
                     "max_rel_err_vs_cpu_fp32": _rel_err(acts.means, reference),
                     "collect_tok_s": round(tokens / t_collect), "bare_tok_s": round(tokens / t_bare),
                     "ratio": round(t_bare / t_collect, 3), "peak_gpu_mb": _peak_mb(device)})
        del model
        if device.startswith("cuda"):
            torch.cuda.empty_cache()
    return rows


def device_map_rows(device: str) -> list[dict]:
    from tiny import tiny_model, tiny_tokenizer

    import workbench as wb
    from workbench.collect import collect

    tok = tiny_tokenizer()
    words = "the old man and the child opened the door of the house at night with a cold hand".split()
    gen = torch.Generator().manual_seed(0)
    texts = [" ".join(words[int(j)] for j in torch.randint(0, len(words), (20 + i,), generator=gen)) for i in range(8)]
    kw = {"token_offset": 3, "max_tokens_per_batch": 128, "progress": False}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("llama", "gemma3"):
            folder = Path(tmp) / kind
            tiny_model(kind, len(tok)).save_pretrained(folder)
            tok.save_pretrained(folder)
            reference = collect(wb.load_model(str(folder), dtype="float32", backend="nnsight"), texts, **kw).means
            _peak_reset(device)
            mapped = wb.load_model(str(folder), dtype="float32", backend="nnsight",
                                   device_map="auto" if device.startswith("cuda") else {"": "cpu"})
            placed = sorted({str(p.device) for p in mapped.hf_model.parameters()})
            got = collect(mapped, texts, **kw).means
            rows.append({"check": f"tiny {kind} device_map=auto", "placed_on": ",".join(placed),
                         "max_rel_err_vs_cpu_fp32": _rel_err(got, reference), "peak_gpu_mb": _peak_mb(device)})
    return rows


def _table(rows: list[dict]) -> str:
    columns = ["check", "max_rel_err_vs_cpu_fp32", "collect_tok_s", "bare_tok_s", "ratio", "peak_gpu_mb", "placed_on"]

    def cell(v):
        if v is None:
            return "-"
        return f"{v:.2e}" if isinstance(v, float) and abs(v) < 1e-2 else str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    lines += ["| " + " | ".join(cell(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda", help="cuda (default) or cpu, to check the script without a GPU")
    ap.add_argument("--emotions", type=int, default=6, help="emotions of the bundled corpus to collect")
    ap.add_argument("--max-tokens-per-batch", type=int, default=8192)
    ap.add_argument("--json", action="store_true", help="also print one JSON line per row")
    args = ap.parse_args(argv)
    reason = _skip_reason(args.device)
    if reason:
        print(reason)
        return 0
    import workbench as wb

    start = time.perf_counter()
    torch.set_grad_enabled(False)
    texts = list(wb.load_corpus("bundled").head(args.emotions).texts)
    rows = embedded_rows(args.device, texts, args.max_tokens_per_batch) + device_map_rows(args.device)
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"
    print(f"gpu-check on {name}, torch {torch.__version__}, {time.perf_counter() - start:.0f} s")
    print(_table(rows))
    if args.json:
        for row in rows:
            print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
