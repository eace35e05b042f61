"""Reading the residual stream: per-text means of ``resid_post`` at every layer."""

from workbench.collect.activations import StoryActivations
from workbench.collect.run import collect

__all__ = ["collect", "StoryActivations"]
