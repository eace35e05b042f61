"""Steering: interventions on block outputs, the recipes in ``hooks/``, and the dose-response experiment.

The names below are imported on first use (:mod:`workbench._lazy`): the CLI's
option declarations read :class:`SteerSettings` without importing torch.
"""

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

lazy_package(__name__, _EXPORTS)
