"""``workbench corpus check SOURCE``: the corpus summary and its table of problems.

Exit code 0 when the corpus is clean, 1 when problems were found, 2 on bad input.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from workbench.errors import InputError

__all__ = ["register"]

log = logging.getLogger(__name__)


def register(subparsers) -> None:
    parser = subparsers.add_parser("corpus", help="inspect and check story corpora")
    sub = parser.add_subparsers(dest="corpus_command", required=True)
    check = sub.add_parser(
        "check", help="summarize a corpus and list its problems with file and line",
        description="Summarize a story corpus and list its problems (stories naming their emotion, "
                    "duplicates, empty or too short stories, emotions without ratings, ratings without "
                    "stories). Exit 0 when clean, 1 when problems were found, 2 on bad input.")
    check.add_argument("source", help="a JSONL file, a folder of them, hf:OWNER/NAME[@split], or 'bundled'")
    check.add_argument("--ratings", default=None, help="ratings CSV (default: the project's data/emotions.csv)")
    check.add_argument("--tokenizer-model", default=None, metavar="NAME",
                       help="measure length in this model's tokens (a model name for workbench.load_model, "
                            "or a local tokenizer folder); without it, length is measured in words")
    check.add_argument("--token-offset", type=int, default=50,
                       help="first pooled token position (default: 50)")
    check.add_argument("--min-tokens", type=int, default=None,
                       help="tokens needed at or past the offset (default: 60; needs --tokenizer-model)")
    check.add_argument("--min-words", type=int, default=40,
                       help="words needed when no tokenizer is given (default: 40)")
    check.add_argument("--drop-flagged", default=None, metavar="OUT.jsonl",
                       help="write the corpus without the flagged stories to OUT.jsonl, and the dropped "
                            "problems to OUT.dropped.json")
    check.add_argument("--drop-kinds", default="names_emotion,duplicate,empty,too_short",
                       help="problem kinds that --drop-flagged drops (default: %(default)s)")
    check.set_defaults(func=run_check)


def load_tokenizer(name: str):
    """A local tokenizer folder, else the tokenizer of ``workbench.load_model(name)``."""
    path = Path(name)
    if path.is_dir():
        from transformers import AutoTokenizer

        try:
            return AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        except (OSError, ValueError) as exc:
            raise InputError(f"--tokenizer-model {name}: no usable tokenizer in that folder ({exc})") from None
    from workbench.models import load_model

    return load_model(name).tokenizer


def format_summary(corpus) -> str:
    s = corpus.summary()
    spe, wps = s["stories_per_emotion"], s["words_per_story"]
    return (f"corpus {s['name']} (sha256 {s['sha256'][:12]})\n"
            f"{s['n_emotions']} emotions, {s['n_stories']} stories; stories per emotion: "
            f"min {spe['min']}, mean {spe['mean']:.2f}, max {spe['max']}\n"
            f"words per story: min {wps['min']}, mean {wps['mean']:.1f}, max {wps['max']}")


def run_check(args: argparse.Namespace) -> int:
    from workbench.data.corpus import load_corpus
    from workbench.data.ratings import load_ratings
    from workbench.data.validate import drop_flagged, validate
    from workbench.io import atomic_write_json
    from workbench.runfolder import check_output_file

    if args.drop_flagged:  # the outputs, checked before any work: never one of the inputs
        out = Path(args.drop_flagged)
        inputs = [("the corpus", args.source), ("the ratings file", args.ratings)]
        check_output_file(out, "--drop-flagged", inputs)
        check_output_file(out.with_name(out.stem + ".dropped.json"), "--drop-flagged (its .dropped.json)", inputs)
    corpus = load_corpus(args.source)
    ratings = load_ratings(args.ratings)
    tokenizer = load_tokenizer(args.tokenizer_model) if args.tokenizer_model else None
    if args.min_tokens is not None and tokenizer is None:
        raise InputError("--min-tokens needs --tokenizer-model (without a tokenizer, use --min-words)")
    report = validate(corpus, ratings, min_tokens=args.min_tokens, tokenizer=tokenizer,
                      token_offset=args.token_offset, min_words=args.min_words)
    print(format_summary(corpus))
    if tokenizer is not None:
        print(f"too short: fewer than {report.settings['min_tokens']} tokens at or past position "
              f"{args.token_offset} ({args.tokenizer_model})")
    else:
        print(f"too short: fewer than {args.min_words} words (no tokenizer given)")
    print(report.format())
    if args.drop_flagged:
        kinds = [k.strip() for k in args.drop_kinds.split(",") if k.strip()]
        kept = drop_flagged(corpus, report, kinds)
        out = Path(args.drop_flagged)
        kept.save_jsonl(out)
        side = out.with_name(out.stem + ".dropped.json")
        atomic_write_json(side, {"source": corpus.name, "source_sha256": corpus.sha256,
                                 "kept_sha256": kept.sha256, "kinds": kinds, "dropped": list(kept.dropped)})
        print(f"wrote {out} ({len(kept)} of {len(corpus)} stories kept) and {side}")
    return 0 if report.ok else 1
