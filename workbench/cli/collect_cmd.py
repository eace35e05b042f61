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
    parser.add_argument("--remote", nargs="?", const="ndif", default=None, choices=("ndif", "local"),
                        help="run each batch as an nnsight trace on NDIF (--remote; the model is built on the meta "
                             "device, the key comes from NDIF_API_KEY or `nnsight login`), or through nnsight's "
                             "local simulation of a remote run (--remote local); only pooled sums come back")
    parser.add_argument("--shard", default=None, metavar="I/N",
                        help="run batches I, I+N, I+2N, ... of the plan (shards numbered from 0) and write a "
                             "partial run to --out; `workbench merge` adds the N shards into the full run")
    parser.set_defaults(func=run)


def _model_for(config: CollectConfig, remote: str | None):
    import workbench as wb

    if remote == "ndif":
        from workbench.models.hf import resolve
        from workbench.models.ndif import check_remote_ready
        from workbench.models.remote_model import load_remote_model

        resolved = resolve(config.model)
        if resolved.source == "hub":  # before the config and tokenizer are fetched
            check_remote_ready(resolved.location)
        return load_remote_model(config.model)
    return wb.load_model(config.model, backend=config.backend, dtype=config.dtype, device=config.device)


def collect_run(config: CollectConfig, out: Path, progress: bool = True, remote: str | None = None,
                shard: str | None = None):
    from workbench.pipeline import select_corpus

    corpus = select_corpus(config.corpus, config.emotions, config.drop_flagged)  # a bad corpus fails before torch loads
    from transformers.utils import logging as hf_logging

    from workbench.collect import collect

    hf_logging.disable_progress_bar()  # the collect bar is the one progress display of this stage
    model = _model_for(config, remote)
    acts = collect(model, corpus, neutral=config.neutral, layers=parse_layers(config.layers),
                   token_offset=config.token_offset, max_length=config.max_length,
                   max_tokens_per_batch=config.max_tokens_per_batch, on_short=config.on_short,
                   read_as=config.read_as, out=out, checkpoint_every=config.checkpoint_every, progress=progress,
                   remote={None: False, "ndif": True, "local": "local"}[remote], shard=shard)
    return model, corpus, acts


def run(args) -> int:
    config = dataclass_from_args(CollectConfig, args)
    if args.shard is not None:
        from workbench.collect.shards import parse_shard

        parse_shard(args.shard)  # before a model is loaded
    _, corpus, acts = collect_run(config, args.out, remote=args.remote, shard=args.shard)
    info = acts.info
    print(json.dumps({"out": str(args.out), "texts": len(acts), "layers": len(acts.layers),
                      "d_model": acts.d_model, "corpus": corpus.name, "corpus_sha256": corpus.sha256,
                      "tokens_per_s": info.get("tokens_per_s"), "seconds": info.get("seconds"),
                      "skipped": len(info.get("skipped", [])), "truncated": len(info.get("truncated", []))}))
    return 0
