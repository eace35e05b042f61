"""``workbench collect``: per-text mean resid_post at every layer, for a corpus and the neutral texts."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from workbench.cli.options import add_dataclass_options, dataclass_from_args
from workbench.collect.config import CollectConfig, parse_layers
from workbench.runfolder import COLLECT_FILES, check_not_input, claim_output_dir

log = logging.getLogger(__name__)


def register(sub) -> None:
    parser = sub.add_parser("collect", help="read resid_post means at every layer for a corpus",
                            description=__doc__)
    parser.add_argument("--out", required=True, type=Path,
                        help="run folder to write (resumes if interrupted): a new or empty folder, or a run folder")
    add_force_option(parser)
    add_dataclass_options(parser, CollectConfig)
    parser.add_argument("--remote", nargs="?", const="ndif", default=None, choices=("ndif", "local"),
                        help="run each batch as an nnsight trace on NDIF (--remote; the model is built on the meta "
                             "device, the key comes from NDIF_API_KEY or `nnsight login`), or through nnsight's "
                             "local simulation of a remote run (--remote local); only pooled sums come back")
    parser.add_argument("--shard", default=None, metavar="I/N",
                        help="run batches I, I+N, I+2N, ... of the plan (shards numbered from 0) and write a "
                             "partial run to --out; `workbench merge` adds the N shards into the full run")
    parser.set_defaults(func=run)


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
                shard: str | None = None, force: bool = False, ratings=None, settings=None):
    """Check the output folder, read the texts, load the model and collect. With ``ratings`` and
    ``settings`` (an AnalysisSettings), what the analysis would refuse is checked before the model loads."""
    from workbench.pipeline import check_analysis_inputs, select_corpus

    check_out(config, out, force)

    corpus = select_corpus(config.corpus, config.emotions, config.drop_flagged)  # a bad corpus fails before torch loads
    if ratings is not None and settings is not None:
        check_analysis_inputs(corpus, config, ratings, settings)
    from transformers.utils import logging as hf_logging

    from workbench.collect import collect

    hf_logging.disable_progress_bar()  # the collect bar is the one progress display of this stage
    model = _model_for(config, remote)
    acts = collect(model, corpus, neutral=config.neutral, layers=parse_layers(config.layers),
                   token_offset=config.token_offset, max_length=config.max_length,
                   max_tokens_per_batch=config.max_tokens_per_batch, on_short=config.on_short,
                   read_as=config.read_as, out=out, force=force, checkpoint_every=config.checkpoint_every,
                   progress=progress,
                   remote={None: False, "ndif": True, "local": "local"}[remote], shard=shard)
    return model, corpus, acts


def run(args) -> int:
    config = dataclass_from_args(CollectConfig, args)
    if args.shard is not None:
        from workbench.collect.shards import parse_shard

        parse_shard(args.shard)  # before a model is loaded
    _, corpus, acts = collect_run(config, args.out, remote=args.remote, shard=args.shard, force=args.force)
    info = acts.info
    print(json.dumps({"out": str(args.out), "texts": len(acts), "layers": len(acts.layers),
                      "d_model": acts.d_model, "corpus": corpus.name, "corpus_sha256": corpus.sha256,
                      "tokens_per_s": info.get("tokens_per_s"), "seconds": info.get("seconds"),
                      "skipped": len(info.get("skipped", [])), "truncated": len(info.get("truncated", []))}))
    return 0
