"""``Peak``: the headline layer of one rating (valence on PC1, arousal on PC2), chosen honestly, and its text.

Two ways to choose the layer (METHOD.md section 5):

- ``cross-fit`` (default): chosen on the ratings of a random half of the emotions and reported on the
  other half, both ways round, over many random splits (:mod:`workbench.analysis.selection`). ``r`` is
  the mean held-out r; its interval comes from bootstrapping the whole select-then-estimate
  procedure (emotions resampled, the choice made again in every replicate); the significance of "the
  peak" is the max-statistic p (the permutation null of the maximum over layers).
- ``fixed depth``: the layer nearest a fractional depth given in advance (``peak_depth``, e.g. 0.66);
  no choice is made, so the layer's own |r|, interval and permutation p are the headline.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from workbench.values import format_number

__all__ = ["Peak", "peak_lines", "nan_peak"]


def _f(x) -> float:
    return math.nan if x is None else float(x)


@dataclass(frozen=True)
class Peak:
    """The headline numbers of one rating at its chosen layer (NaN where not defined)."""

    target: str  # "valence" or "arousal"
    component: int  # the PC read: 1 for valence, 2 for arousal
    layer: int | None  # None: no layer has a defined r
    depth: float
    selection: str  # how the layer was chosen, in words
    r: float  # cross-fit: mean r on held-out emotions; fixed depth: |r| on all emotions
    ci_low: float
    ci_high: float
    interval: str  # how (ci_low, ci_high) was made, in words
    max_stat_p: float  # family-wise over layers: the significance claim of "the peak"
    p_perm: float  # the layer's own permutation p (valid for a layer fixed in advance)
    q: float  # Benjamini-Hochberg across layers, at this layer
    r_in_sample: float  # |r| of the PC on all emotions at this layer (conditional on the choice)
    spread_low: float  # interquartile range of the held-out r over the splits (cross-fit)
    spread_high: float
    layer_share: float  # share of the cross-fit choices that went to this layer (1 for a fixed layer)
    ridge_heldout_r: float  # valence: ridge trained on the selection half at its chosen layer, r on the other
    ridge_cv_r: float  # valence: the layer's 5-fold ridge r over all emotions
    best_pc: int  # the PC (1..k) that fits this rating best at this layer
    best_pc_r: float
    best_pc_p: float  # permutation p of the maximum |r| over the k PCs
    explained: float  # share of variance of the PC read

    def to_dict(self, prefix: str) -> dict:
        return {prefix + k: v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict, prefix: str) -> Peak:
        values: dict[str, Any] = {}
        for f in fields(cls):
            v = d.get(prefix + f.name)
            values[f.name] = v if f.type in ("str", "int", "int | None") else _f(v)
        return cls(**values)

    @property
    def held_out(self) -> bool:
        return self.selection.startswith("cross-fit")


def nan_peak(target: str, component: int, selection: str) -> Peak:
    nan = math.nan
    return Peak(target, component, None, nan, selection, nan, nan, nan, "", nan, nan, nan, nan, nan, nan, nan,
                nan, nan, 0, nan, nan, nan)


def _n(x, digits=2):
    return format_number(x, f".{digits}f")


def _p(x):
    return format_number(x, ".3g")


def peak_lines(report) -> list[str]:
    """The few lines a reader wants first, one block per neutral-projection setting (the CLI prints them)."""
    lines = []
    for cond in report.conditions:
        tag = f"neutral projection {cond.label}"
        for k, name in ((cond.peak, "PC1-valence"), (cond.arousal_peak, "PC2-arousal")):
            if k.layer is None:
                lines.append(f"[{tag}] no layer has a defined {name} r")
                continue
            if k.held_out:
                held = "emotions and topics" if "topics" in k.selection else "emotions"
                how = (f"chosen on half the {held} in {100 * k.layer_share:.0f}% of the splits): r on the held-out "
                       f"{held} = {_n(k.r)} [{_n(k.ci_low)}, {_n(k.ci_high)}] (selection-aware), max-stat p = "
                       f"{_p(k.max_stat_p)}, in-sample r = {_n(k.r_in_sample)}")
            else:
                how = (f"fixed in advance): r = {_n(k.r)} [{_n(k.ci_low)}, {_n(k.ci_high)}], permutation p = "
                       f"{_p(k.p_perm)}")
            lines.append(f"[{tag}] {name}: layer {k.layer} (depth {_n(k.depth)}, {how}; best PC there: "
                         f"PC{k.best_pc} (r = {_n(k.best_pc_r)}, p = {_p(k.best_pc_p)})")
        v = cond.peak
        if v.layer is not None:
            b = cond.baseline
            lines.append(f"[{tag}] held-out ridge valence r at layer {v.layer}: {_n(v.ridge_heldout_r)} (trained on the "
                         f"selection half); block {b.get('layer')}: PC1 r = {_n(b.get('pc1_valence_r'))}, ridge r = "
                         f"{_n(b.get('valence_cv_r'))}")
    for name, b in (report.baselines or {}).items():
        lines.append(f"[no model: {name}] PC1 r = {_n(b.get('pc1_valence_r'))} (p = {_p(b.get('pc1_valence_p_perm'))}), "
                     f"best PC{b.get('best_valence_pc')} r = {_n(b.get('best_valence_r'))}, ridge r = "
                     f"{_n(b.get('valence_cv_r'))}")
    return lines


def selection_text(settings) -> str:
    if settings.peak_depth is not None:
        return f"fixed in advance at depth {settings.peak_depth:g}"
    return f"cross-fit over {settings.splits} random halves of the emotions"


def fixed_position(depth: np.ndarray, target_depth: float) -> int:
    """The layer position nearest ``target_depth`` (ties: the lower)."""
    return int(np.argmin(np.abs(np.asarray(depth) - target_depth)))
