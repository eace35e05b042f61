"""Plotly figures from analysis results; they never show themselves and never write files.

Its names are imported on first use (:mod:`workbench._lazy`), plotly with the first figure.
"""

from typing import TYPE_CHECKING

from workbench._lazy import lazy_package

__all__ = ["pca_figure", "depth_figure", "cka_figure", "cka_null_levels", "cosine_figure", "token_figure",
           "dose_response_figure", "monitor_heatmap", "monitor_lines",
           "own_word_figure", "ladder_figure", "elo_bars_figure", "elo_valence_figure", "preference_shift_figure"]

if TYPE_CHECKING:  # the public names and their modules: the lazy table (workbench._lazy)
    from workbench.figures.cka import cka_figure, cka_null_levels
    from workbench.figures.cosine import cosine_figure
    from workbench.figures.depth import depth_figure
    from workbench.figures.lens import ladder_figure, own_word_figure
    from workbench.figures.monitor import monitor_heatmap, monitor_lines
    from workbench.figures.pca import pca_figure
    from workbench.figures.prefer import elo_bars_figure, elo_valence_figure, preference_shift_figure
    from workbench.figures.steering import dose_response_figure
    from workbench.figures.tokens import token_figure

lazy_package(__name__)
