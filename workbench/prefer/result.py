"""``PreferenceResult``: the frozen result of a preference experiment, its summary, and save / load.

Files (``save``, under the run folder's writer lock): ``preferences.csv`` (one row per tournament and
ordered pair: the two activities, the logit gap, P(A)), ``preferences_summary.json`` (Elo per activity
with intervals, position bias, the Elo-valence r, the shift of every steered and ablated tournament,
the across-direction correlation, settings, timings), then the ``prefer`` section of ``manifest.json``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from workbench.runfolder.manifest import json_safe
from workbench.runfolder.tables import load_rows_and_summary, save_rows_and_summary

__all__ = ["PreferenceResult", "summarize", "PREFER_FILES"]

PREFER_FILES = ("preferences.csv", "preferences_summary.json")
CSV_COLUMNS = ("condition", "kind", "direction", "alpha", "first", "second", "first_text", "second_text", "gap",
               "p_first")
FORMAT = 1


@dataclass(frozen=True, eq=False)
class PreferenceResult:
    """``rows``: one dict per tournament and ordered pair (:data:`CSV_COLUMNS`); ``summary``: the statistics."""

    rows: tuple[dict, ...]
    summary: dict = field(default_factory=dict)

    def save(self, directory: str | Path) -> Path:
        s = self.summary
        return save_rows_and_summary(directory, "prefer", PREFER_FILES, FORMAT, s, CSV_COLUMNS, self.rows, {
            "layer": s["info"]["layer"], "settings": s["info"]["settings"], "made_from": s["info"]["made_from"],
            "headline": {"elo_valence_r": s["elo_valence"]["r"], "p_perm": s["elo_valence"]["p_perm"]}})

    @classmethod
    def load(cls, directory: str | Path) -> PreferenceResult:
        rows, summary = load_rows_and_summary(directory, PREFER_FILES, FORMAT, "preference result",
                                              f"workbench prefer {directory} --layer L")
        return cls(rows, summary)


def _rows(plan, ordered, gaps) -> list[dict]:
    texts = plan.activities.texts
    by_name = {c.name: c for c in plan.conditions}
    return [{"condition": name, "kind": by_name[name].kind, "direction": by_name[name].direction,
             "alpha": by_name[name].alpha, "first": a, "second": b, "first_text": texts[a], "second_text": texts[b],
             "gap": repr(float(g)), "p_first": repr(float(1 / (1 + np.exp(-g))))}
            for name, gap in gaps.items() for (a, b), g in zip(ordered, gap)]


def _shifts(plan, names, gap_full, gap_boot) -> list[dict]:
    from workbench.prefer.stats import interval

    out = []
    for c, name in enumerate(names):
        cond = next(x for x in plan.conditions if x.name == name)
        shift_b = gap_boot[c] - gap_boot[0]
        ok = np.isfinite(shift_b)
        low, high = interval(shift_b[ok]) if ok.any() and c else (0.0, 0.0)
        out.append({"name": name, "kind": cond.kind, "direction": cond.direction, "alpha": cond.alpha,
                    "layers": list(cond.layers), "group_gap": float(gap_full[c]),
                    "shift": float(gap_full[c] - gap_full[0]), "ci_low": low, "ci_high": high})
    _versus_controls(plan, names, out, gap_full, gap_boot)
    return out


def _versus_controls(plan, names, out, gap_full, gap_boot) -> None:
    """Each steered (ablated) direction's shift minus the mean shift of the controls at the same alpha (the
    same layers), with a paired bootstrap interval."""
    from workbench.prefer.stats import interval

    conds = {x.name: x for x in plan.conditions}
    control_of = {"direction": "control", "ablation": "ablation-control"}
    for c, name in enumerate(names):
        cond = conds[name]
        if cond.kind not in control_of:
            continue
        peers = [k for k, other in enumerate(names) if conds[other].kind == control_of[cond.kind]
                 and conds[other].alpha == cond.alpha and conds[other].layers == cond.layers]
        if not peers:
            continue
        diff = gap_full[c] - gap_full[peers].mean()
        diff_b = gap_boot[c] - gap_boot[peers].mean(axis=0)
        ok = np.isfinite(diff_b)
        low, high = interval(diff_b[ok]) if ok.any() else (float("nan"), float("nan"))
        shifts = [float(gap_full[k] - gap_full[0]) for k in peers]
        out[c]["vs_controls"] = {"difference": float(diff), "ci_low": low, "ci_high": high, "control_shifts": shifts,
                                 "outside_controls": bool(out[c]["shift"] > max(shifts) or out[c]["shift"] < min(shifts))}


def _across(plan, shifts, projection_r) -> dict:
    """Per steered direction: its projection's r with the unsteered Elo, its shift per unit alpha; their r."""
    from workbench.analysis.stats import pearson

    rows = []
    for k, d in enumerate(plan.directions):
        own = [s for s in shifts if s["direction"] == d.name and s["kind"] in ("direction", "control")]
        alphas = np.array([s["alpha"] for s in own])
        values = np.array([s["shift"] for s in own])
        slope = float(np.polyfit(alphas, values, 1)[0]) if len(own) >= 2 else float(values[0] / alphas[0])
        rows.append({"direction": d.name, "kind": d.kind, "projection_elo_r": float(projection_r[k]),
                     "shift_per_alpha": slope})
    x = np.array([r["projection_elo_r"] for r in rows])
    y = np.array([r["shift_per_alpha"] for r in rows])
    return {"directions": rows, "r": float(pearson(x, y)) if len(rows) >= 3 else float("nan"), "n": len(rows)}


