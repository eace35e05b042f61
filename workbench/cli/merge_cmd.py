"""``workbench merge SHARD_DIR... --out RUN``: add the shards of one collect into its run folder."""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["register"]


def register(sub) -> None:
    parser = sub.add_parser("merge", help="merge the shards of a `workbench collect --shard I/N` into one run folder",
                            description="Check that the shard folders share one plan (model, texts sha256, offset, "
                                        "layers, batches) and cover every batch once, add their pooled means and "
                                        "write the run folder --out, as a one-process collect would have.")
    parser.add_argument("shards", nargs="+", type=Path, metavar="SHARD_DIR", help="the folders the shards wrote")
    parser.add_argument("--out", required=True, type=Path, help="run folder to write")
    parser.set_defaults(func=run)


def run(args) -> int:
    from workbench.collect.shards import merge_shards

    acts = merge_shards(args.shards, args.out)
    print(json.dumps({"out": str(args.out), "texts": len(acts), "layers": len(acts.layers), "shards": len(args.shards)}))
    return 0
