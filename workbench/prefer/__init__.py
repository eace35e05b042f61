"""Preferences between activities: Bradley-Terry tournaments read from two logits, against the valence
projection, under steering and ablation.

The names below are imported on first use (:mod:`workbench._lazy`).
"""

from workbench._lazy import lazy_package

# name -> module that defines it
_EXPORTS = {
    "fit_bradley_terry": "workbench.prefer.bt",
    "wins_matrix": "workbench.prefer.bt",
    "load_activities": "workbench.prefer.activities",
    "PreferSettings": "workbench.prefer.settings",
    "prepare_prefer": "workbench.prefer.experiment",
    "run_prefer": "workbench.prefer.experiment",
    "PreferenceResult": "workbench.prefer.result",
    "resummarize": "workbench.prefer.again",
}

__all__ = ["fit_bradley_terry", "wins_matrix", "load_activities", "PreferSettings", "prepare_prefer", "run_prefer",
           "PreferenceResult", "resummarize"]

lazy_package(__name__, _EXPORTS)