def summarize(plan, ordered, gaps, projections, perplexity, info) -> PreferenceResult:
    """The statistics of :mod:`workbench.prefer.stats` over every tournament of ``plan``."""
    from workbench.analysis.stats import pearson
    from workbench.prefer.bt import bootstrap_pairs, fit_bradley_terry, wins_matrix
    from workbench.prefer.stats import elo_valence, group_gap, interval, order_free, position_bias

    s, acts = plan.settings, plan.activities
    n = len(acts)
    names = list(gaps)
    qs, elos = [], []
    for name in names:
        i, j, q = order_free(ordered, gaps[name])
        qs.append(q)
        elos.append(fit_bradley_terry(wins_matrix(i, j, qs[-1], n)).elo)
    boot = bootstrap_pairs(i, j, qs[0], n, s.bootstrap, s.seed, extra=qs[1:])
    groups = np.array(acts.groups)
    gap_full = group_gap(np.array(elos), groups)
    gap_boot = group_gap(boot, groups)
    shifts = _shifts(plan, names, gap_full, gap_boot)
    per_activity = np.zeros((n, projections.shape[2]))
    counts = np.zeros(n)
    for (a, b), pr in zip(ordered, projections):
        per_activity[a] += pr[0]
        per_activity[b] += pr[1]
        counts[[a, b]] += 1
    per_activity /= counts[:, None]
    elo0 = elos[0]
    low, high = np.nanquantile(boot[0], [0.025, 0.975], axis=0)
    table = [{"text": acts.texts[k], "group": acts.groups[k], "category": acts.categories[k], "elo": float(elo0[k]),
              "ci_low": float(low[k]), "ci_high": float(high[k]), "valence_projection": float(per_activity[k, 0]),
              "projections": {d.name: float(per_activity[k, m]) for m, d in enumerate(plan.directions)}}
             for k in range(n)]
    projection_r = [float(pearson(elo0, per_activity[:, m])) for m in range(per_activity.shape[1])]
    gl, gh = interval(gap_boot[0][np.isfinite(gap_boot[0])])
    base_ppl = perplexity.get("unsteered")
    for entry in shifts:
        if entry["name"] in perplexity:
            entry["perplexity"] = perplexity[entry["name"]]
            entry["perplexity_ratio"] = perplexity[entry["name"]] / base_ppl if base_ppl else None
    summary = {
        "activities": table, "n_activities": n, "n_pairs": len(ordered) // 2,
        "position_bias": {name: position_bias(ordered, gaps[name]) for name in names},
        "elo_valence": elo_valence(elo0, per_activity[:, 0], boot[0], s.permutations, s.seed),
        "unsteered_group_gap": {"gap": float(gap_full[0]), "ci_low": gl, "ci_high": gh},
        "conditions": shifts, "across_directions": _across(plan, shifts[1:], projection_r),
        "unsteered_perplexity": base_ppl, "info": info,
    }
    return PreferenceResult(tuple(_rows(plan, ordered, gaps)), json_safe(summary))
