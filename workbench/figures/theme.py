"""One look for every figure: a plotly template, colour scales and the reference numbers.

Nothing is registered at import time; :func:`styled` applies the template to a figure.
"""

from __future__ import annotations

from functools import lru_cache

import plotly.graph_objects as go

__all__ = ["DIVERGING", "SEQUENTIAL", "PALETTE", "DASHES", "REFERENCE", "template", "styled", "fmt"]

DIVERGING = "RdBu"  # negative red, positive blue; always used with a symmetric range (zmid 0)
SEQUENTIAL = "Viridis"
PALETTE = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C")
DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
# The paper's Claude Sonnet 4.5 correlations (PC1 with valence, PC2 with arousal).
REFERENCE = {"valence": 0.81, "arousal": 0.66}
REFERENCE_LABEL = "Claude Sonnet 4.5 (paper)"


@lru_cache(maxsize=1)
def template() -> go.layout.Template:
    """The workbench template: white background, light grid, one font, the palette as colorway."""
    axis = dict(showgrid=True, gridcolor="#E5E5E5", zeroline=True, zerolinecolor="#BDBDBD", linecolor="#7F7F7F",
                ticks="outside", showline=True, mirror=False)
    return go.layout.Template(layout=go.Layout(
        font=dict(family="Inter, Helvetica, Arial, sans-serif", size=13, color="#222222"),
        paper_bgcolor="white", plot_bgcolor="white", colorway=list(PALETTE),
        xaxis=axis, yaxis=axis, hoverlabel=dict(font_size=12),
        title=dict(x=0.02, xanchor="left", font=dict(size=15)),
        margin=dict(l=60, r=30, t=80, b=60), legend=dict(bgcolor="rgba(255,255,255,0.8)"),
    ))


def styled(fig: go.Figure, **layout) -> go.Figure:
    """``fig`` with the workbench template and ``layout`` applied (returns the same figure)."""
    fig.update_layout(template=template(), **layout)
    return fig


def fmt(x, digits: int = 2) -> str:
    """A number for a title: a missing one (None, NaN) shown as an en dash."""
    from workbench.values import format_number

    return format_number(x, f".{digits}f", missing="–")
