"""``workbench collect``: per-text mean resid_post at every layer, for a corpus and the neutral texts."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from workbench.cli.options import add_dataclass_options, dataclass_from_args
from workbench.collect.config import CollectConfig, parse_layers
from workbench.errors import InputError
from workbench.runfolder import COLLECT_FILES, check_not_input, claim_output_dir

log = logging.getLogger(__name__)


def register(sub) -> None:
    parser = sub.add_parser("collect", help="read resid_post means at every layer for a corpus",
                            description=__doc__)
    parser.add_argument("--out", required=True, type=Path,
                        help="run folder to write (resumes if interrupted): a new or empty folder, or a run folder")
    add_force_option(parser)
    add_dataclass_options(parser, CollectConfig)
    parser.set_defaults(func=run)


def texts_for(config: CollectConfig):
    """The stories (and neutral texts, marked kind=neutral) to collect, with their meta rows."""
    from workbench.data.corpus import load_corpus
    from workbench.data.neutral import load_neutral_texts

    corpus = load_corpus(config.corpus)
    if config.emotions is not None:
        corpus = corpus.head(config.emotions)
    if config.drop_flagged:
        from workbench.data.validate import drop_flagged, validate

        corpus = drop_flagged(corpus, validate(corpus), kinds=("names_emotion", "duplicate", "empty"))
    texts, meta = list(corpus.texts), corpus.meta()
    if config.neutral != "none":
        neutral = load_neutral_texts(None if config.neutral == "bundled" else config.neutral)
        texts += list(neutral)
        meta += [{"kind": "neutral", "story": i} for i in range(len(neutral))]
    return corpus, texts, meta


def add_force_option(parser) -> None:
    parser.add_argument("--force", action="store_true",
                        help="write into --out even when it is a folder the workbench did not make (its files of "
                             "the same names are replaced); never needed for a new, empty or run folder")


def config_inputs(config: CollectConfig) -> list[tuple[str, str]]:
    """The input paths of a collect, as ``(label, path)``, for the checks against the output paths."""
    named = [("the corpus", config.corpus), ("the model", config.model)]
    if config.neutral not in ("bundled", "none"):
        named.append(("the neutral texts", config.neutral))
    return [(label, value) for label, value in named if Path(value).exists()]


def check_out(config: CollectConfig, out: Path, force: bool, writes=COLLECT_FILES, inputs=()) -> None:
    """The output folder, checked before any work: no input among the files written, a folder of the user's
    refused unless forced."""
    check_not_input([out] + [out / name for name in writes], config_inputs(config) + list(inputs))
    claim_output_dir(out, "run", force=force, writes=writes, create=False)


def check_analysis_inputs(corpus, config: CollectConfig, ratings, settings) -> None:
    """What the analysis after a collect will refuse, checked before the collect (``workbench run``):
    corpus emotions without a rating, and resampling counts too large for the memory available."""
    from workbench.analysis.memory import check_memory

    unrated = [e for e in corpus.emotions if e not in ratings.emotions]
    if unrated:
        raise InputError(f"corpus {corpus.name}: {len(unrated)} emotion(s) have no rating in the ratings file, so "
                         f"the analysis would refuse them after the collect: {unrated[:20]}")
    layers = parse_layers(config.layers)
    check_memory(len(corpus.emotions), max(corpus.stories_per_emotion().values(), default=1),
                 1 if layers == "all" else len(layers), settings.bootstrap, settings.permutations)


def collect_run(config: CollectConfig, out: Path, progress: bool = True, force: bool = False, ratings=None,
                settings=None):
    """Check the output folder, read the texts, load the model and collect. With ``ratings`` and
    ``settings`` (an AnalysisSettings), what the analysis would refuse is checked before the model loads."""
    import workbench as wb
    from workbench.collect import collect

    check_out(config, out, force)
    corpus, texts, meta = texts_for(config)
    if ratings is not None and settings is not None:
        check_analysis_inputs(corpus, config, ratings, settings)
    model = wb.load_model(config.model, backend=config.backend, dtype=config.dtype, device=config.device)
    acts = collect(model, texts, meta=meta, layers=parse_layers(config.layers), token_offset=config.token_offset,
                   max_length=config.max_length, max_tokens_per_batch=config.max_tokens_per_batch,
                   on_short=config.on_short, out=out, force=force, checkpoint_every=config.checkpoint_every,
                   progress=progress,
                   corpus_sha256=corpus.sha256, extra_info={"corpus": corpus.name,
                                                            "dropped_stories": list(corpus.dropped)})
    return model, corpus, acts


def run(args) -> int:
    config = dataclass_from_args(CollectConfig, args)
    _, corpus, acts = collect_run(config, args.out, force=args.force)
    info = acts.info
    print(json.dumps({"out": str(args.out), "texts": len(acts), "layers": len(acts.layers),
                      "d_model": acts.d_model, "corpus": corpus.name, "corpus_sha256": corpus.sha256,
                      "tokens_per_s": info.get("tokens_per_s"), "seconds": info.get("seconds"),
                      "skipped": len(info.get("skipped", [])), "truncated": len(info.get("truncated", []))}))
    return 0
