"""Wall and CPU time of the CLI's help and of errors found before a model loads, beside ``python -c pass``.

Each command runs ``--repeats`` times in a new interpreter (as the ``workbench`` script does:
``from workbench.cli import main``); prints one JSON line per command with the median wall time and
the median CPU time (user + sys of the child), and the 1-minute load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLI = "import sys; from workbench.cli import main; sys.exit(main())"


def commands(tmp: Path) -> dict[str, list[str]]:
    (tmp / "bad.jsonl").write_text('{"emotion": "calm", "topic": "a", "stories": ["x"]}\n[oops]\n')
    # the manifest of an analysed run of an 18-block model (all a layer check reads; no tensors)
    (tmp / "run").mkdir()
    (tmp / "run" / "manifest.json").write_text(json.dumps({
        "format_version": 1, "collect": {}, "analysis": {"n_model_layers": 18, "layers": list(range(18))}}))
    return {
        "python -c pass": ["-c", "pass"],
        "import workbench": ["-c", "import workbench"],
        "workbench --help": ["-c", CLI, "--help"],
        "workbench steer --help": ["-c", CLI, "steer", "--help"],
        "error: missing corpus file (collect)": ["-c", CLI, "collect", "--corpus", "missing.jsonl", "--out", "r"],
        "error: malformed JSON (corpus check)": ["-c", CLI, "corpus", "check", "bad.jsonl"],
        "error: unknown emotion (generate)": ["-c", CLI, "generate", "--model", "gemma-3-270m", "--out", "s.jsonl",
                                              "--emotions", "calm,glad"],
        "error: bad alphas (steer)": ["-c", CLI, "steer", "run", "--layer", "1", "--alphas=-0.2,x,0.2"],
        "error: layer out of range (steer)": ["-c", CLI, "steer", "run", "--layer", "99"],
        "error: missing run folder (analyze)": ["-c", CLI, "analyze", "missing"],
    }


def timed(args: list[str], cwd: Path) -> tuple[float, float, int]:
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, *args], cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return time.perf_counter() - start, usage.ru_utime + usage.ru_stime, proc.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, argv in commands(tmp).items():
            runs = [timed(argv, tmp) for _ in range(args.repeats)]
            print(json.dumps({"command": name, "exit_code": runs[0][2],
                              "wall_s": round(statistics.median(r[0] for r in runs), 3),
                              "cpu_s": round(statistics.median(r[1] for r in runs), 3), "repeats": args.repeats}))
    print(json.dumps({"load_average_1min": [load_before, os.getloadavg()[0]], "cpus": os.cpu_count()}))


if __name__ == "__main__":
    main()
