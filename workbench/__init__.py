"""workbench: emotion vectors in open LLMs, from residual streams to steering.

The public API is imported lazily, so ``import workbench`` does no work.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "load_model": "workbench.models",
    "ModelSpec": "workbench.models.spec",
    "ModelAdapter": "workbench.models.adapter",
    "load_ratings": "workbench.data.ratings",
    "Ratings": "workbench.data.ratings",
    "StoryActivations": "workbench.collect.activations",
    "collect": "workbench.collect",
    "run": "workbench.pipeline",
    "RunResult": "workbench.pipeline",
    "ActivationCache": "workbench.models.cache",
    "load_corpus": "workbench.data.corpus",
    "Corpus": "workbench.data.corpus",
    "load_neutral_texts": "workbench.data.neutral",
    "validate": "workbench.data.validate",
    "generate_stories": "workbench.data.generate",
    "emotion_vectors": "workbench.analysis",
    "EmotionVectors": "workbench.analysis",
    "analyze": "workbench.analysis",
    "GeometryReport": "workbench.analysis",
    "Peak": "workbench.analysis",
    "AnalysisSettings": "workbench.analysis",
    "linear_cka": "workbench.analysis",
    "compare_runs": "workbench.analysis",
    "figures": "workbench",
    "steering": "workbench.steer",
    "SteerSettings": "workbench.steer",
    "prepare_steering": "workbench.steer",
    "run_steering": "workbench.steer",
    "SteeringResult": "workbench.steer",
    "resolve_direction": "workbench.steer",
    "write_report": "workbench.report",
    "token_projections": "workbench.report",
    "WorkbenchError": "workbench.errors",
    "monitor": "workbench.monitor",
    "MonitorResult": "workbench.monitor",
    "vector_logit_lens": "workbench.lens",
    "LogitLens": "workbench.lens",
    "run_battery": "workbench.battery",
    "load_battery": "workbench.battery",
    "BatteryResult": "workbench.battery",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name == "figures":
        return importlib.import_module("workbench.figures")
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_EXPORTS))
