"""Cosines between the layers' valence directions: the heatmap and the adjacent-layer line."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from workbench.errors import InputError
from workbench.figures.cka import square
from workbench.figures.theme import DIVERGING, PALETTE, styled

__all__ = ["cosine_figure"]


def cosine_figure(cosine_matrix, layers=None) -> go.Figure:
    """Heatmap of ``cosine_matrix`` ``[L, L]`` (cos of valence directions) beside cos(l, l+1).

    The line's point at layer ``layers[i]`` is ``cosine_matrix[i, i + 1]``: how much the
    direction turns on the way to the next analysed layer.
    """
    m = square(cosine_matrix, "cosine_figure: cosine_matrix")
    layers = list(range(m.shape[0])) if layers is None else [int(x) for x in layers]
    if len(layers) != m.shape[0]:
        raise InputError(f"cosine_figure: {len(layers)} layer labels for a {m.shape[0]} x {m.shape[0]} matrix")
    fig = make_subplots(rows=1, cols=2, column_widths=[0.55, 0.45], horizontal_spacing=0.14,
                        subplot_titles=["cos(valence direction l, l')", "adjacent layers: cos(l, l+1)"])
    fig.add_trace(go.Heatmap(z=m, x=layers, y=layers, colorscale=DIVERGING, zmin=-1.0, zmax=1.0, zmid=0.0,
                             name="cosine", colorbar=dict(title=dict(text="cosine"), x=0.47, thickness=12, len=0.9),
                             hovertemplate="layer %{y} vs %{x}<br>cos = %{z:.3f}<extra></extra>"), row=1, col=1)
    adjacent = np.diagonal(m, offset=1)
    fig.add_trace(go.Scatter(x=layers[:-1], y=adjacent, mode="lines+markers", name="cos(l, l+1)",
                             line=dict(color=PALETTE[0], width=2), customdata=layers[1:], showlegend=False,
                             hovertemplate="layer %{x} → %{customdata}<br>cos = %{y:.3f}<extra></extra>"),
                  row=1, col=2)
    fig.update_xaxes(title_text="layer", row=1, col=1, showgrid=False, zeroline=False, constrain="domain")
    fig.update_yaxes(title_text="layer", row=1, col=1, autorange="reversed", scaleanchor="x", showgrid=False,
                     zeroline=False)
    fig.update_xaxes(title_text="layer l", row=1, col=2)
    fig.update_yaxes(title_text="cosine", range=[-1.05, 1.05], row=1, col=2)
    return styled(fig, height=480, title=dict(text="Valence directions across layers"))
