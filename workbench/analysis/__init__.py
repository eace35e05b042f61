"""Emotion vectors and their geometry against human valence and arousal (METHOD.md sections 4-5).

The names below are imported on first use (:mod:`workbench._lazy`): the CLI's
option declarations read :class:`AnalysisSettings` without importing torch.
"""

from typing import TYPE_CHECKING

from workbench._lazy import lazy_package

# name -> module that defines it
_EXPORTS = {
    "analyze": "workbench.analysis.analyze",
    "linear_cka": "workbench.analysis.cka",
    "compare_runs": "workbench.analysis.compare",
    "Peak": "workbench.analysis.peak",
    "GeometryReport": "workbench.analysis.report",
    "AnalysisSettings": "workbench.analysis.settings",
    "EmotionVectors": "workbench.analysis.vectors",
    "emotion_vectors": "workbench.analysis.vectors",
}

__all__ = ["emotion_vectors", "EmotionVectors", "analyze", "GeometryReport", "Peak", "AnalysisSettings", "linear_cka",
           "compare_runs"]

if TYPE_CHECKING:  # the names the table resolves to, for type checkers (tests/test_import_cycles.py)
    from workbench.analysis.analyze import analyze
    from workbench.analysis.cka import linear_cka
    from workbench.analysis.compare import compare_runs
    from workbench.analysis.peak import Peak
    from workbench.analysis.report import GeometryReport
    from workbench.analysis.settings import AnalysisSettings
    from workbench.analysis.vectors import EmotionVectors, emotion_vectors

lazy_package(__name__, _EXPORTS)
