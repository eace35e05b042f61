"""Steering: interventions on block outputs, the recipes in ``hooks/``, and the dose-response experiment.

The names below are imported on first use (:mod:`workbench._lazy`): the CLI's
option declarations read :class:`SteerSettings` without importing torch.
"""

from typing import TYPE_CHECKING

from workbench._lazy import lazy_package

# name -> module that defines it
_EXPORTS = {
    "Direction": "workbench.steer.directions",
    "random_directions": "workbench.steer.directions",
    "resolve_direction": "workbench.steer.directions",
    "SteerPlan": "workbench.steer.experiment",
    "prepare_steering": "workbench.steer.experiment",
    "run_steering": "workbench.steer.experiment",
    "load_prompts": "workbench.steer.prompts",
    "available_recipes": "workbench.steer.recipes",
    "load_recipe": "workbench.steer.recipes",
    "SteeringResult": "workbench.steer.results",
    "SteerSettings": "workbench.steer.settings",
    "calibration_norm": "workbench.steer.steering",
    "residual_norm": "workbench.steer.steering",
    "steering": "workbench.steer.steering",
}

__all__ = ["steering", "residual_norm", "calibration_norm", "load_recipe", "available_recipes", "SteerSettings",
           "SteerPlan", "prepare_steering", "run_steering", "SteeringResult", "Direction", "resolve_direction",
           "random_directions", "load_prompts"]

if TYPE_CHECKING:  # the names the table resolves to, for type checkers (tests/test_import_cycles.py)
    from workbench.steer.directions import Direction, random_directions, resolve_direction
    from workbench.steer.experiment import SteerPlan, prepare_steering, run_steering
    from workbench.steer.prompts import load_prompts
    from workbench.steer.recipes import available_recipes, load_recipe
    from workbench.steer.results import SteeringResult
    from workbench.steer.settings import SteerSettings
    from workbench.steer.steering import calibration_norm, residual_norm, steering

lazy_package(__name__, _EXPORTS)
