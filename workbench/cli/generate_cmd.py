"""``workbench generate``: a model writes an emotion-story corpus (the paper's step 1).

The output is JSONL in the paper's format, readable by ``workbench corpus check``
and :func:`workbench.load_corpus`; a rerun continues an interrupted one.
"""

from __future__ import annotations

import argparse

from workbench.cli.options import add_dataclass_options, dataclass_from_args
from workbench.data.generate import GenerationConfig

__all__ = ["register"]


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "generate", help="generate emotion stories with a model",
        description="Generate stories in which a character feels an emotion without it being named. "
                    "Rows are appended as they finish; rerunning the same command continues where it "
                    "stopped without duplicating rows.")
    parser.add_argument("--model", required=True, help="model name for workbench.load_model")
    parser.add_argument("--dtype", default=None, choices=("bfloat16", "float32"),
                        help="weights dtype (default: load_model's)")
    parser.add_argument("--out", required=True, help="output JSONL (appended to)")
    parser.add_argument("--emotions", default=None,
                        help="comma-separated emotions (default: every emotion of the ratings)")
    parser.add_argument("--ratings", default=None, help="ratings CSV the emotions must come from "
                                                        "(default: the project's data/emotions.csv)")
    parser.add_argument("--topics", type=int, default=3, metavar="N", help="use the first N topics (default: 3)")
    parser.add_argument("--topics-file", default=None, help="one premise per line (default: data/topics.txt)")
    parser.add_argument("--stories-per-topic", type=int, default=3, metavar="K", help="default: 3")
    parser.add_argument("--seed", type=int, default=0, help="default: 0")
    add_dataclass_options(parser, GenerationConfig)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from workbench.data.generate import generate_stories, load_topics
    from workbench.data.ratings import load_ratings
    from workbench.errors import InputError

    ratings = load_ratings(args.ratings)
    if args.emotions:
        emotions = [e.strip() for e in args.emotions.split(",") if e.strip()]
        ratings.subset(emotions)  # an unknown emotion is an error that lists it
    else:
        emotions = list(ratings.emotions)
    topics = load_topics(args.topics_file)
    if not 1 <= args.topics <= len(topics):
        raise InputError(f"--topics {args.topics}: choose 1..{len(topics)} (the topics file has {len(topics)})")
    config = dataclass_from_args(GenerationConfig, args)
    from workbench.data.generate import DEFAULT_TOPICS, check_out_file
    from workbench.data.ratings import DEFAULT_RATINGS

    check_out_file(args.out, [("the ratings file", args.ratings or DEFAULT_RATINGS),
                              ("the topics file", args.topics_file or DEFAULT_TOPICS)])  # before the model loads
    from workbench.models import load_model

    model = load_model(args.model, **({"dtype": args.dtype} if args.dtype else {}))
    result = generate_stories(model, emotions, topics[: args.topics], args.stories_per_topic, args.out,
                              seed=args.seed, config=config, model_name=args.model)
    print(f"{result.out_path}: {result.rows_written} rows written, {result.rows_skipped} already there; "
          f"{result.stories_written} stories, {result.stories_failed} failed (see the rows' 'failed')")
    return 0
