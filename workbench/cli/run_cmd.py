"""``workbench run``: the main job in one command: collect, vectors, analysis, token view and report.

A thin layer over :func:`workbench.run` (``workbench.pipeline.run``). Stage lines and the stages' progress bars go to
stderr; the final summary (peak layers, r with CI and q, the report's path) to stdout.
"""

from __future__ import annotations

import dataclasses
import re
import sys
import time
from pathlib import Path

from workbench.cli.collect_cmd import add_force_option
from workbench.cli.options import add_analysis_options, add_dataclass_options, dataclass_from_args

__all__ = ["register", "default_out"]


def register(subparsers) -> None:
    from workbench.collect.config import CollectConfig

    p = subparsers.add_parser(
        "run", help="the main job: collect, emotion vectors, analysis, token view and report in one go",
        description="Collect resid_post means for the stories and the neutral texts, build the emotion vectors, "
                    "analyze their geometry against human valence and arousal, make the token view and write "
                    "RUN/report.html. A finished collect in the run folder with the same settings is reused.")
    p.add_argument("--out", type=Path, default=None,
                   help="run folder (default: runs/MODEL-CORPUS, with -eN for --emotions N): a new or empty folder, "
                        "or a run folder")
    add_force_option(p)
    add_dataclass_options(p, CollectConfig)
    add_analysis_options(p)
    p.set_defaults(func=run)


def _slug(text: str) -> str:
    """A folder-name part for a model or corpus: a file or folder by its name, else the text made safe."""
    text = str(text).removeprefix("hf:")
    path = Path(text)
    if path.suffix in (".jsonl", ".gguf") or path.exists():
        text = path.stem if path.suffix else path.name
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "run"


def default_out(config) -> Path:
    """``runs/MODEL-CORPUS`` (``-eN`` added for ``--emotions N``)."""
    name = f"{_slug(config.model)}-{_slug(config.corpus)}"
    return Path("runs") / (name + (f"-e{config.emotions}" if config.emotions else ""))


class _Stages:
    """Numbered stage lines on stderr, with the time each stage took."""

    def __init__(self):
        self.start = self.tick = time.perf_counter()
        self.times: dict[str, float] = {}
        self.current = None

    def begin(self, i: int, detail: str = "") -> None:
        from workbench.pipeline import STAGES

        self.end()
        self.current = STAGES[i]
        print(f"[{i + 1}/{len(STAGES)}] {self.current}{': ' + detail if detail else ''}", file=sys.stderr, flush=True)

    def end(self) -> None:
        now = time.perf_counter()
        if self.current is not None:
            self.times[self.current] = now - self.tick
        self.tick, self.current = now, None

    @property
    def total(self) -> float:
        return time.perf_counter() - self.start


def run(args) -> int:
    from workbench.analysis.settings import AnalysisSettings
    from workbench.cli.collect_cmd import check_out
    from workbench.collect.config import CollectConfig
    from workbench.data.ratings import load_ratings
    from workbench.pipeline import run as run_pipeline
    from workbench.runfolder import RUN_FILES, writing_into

    config = dataclass_from_args(CollectConfig, args)
    settings = dataclass_from_args(AnalysisSettings, args)
    ratings = load_ratings(args.ratings)  # read first: a bad ratings file fails before the long stages
    out = args.out if args.out is not None else default_out(config)
    check_out(config, out, args.force, RUN_FILES, [("the ratings file", args.ratings)])
    stages = _Stages()
    collect_settings = {k: v for k, v in dataclasses.asdict(config).items() if k not in ("model", "corpus", "neutral")}
    with writing_into(out, "run", force=args.force, writes=RUN_FILES):  # one writer for the whole run
        result = run_pipeline(config.model, config.corpus, config.neutral, out, ratings=ratings,
                              neutral_variance=args.neutral_variance, progress=args.progress, on_stage=stages.begin,
                              **collect_settings, **settings.to_dict())
    stages.end()
    report = result.report
    timing = ", ".join(f"{name} {sec:.0f} s" for name, sec in stages.times.items())
    print(f"workbench run: {result.model.name} on {result.corpus.name}: {len(report.emotions)} emotions, "
          f"{len(report.layers)} layers{'' if result.activations.neutral is not None else ', no neutral texts'} "
          f"in {stages.total / 60:.1f} min ({timing})")
    print(report.headline())
    print(f"report: {result.report_path}")
    return 0
