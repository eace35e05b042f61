"""``workbench run``: the main job in one command: collect, vectors, analysis, token view and report.

A thin layer over the functions ``workbench collect``, ``workbench analyze`` and
``workbench report`` use. Stage lines and the stages' progress bars go to
stderr; the final summary (peak layers, r with CI and q, the report's path) to stdout.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

from workbench.cli.collect_cmd import add_force_option
from workbench.cli.options import add_dataclass_options, dataclass_from_args

__all__ = ["register", "default_out"]

STAGES = ("load the model and collect", "emotion vectors and analysis", "token view", "report")


def register(subparsers) -> None:
    from workbench.analysis.settings import AnalysisSettings
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
    add_dataclass_options(p, AnalysisSettings)
    p.add_argument("--ratings", type=Path, default=None, help="ratings CSV (default: the project's data/emotions.csv)")
    p.add_argument("--neutral-variance", type=float, default=0.5,
                   help="share of the neutral texts' variance whose principal subspace is removed (default: 0.5)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True, help="show progress bars")
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


def _neutral_texts(config):
    from workbench.data.neutral import load_neutral_texts

    return None if config.neutral in ("bundled", "none") else load_neutral_texts(config.neutral)


def run(args) -> int:
    from workbench.analysis.settings import AnalysisSettings
    from workbench.cli.collect_cmd import check_out
    from workbench.collect.config import CollectConfig
    from workbench.data.ratings import load_ratings
    from workbench.runfolder import RUN_FILES, writing_into

    config = dataclass_from_args(CollectConfig, args)
    settings = dataclass_from_args(AnalysisSettings, args)
    ratings = load_ratings(args.ratings)  # read first: a bad ratings file fails before the long stages
    out = args.out if args.out is not None else default_out(config)
    check_out(config, out, args.force, RUN_FILES, [("the ratings file", args.ratings)])
    with writing_into(out, "run", force=args.force, writes=RUN_FILES):  # one writer for the whole run
        return _run(args, config, settings, ratings, out)


def _run(args, config, settings, ratings, out) -> int:
    from transformers.utils import logging as hf_logging

    from workbench.cli.analyze_cmd import analyze_folder, headline
    from workbench.cli.collect_cmd import collect_run
    from workbench.errors import WorkbenchError
    from workbench.report import make_token_view, write_report

    hf_logging.disable_progress_bar()  # the collect bar is the one progress display of stage 1
    stages = _Stages()
    stages.begin(0, f"{config.model} on corpus {config.corpus}, neutral texts {config.neutral} -> {out}")
    model, corpus, acts = collect_run(config, out, progress=args.progress, force=True,  # claimed by run()
                                      ratings=ratings, settings=settings)
    stages.begin(1, f"{len(acts)} texts, {len(acts.layers)} layers, {settings.bootstrap} bootstrap resamples")
    report, has_neutral = analyze_folder(out, settings, args.ratings, args.neutral_variance, args.progress)
    stages.begin(2, f"layer {report.conditions[0].peak.get('peak_layer')}")
    try:
        make_token_view(model, out, neutral_texts=_neutral_texts(config), ratings=ratings).save(out)
    except WorkbenchError as exc:  # optional: the report states that it is absent
        print(f"token view not made: {exc}", file=sys.stderr)
    stages.begin(3)
    path = write_report(out, ratings=ratings)
    stages.end()
    timing = ", ".join(f"{name} {sec:.0f} s" for name, sec in stages.times.items())
    print(f"workbench run: {model.name} on {corpus.name}: {len(report.emotions)} emotions, {len(report.layers)} "
          f"layers{'' if has_neutral else ', no neutral texts'} in {stages.total / 60:.1f} min ({timing})")
    for line in headline(report):
        print(line)
    print(f"report: {path}")
    return 0
