"""Plotly figures from analysis results; they never show themselves and never write files."""

from workbench.figures.cka import cka_figure, cka_null_levels
from workbench.figures.cosine import cosine_figure
from workbench.figures.depth import depth_figure
from workbench.figures.lens import ladder_figure, own_word_figure
from workbench.figures.pca import pca_figure
from workbench.figures.steering import dose_response_figure
from workbench.figures.tokens import token_figure

__all__ = ["pca_figure", "depth_figure", "cka_figure", "cka_null_levels", "cosine_figure", "token_figure",
           "dose_response_figure", "own_word_figure", "ladder_figure"]
