"""Plotly figures from analysis results; they never show themselves and never write files.

The names below are imported on first use (:mod:`workbench._lazy`), and plotly with them.
"""

from typing import TYPE_CHECKING

from workbench._lazy import lazy_package

# name -> module that defines it
_EXPORTS = {
    "cka_figure": "workbench.figures.cka",
    "cka_null_levels": "workbench.figures.cka",
    "cosine_figure": "workbench.figures.cosine",
    "depth_figure": "workbench.figures.depth",
    "monitor_heatmap": "workbench.figures.monitor",
    "monitor_lines": "workbench.figures.monitor",
    "ladder_figure": "workbench.figures.lens",
    "own_word_figure": "workbench.figures.lens",
    "pca_figure": "workbench.figures.pca",
    "elo_bars_figure": "workbench.figures.prefer",
    "elo_valence_figure": "workbench.figures.prefer",
    "preference_shift_figure": "workbench.figures.prefer",
    "dose_response_figure": "workbench.figures.steering",
    "token_figure": "workbench.figures.tokens",
}

__all__ = ["pca_figure", "depth_figure", "cka_figure", "cka_null_levels", "cosine_figure", "token_figure",
           "dose_response_figure", "monitor_heatmap", "monitor_lines",
           "own_word_figure", "ladder_figure", "elo_bars_figure", "elo_valence_figure", "preference_shift_figure"]

if TYPE_CHECKING:  # the names the table resolves to, for type checkers (tests/test_import_cycles.py)
    from workbench.figures.cka import cka_figure, cka_null_levels
    from workbench.figures.cosine import cosine_figure
    from workbench.figures.depth import depth_figure
    from workbench.figures.lens import ladder_figure, own_word_figure
    from workbench.figures.monitor import monitor_heatmap, monitor_lines
    from workbench.figures.pca import pca_figure
    from workbench.figures.prefer import elo_bars_figure, elo_valence_figure, preference_shift_figure
    from workbench.figures.steering import dose_response_figure
    from workbench.figures.tokens import token_figure

lazy_package(__name__, _EXPORTS)
