"""Steering: interventions on block outputs, and the recipes in ``hooks/``."""

from workbench.steer.recipes import available_recipes, load_recipe
from workbench.steer.steering import residual_norm, steering

__all__ = ["steering", "residual_norm", "load_recipe", "available_recipes"]
