"""Preferences between activities: Bradley-Terry tournaments read from two logits, against the valence
projection, under steering and ablation.

Its names are imported on first use (:mod:`workbench._lazy`): :class:`PreferSettings` is
read without torch.
"""

from typing import TYPE_CHECKING

from workbench._lazy import lazy_package

__all__ = ["fit_bradley_terry", "wins_matrix", "load_activities", "PreferSettings", "prepare_prefer", "run_prefer",
           "PreferenceResult", "resummarize"]

if TYPE_CHECKING:  # the public names and their modules: the lazy table (workbench._lazy)
    from workbench.prefer.activities import load_activities
    from workbench.prefer.again import resummarize
    from workbench.prefer.bt import fit_bradley_terry, wins_matrix
    from workbench.prefer.experiment import prepare_prefer, run_prefer
    from workbench.prefer.result import PreferenceResult
    from workbench.prefer.settings import PreferSettings

lazy_package(__name__)
