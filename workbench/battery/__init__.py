"""Intensity ladders and implicit scenarios: does a vector track how much of its emotion a text carries?

``run_battery(model, vectors, layer)`` reads every item (:mod:`workbench.battery.read`)
and scores it (:mod:`workbench.battery.stats`) beside random-direction nulls.
"""

from workbench.battery.data import DEFAULT_BATTERY, Battery, Ladder, Scenario, load_battery
from workbench.battery.read import BatteryStates, read_battery
from workbench.battery.result import BATTERY_FILES, BatteryResult, score_battery

__all__ = ["run_battery", "load_battery", "read_battery", "score_battery", "Battery", "Ladder", "Scenario",
           "BatteryStates", "BatteryResult", "DEFAULT_BATTERY", "BATTERY_FILES"]


def run_battery(model, vectors, layer: int, battery=None, kind: str = "contrast", n_random: int = 2000,
                seed: int = 0, neutral_texts=None) -> BatteryResult:
    """Read and score ``battery`` (a :class:`Battery`, a path, or None for the project's) at block ``layer``."""
    if not isinstance(battery, Battery):
        battery = load_battery(battery)
    states = read_battery(model, battery, layer, neutral_texts=neutral_texts)
    return score_battery(states, vectors, kind=kind, n_random=n_random, seed=seed)
