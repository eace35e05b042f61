"""Time and token counts of ``workbench prefer`` on an analysed run folder (default settings unless given).

Runs the CLI in this interpreter and prints one JSON line: wall time, prompts and prompt tokens per
tournament, tokens/s, the seconds of each tournament, the 1-minute load average before and after.
Usage: ``python benchmarks/prefer_run.py RUN_DIR --layer L [more workbench prefer options]``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    from workbench.cli import main as cli

    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    code = cli(["prefer", *argv, "--no-progress"])
    wall = time.perf_counter() - start
    if code:
        return code
    info = json.loads((Path(argv[0]) / "preferences_summary.json").read_text())["info"]
    print(json.dumps({"wall_s": round(wall, 1), "prefer_s": info["seconds"], "n_tournaments":
                      len(info["condition_seconds"]), "prompts_per_tournament": info["n_prompts"],
                      "prompt_tokens": info["prompt_tokens"], "tokens_per_s": info["tokens_per_s"],
                      "condition_seconds": info["condition_seconds"], "loadavg_before": load_before,
                      "loadavg_after": os.getloadavg()[0], "argv": argv}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
