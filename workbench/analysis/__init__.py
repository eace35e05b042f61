"""Emotion vectors and their geometry against human valence and arousal (METHOD.md sections 4-5)."""

from workbench.analysis.analyze import analyze
from workbench.analysis.cka import linear_cka
from workbench.analysis.compare import compare_runs
from workbench.analysis.peak import Peak
from workbench.analysis.report import GeometryReport
from workbench.analysis.settings import AnalysisSettings
from workbench.analysis.vectors import EmotionVectors, emotion_vectors

__all__ = ["emotion_vectors", "EmotionVectors", "analyze", "GeometryReport", "Peak", "AnalysisSettings", "linear_cka",
           "compare_runs"]
