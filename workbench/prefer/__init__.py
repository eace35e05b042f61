"""Preferences between activities: Bradley-Terry tournaments read from two logits, against the valence
projection, under steering and ablation.

The names below are imported on first use (:mod:`workbench._lazy`).
"""

from typing import TYPE_CHECKING

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

if TYPE_CHECKING:  # the names the table resolves to, for type checkers (tests/test_import_cycles.py)
    from workbench.prefer.activities import load_activities
    from workbench.prefer.again import resummarize
    from workbench.prefer.bt import fit_bradley_terry, wins_matrix
    from workbench.prefer.experiment import prepare_prefer, run_prefer
    from workbench.prefer.result import PreferenceResult
    from workbench.prefer.settings import PreferSettings

lazy_package(__name__, _EXPORTS)
