"""Emotion vectors and their geometry against human valence and arousal (METHOD.md sections 4-5).

Its names are imported on first use (:mod:`workbench._lazy`): :class:`AnalysisSettings`
is read without torch.
"""

from typing import TYPE_CHECKING

from workbench._lazy import lazy_package

__all__ = ["emotion_vectors", "EmotionVectors", "analyze", "GeometryReport", "Peak", "AnalysisSettings", "linear_cka",
           "compare_runs"]

if TYPE_CHECKING:  # the public names and their modules: the lazy table (workbench._lazy)
    from workbench.analysis.analyze import analyze
    from workbench.analysis.cka import linear_cka
    from workbench.analysis.compare import compare_runs
    from workbench.analysis.peak import Peak
    from workbench.analysis.report import GeometryReport
    from workbench.analysis.settings import AnalysisSettings
    from workbench.analysis.vectors import EmotionVectors, emotion_vectors

lazy_package(__name__)
