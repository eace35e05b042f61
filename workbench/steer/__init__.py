"""Steering: interventions on block outputs, the recipes in ``hooks/``, and the dose-response experiment.

Its names are imported on first use (:mod:`workbench._lazy`): :class:`SteerSettings` is
read without torch.
"""

from typing import TYPE_CHECKING

from workbench._lazy import lazy_package

__all__ = ["steering", "residual_norm", "calibration_norm", "load_recipe", "available_recipes", "SteerSettings",
           "SteerPlan", "prepare_steering", "run_steering", "SteeringResult", "Direction", "resolve_direction",
           "random_directions", "load_prompts"]

if TYPE_CHECKING:  # the public names and their modules: the lazy table (workbench._lazy)
    from workbench.steer.directions import Direction, random_directions, resolve_direction
    from workbench.steer.experiment import SteerPlan, prepare_steering, run_steering
    from workbench.steer.prompts import load_prompts
    from workbench.steer.recipes import available_recipes, load_recipe
    from workbench.steer.results import SteeringResult
    from workbench.steer.settings import SteerSettings
    from workbench.steer.steering import calibration_norm, residual_norm, steering

lazy_package(__name__)
