"""Intensity ladders and implicit scenarios: does a vector track how much of its emotion a text carries?

``run_battery(model, vectors, layer)`` reads every item (:mod:`workbench.battery.read`)
and scores it (:mod:`workbench.battery.stats`) beside random-direction nulls.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.battery.data import DEFAULT_BATTERY, Battery, Ladder, Scenario, load_battery
from workbench.battery.read import BatteryStates, read_battery
from workbench.battery.result import BATTERY_FILES, BatteryResult, score_battery

if TYPE_CHECKING:
    from workbench.analysis.vectors import EmotionVectors
    from workbench.models.adapter import ModelAdapter

__all__ = ["run_battery", "load_battery", "read_battery", "score_battery", "Battery", "Ladder", "Scenario",
           "BatteryStates", "BatteryResult", "DEFAULT_BATTERY", "BATTERY_FILES"]


def run_battery(model: ModelAdapter, vectors: EmotionVectors, layer: int, battery: Battery | str | Path | None = None,
                kind: str = "contrast", n_random: int = 2000, seed: int = 0,
                neutral_texts: Sequence[str] | None = None) -> BatteryResult:
    """Read and score ``battery`` (a :class:`Battery`, a path, or None for the project's) at block ``layer``."""
    if not isinstance(battery, Battery):
        battery = load_battery(battery)
    states = read_battery(model, battery, layer, neutral_texts=neutral_texts)
    return score_battery(states, vectors, kind=kind, n_random=n_random, seed=seed)
