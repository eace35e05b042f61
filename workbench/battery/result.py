"""``score_battery``: the battery's statistics from its readings and the emotion vectors; ``BatteryResult``.

Files (``BatteryResult.save``): ``battery_summary.json`` (per ladder and per
scenario, the rates and the nulls, the settings) and ``battery.csv`` (one row
per item and reading: the target's z-scored activation and rank, the top
emotions), then the ``battery`` section of ``manifest.json``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from workbench.battery.stats import READINGS, ladder_stats, null_summary, scenario_stats, zscorer
from workbench.errors import InputError
from workbench.runfolder.manifest import json_safe
from workbench.runfolder.tables import load_rows_and_summary, save_rows_and_summary

__all__ = ["BatteryResult", "score_battery", "BATTERY_FILES"]

BATTERY_FILES = ("battery_summary.json", "battery.csv")
CSV_COLUMNS = ("kind", "name", "target", "rung", "value", "reading", "target_z", "target_rank", "top_emotions")
FORMAT = 1


@dataclass(frozen=True, eq=False)
class BatteryResult:
    """``rows``: one dict per item and reading (:data:`CSV_COLUMNS`); ``summary``: ladders, scenarios, settings."""

    rows: tuple[dict, ...]
    summary: dict = field(default_factory=dict)

    def ladder(self, name: str, reading: str = "user_last") -> dict:
        for entry in self.summary["ladders"]:
            if entry["name"] == name:
                return entry[reading]
        raise InputError(f"battery result: no ladder {name!r}")

    def save(self, directory: str | Path) -> Path:
        s = self.summary
        headline = {r: {"mean_rho": s["ladder_mean"][r]["rho"], "top3": s["scenarios"][r]["top3"]["rate"]}
                    for r in READINGS}
        return save_rows_and_summary(directory, "battery", BATTERY_FILES, FORMAT, s, CSV_COLUMNS, self.rows, {
            "layer": s["layer"], "settings": s["settings"], "headline": headline})

    @classmethod
    def load(cls, directory: str | Path) -> BatteryResult:
        rows, summary = load_rows_and_summary(directory, BATTERY_FILES, FORMAT, "battery result",
                                              f"workbench battery {directory} --layer L")
        return cls(rows, summary)


def _units(t) -> np.ndarray:
    a = np.asarray(t, dtype=np.float64)
    norms = np.linalg.norm(a, axis=1, keepdims=True)
    if (norms == 0).any() or not np.isfinite(a).all():
        raise InputError("battery: an emotion vector is zero or not finite at the layer")
    return a / norms


def score_battery(states, vectors, kind: str = "contrast", n_random: int = 2000, n_sets: int = 10000,
                  seed: int = 0) -> BatteryResult:
    """Statistics of :func:`~workbench.battery.read.read_battery`'s readings (see :mod:`workbench.battery.stats`)."""
    emotions = tuple(vectors.emotions)
    missing = sorted({it["target"] for it in states.items} - set(emotions))
    if missing:
        raise InputError(f"battery: target emotion(s) {missing} have no vector in the run")
    units = _units(vectors.kind(kind)[vectors.layer_index(states.layer)].double().numpy())
    if units.shape[1] != states.user_last.shape[1]:
        raise InputError(f"battery: the vectors have d_model {units.shape[1]}, the readings "
                         f"{states.user_last.shape[1]}")
    rng = np.random.default_rng(seed)
    random_units = _units(rng.standard_normal((n_random, units.shape[1])))
    z_of = zscorer(units, states.neutral_mean, states.neutral_cov)
    zr_of = zscorer(random_units, states.neutral_mean, states.neutral_cov)
    readings = {"user_last": states.user_last, "opening": states.opening}
    z = {r: z_of(readings[r]) for r in READINGS}
    index = {e: i for i, e in enumerate(emotions)}
    items, rows = states.items, []
    for r in READINGS:
        for i, it in enumerate(items):
            top = np.argsort(-z[r][i])[:3]
            t = index[it["target"]]
            rows.append({**{k: it[k] for k in ("kind", "name", "target", "rung", "value")}, "reading": r,
                         "target_z": float(z[r][i, t]), "target_rank": int(1 + np.sum(z[r][i] > z[r][i, t])),
                         "top_emotions": " ".join(emotions[j] for j in top)})
    ladders: list[dict] = []
    nulls: dict[str, list] = {r: [] for r in READINGS}
    for name in dict.fromkeys(it["name"] for it in items if it["kind"] == "ladder"):
        idx = [i for i, it in enumerate(items) if it["kind"] == "ladder" and it["name"] == name]
        target = items[idx[0]]["target"]
        entry = {"name": name, "target": target, "values": [items[i]["value"] for i in idx]}
        for r in READINGS:
            s = ladder_stats(readings[r][idx], index[target], units, random_units)
            nulls[r].append(s.pop("_null"))
            entry[r] = {**s, "target_z": z[r][idx, index[target]].tolist()}
        ladders.append(entry)
    ladder_mean = {}
    for r in READINGS:
        if not ladders:
            ladder_mean[r] = {"rho": float("nan")}
            continue
        observed = float(np.mean([e[r]["rho"] for e in ladders]))
        pool = np.stack(nulls[r])  # [n_ladders, n_random]
        draws = rng.integers(pool.shape[1], size=(n_sets, len(pool)))
        ladder_mean[r] = {"rho": observed, **null_summary(observed, pool[np.arange(len(pool)), draws].mean(axis=1))}
    sc = [i for i, it in enumerate(items) if it["kind"] == "scenario"]
    scenarios = {}
    for r in READINGS:
        if not sc:
            scenarios[r] = {"top1": {"rate": float("nan")}, "top3": {"rate": float("nan")}, "ranks": []}
            continue
        scenarios[r] = scenario_stats(z[r][sc], [index[items[i]["target"]] for i in sc],
                                      zr_of(readings[r][sc]), n_sets, rng)
    summary = {"layer": states.layer, "model": states.info.get("model"), "n_emotions": len(emotions),
               "ladders": ladders, "ladder_mean": ladder_mean, "scenarios": scenarios,
               "scenario_items": [{"name": items[i]["name"], "target": items[i]["target"]} for i in sc],
               "n_opening_tokens": sorted(set(states.n_opening)),
               "settings": {"kind": kind, "n_random": n_random, "n_sets": n_sets, "seed": seed,
                            "n_neutral_tokens": states.n_neutral_tokens, **states.info}}
    return BatteryResult(tuple(rows), json_safe(summary))  # NaN as None, for JSON
