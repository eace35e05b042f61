"""``resummarize``: the statistics of a saved preference result computed again from its files, no model.

The logit gaps are in ``preferences.csv`` and each activity's projections in the summary; the per-prompt
projections are not kept, but the statistics use only their mean per activity, which a prompt table
holding each activity's mean reproduces exactly. Use it to recompute with another number of resamples
(``bootstrap=``, ``permutations=``) or after a fix of the statistics.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

__all__ = ["resummarize"]


def resummarize(run_dir: str | Path, **changes):
    """A new :class:`~workbench.prefer.result.PreferenceResult` from the files of ``run_dir`` (not saved)."""
    from workbench.prefer.experiment import prepare_prefer
    from workbench.prefer.result import PreferenceResult, summarize
    from workbench.prefer.settings import PreferSettings

    old = PreferenceResult.load(run_dir)
    info = old.summary["info"]
    settings = replace(PreferSettings(**info["settings"]), **changes)
    plan = prepare_prefer(run_dir, settings)
    gaps: dict[str, list[float]] = {}
    ordered: list[tuple[int, int]] = []
    first = old.rows[0]["condition"]
    for r in old.rows:
        gaps.setdefault(r["condition"], []).append(float(r["gap"]))
        if r["condition"] == first:
            ordered.append((int(r["first"]), int(r["second"])))
    names = [d.name for d in plan.directions]
    per_activity = np.array([[a["projections"][n] for n in names] for a in old.summary["activities"]])
    projections = np.stack([per_activity[[a for a, _ in ordered]], per_activity[[b for _, b in ordered]]], axis=1)
    perplexity = {c["name"]: c["perplexity"] for c in old.summary["conditions"] if "perplexity" in c}
    if old.summary.get("unsteered_perplexity") is not None:
        perplexity["unsteered"] = old.summary["unsteered_perplexity"]
    info = {**info, "settings": settings.to_dict()}
    return summarize(plan, ordered, {k: np.array(v) for k, v in gaps.items()}, projections, perplexity, info)
