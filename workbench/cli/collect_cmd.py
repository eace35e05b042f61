"""``workbench collect``: per-text mean resid_post at every layer, for a corpus and the neutral texts."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from workbench.cli.options import add_dataclass_options, dataclass_from_args
from workbench.collect.config import CollectConfig, parse_layers

log = logging.getLogger(__name__)


def register(sub) -> None:
    parser = sub.add_parser("collect", help="read resid_post means at every layer for a corpus",
                            description=__doc__)
    parser.add_argument("--out", required=True, type=Path, help="run folder to write (resumes if interrupted)")
    add_dataclass_options(parser, CollectConfig)
    parser.set_defaults(func=run)


def collect_run(config: CollectConfig, out: Path, progress: bool = True):
    from workbench.pipeline import select_corpus

    corpus = select_corpus(config.corpus, config.emotions, config.drop_flagged)  # a bad corpus fails before torch loads
    from transformers.utils import logging as hf_logging

    import workbench as wb
    from workbench.collect import collect

    hf_logging.disable_progress_bar()  # the collect bar is the one progress display of this stage
    model = wb.load_model(config.model, backend=config.backend, dtype=config.dtype, device=config.device)
    acts = collect(model, corpus, neutral=config.neutral, layers=parse_layers(config.layers),
                   token_offset=config.token_offset, max_length=config.max_length,
                   max_tokens_per_batch=config.max_tokens_per_batch, on_short=config.on_short,
                   read_as=config.read_as, out=out,
                   checkpoint_every=config.checkpoint_every, progress=progress)
    return model, corpus, acts


def run(args) -> int:
    config = dataclass_from_args(CollectConfig, args)
    _, corpus, acts = collect_run(config, args.out)
    info = acts.info
    print(json.dumps({"out": str(args.out), "texts": len(acts), "layers": len(acts.layers),
                      "d_model": acts.d_model, "corpus": corpus.name, "corpus_sha256": corpus.sha256,
                      "tokens_per_s": info.get("tokens_per_s"), "seconds": info.get("seconds"),
                      "skipped": len(info.get("skipped", [])), "truncated": len(info.get("truncated", []))}))
    return 0
