"""Second load of the embedded model in a new process: ``load_model("gemma-3-270m")`` with the cache warm.

Runs ``--repeats`` new interpreters one after another (offline); each loads the model once and
reports its phases (wall and CPU): importing torch, importing transformers with the Gemma 3
modeling code, then ``load_model`` split into the tokenizer (``tokenizer.json``) and the rest
(weights, adapter). Prints one JSON line per run, the medians, and the 1-minute load average
before and after. ``--importtime`` adds one run under ``python -X importtime`` and prints the
share of import time by top-level package (self time), i.e. where the import phases go.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import statistics
import subprocess
import sys
import time

CHILD = r"""
import json, resource, sys, time

def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime

marks = [("start", time.perf_counter(), cpu())]
def mark(name):
    marks.append((name, time.perf_counter(), cpu()))

import torch
mark("import torch")
import transformers
from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast
import transformers.models.gemma3.modeling_gemma3
mark("import transformers + Gemma 3 modeling")
import workbench as wb
import workbench.models.embedded as embedded

tokenizer_time = {}
original = embedded.fast_tokenizer
def timed_tokenizer(folder):
    w, c = time.perf_counter(), cpu()
    try:
        return original(folder)
    finally:
        tokenizer_time["wall"], tokenizer_time["cpu"] = time.perf_counter() - w, cpu() - c
embedded.fast_tokenizer = timed_tokenizer
model = wb.load_model(sys.argv[1], backend=sys.argv[2])
mark("load_model")
out = {}
for (_, w0, c0), (name, w1, c1) in zip(marks, marks[1:]):
    out[name] = {"wall": w1 - w0, "cpu": c1 - c0}
lm = out.pop("load_model")
out["load_model: tokenizer"] = tokenizer_time
out["load_model: weights, adapter"] = {"wall": lm["wall"] - tokenizer_time["wall"],
                                       "cpu": lm["cpu"] - tokenizer_time["cpu"]}
print(json.dumps({"phases": out, "backend": model.backend, "dtype": str(model.dtype)}))
"""


def one_run(model: str, backend: str) -> dict:
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", CHILD, model, backend], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    stdout = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"the child failed (exit {os.waitstatus_to_exitcode(status)})")
    result = json.loads(stdout)
    result["total"] = {"wall": time.perf_counter() - start, "cpu": usage.ru_utime + usage.ru_stime}
    inside = sum(p["wall"] for p in result["phases"].values())
    result["phases"]["interpreter start, exit"] = {
        "wall": result["total"]["wall"] - inside,
        "cpu": result["total"]["cpu"] - sum(p["cpu"] for p in result["phases"].values())}
    return result


def import_shares(top: int = 12) -> list[dict]:
    code = ("import torch, transformers; from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast; "
            "import transformers.models.gemma3.modeling_gemma3")
    err = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True).stderr
    self_us, sub_us = collections.Counter(), collections.Counter()
    for line in err.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", line)
        if m:
            name = m.group(2)
            self_us[name.split(".")[0]] += int(m.group(1))
            if name.split(".")[0] in ("torch", "transformers"):
                sub_us[".".join(name.split(".")[:2])] += int(m.group(1))
    total = sum(self_us.values())
    rows = [{"package": k, "share": round(v / total, 3)} for k, v in self_us.most_common(top)]
    rows += [{"subpackage": k, "share": round(v / total, 3)} for k, v in sub_us.most_common(top)]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--model", default="gemma-3-270m")
    parser.add_argument("--backend", default="auto", help="load_model's backend (default: auto, as load_model)")
    parser.add_argument("--importtime", action="store_true")
    args = parser.parse_args()
    os.environ.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    load = [os.getloadavg()[0]]
    one_run(args.model, args.backend)  # warms the converted cache (and the OS page cache): not counted
    runs = []
    for i in range(args.repeats):
        runs.append(one_run(args.model, args.backend))
        print(json.dumps({"run": i, **{k: {"wall": round(v["wall"], 2), "cpu": round(v["cpu"], 2)}
                                       for k, v in [("total", runs[-1]["total"]), *runs[-1]["phases"].items()]}}))
    load.append(os.getloadavg()[0])
    median = {name: {m: round(statistics.median(r["phases"][name][m] for r in runs), 2) for m in ("wall", "cpu")}
              for name in runs[0]["phases"]}
    print(json.dumps({"median_of": args.repeats, "model": args.model, "backend": runs[0]["backend"],
                      "total": {m: round(statistics.median(r["total"][m] for r in runs), 2) for m in ("wall", "cpu")},
                      "phases": median, "load_average_1min": load, "cpus": os.cpu_count()}))
    if args.importtime:
        print(json.dumps({"import_time_by_package": import_shares()}))


if __name__ == "__main__":
    main()
