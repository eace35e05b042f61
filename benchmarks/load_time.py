"""Second load of the embedded model in a new process: ``load_model("gemma-3-270m")`` with the cache warm.

Runs ``--repeats`` new interpreters one after another (offline); each imports the workbench, loads
the model once and reports its phases (wall and CPU): ``load_model`` split into importing torch and
transformers (``workbench.models.stack``), the tokenizer and the rest (weights, adapter); what is
left of the process's CPU is interpreter start and exit. Prints one JSON line per run, the medians,
and the 1-minute load average before and after. ``--floor`` adds new interpreters that only import
torch, or torch and transformers (with the collector on, and as ``load_model`` imports them), and one that
also imports the model's modeling module and parses its tokenizer with ``tokenizers`` (no workbench code
beyond the import of the stack): the floor of any load through transformers and tokenizers.
``--importtime`` adds one run under ``python -X importtime`` and prints the share of import time by
top-level package (self time), i.e. where the import phases go.
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

def timed(module, attr, into):
    original = getattr(module, attr)
    def wrapper(*args, **kwargs):
        w, c = time.perf_counter(), cpu()
        try:
            return original(*args, **kwargs)
        finally:
            into["wall"], into["cpu"] = time.perf_counter() - w, cpu() - c
    setattr(module, attr, wrapper)

w0, c0 = time.perf_counter(), cpu()
import workbench as wb
import workbench.models.embedded as embedded
import workbench.models.stack as stack
w1, c1 = time.perf_counter(), cpu()
stack_time, tokenizer_time = {}, {}
timed(stack, "import_model_stack", stack_time)
timed(embedded, "fast_tokenizer", tokenizer_time)
model = wb.load_model(sys.argv[1], backend=sys.argv[2])
w2, c2 = time.perf_counter(), cpu()
out = {"import workbench": {"wall": w1 - w0, "cpu": c1 - c0},
       "load_model: import torch, transformers": stack_time,
       "load_model: tokenizer": tokenizer_time,
       "load_model: weights, adapter": {m: (w2 - w1 if m == "wall" else c2 - c1) - stack_time[m] - tokenizer_time[m]
                                        for m in ("wall", "cpu")}}
print(json.dumps({"phases": out, "backend": model.backend, "dtype": str(model.dtype)}))
"""

# processes that import the stack and exit, for the floor that no workbench change can go below
FLOOR = {
    "python -c pass": "pass",
    "import torch": "import torch",
    "import torch, transformers (model loading), collector on": (
        "import torch, transformers.modeling_utils, transformers.tokenization_utils_tokenizers"),
    "the same, as load_model imports them (collector paused, frozen)": (
        "from workbench.models.stack import import_model_stack; import_model_stack()"),
}

# the floor of any load through transformers and tokenizers: the stack imported as load_model imports it,
# the model's modeling module, and tokenizers parsing the converted tokenizer file (no model is built)
DEPENDENCY_FLOOR = (
    "import sys; from workbench.models.stack import import_model_stack; import_model_stack(); "
    "import tokenizers; from transformers import AutoConfig, AutoModelForCausalLM; "
    "from workbench.models.embedded import converted_dir, compact_tokenizer_file; d = converted_dir(sys.argv[1]); "
    "AutoModelForCausalLM._model_mapping[type(AutoConfig.from_pretrained(str(d)))]; "
    "tokenizers.Tokenizer.from_file(str(compact_tokenizer_file(d)))")


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


def floor_run(code: str, *args: str) -> float:
    """CPU seconds (user + sys) of a new interpreter running ``code``."""
    proc = subprocess.Popen([sys.executable, "-c", code, *args], stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{code!r} failed")
    return usage.ru_utime + usage.ru_stime


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
    parser.add_argument("--floor", action="store_true",
                        help="also time new interpreters that only import torch / torch and transformers")
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
    if args.floor:
        floor = {name: [floor_run(code) for _ in range(args.repeats)] for name, code in FLOOR.items()}
        floor["the same + the model's modeling module + tokenizers parsing its tokenizer (no workbench code)"] = [
            floor_run(DEPENDENCY_FLOOR, args.model) for _ in range(args.repeats)]
        print(json.dumps({"floor_cpu_median": {k: round(statistics.median(v), 2) for k, v in floor.items()},
                          "load_average_1min": os.getloadavg()[0]}))
    if args.importtime:
        print(json.dumps({"import_time_by_package": import_shares()}))


if __name__ == "__main__":
    main()
