"""A text shown token by token, each token coloured by its projection on the valence direction."""

from __future__ import annotations

import html

import numpy as np
import plotly.graph_objects as go

from workbench.errors import InputError
from workbench.figures.theme import DIVERGING, styled

__all__ = ["token_figure", "display_token"]


def display_token(token: str) -> str:
    """A token as shown in a cell: HTML-escaped, line breaks as ↵, tabs as →, a blank token as ·."""
    shown = html.escape(str(token), quote=False).replace("\r", "").replace("\n", "↵").replace("\t", "→")
    return shown if shown.strip() else "·"


def token_figure(tokens, scores, layer, per_row: int = 12) -> go.Figure:
    """``tokens`` in reading order, ``per_row`` to a row, coloured by ``scores`` (one per token).

    ``scores`` are the tokens' projections on the valence direction at ``layer`` (shown in
    the title); the colour scale is diverging and symmetric around 0 (blue positive).
    Hover shows the token and its score; the padding cells after the last token are empty.
    """
    tokens = [str(t) for t in tokens]
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1 or len(s) != len(tokens):
        raise InputError(f"token_figure: {len(tokens)} tokens but scores of shape {s.shape}; "
                         "give one score per token")
    if not tokens:
        raise InputError("token_figure: no tokens")
    if not np.isfinite(s).all():
        raise InputError(f"token_figure: scores are not finite at token(s) {np.flatnonzero(~np.isfinite(s)).tolist()}")
    if per_row < 1:
        raise InputError(f"token_figure: per_row must be at least 1, got {per_row}")
    n_rows = -(-len(tokens) // per_row)
    z = np.full((n_rows, per_row), np.nan)
    z.flat[:len(s)] = s
    text = [[""] * per_row for _ in range(n_rows)]
    raw = [[""] * per_row for _ in range(n_rows)]
    for i, t in enumerate(tokens):
        text[i // per_row][i % per_row] = display_token(t)
        raw[i // per_row][i % per_row] = html.escape(repr(t), quote=False)
    bound = float(np.abs(s).max()) or 1.0
    fig = go.Figure(go.Heatmap(
        z=z, text=text, customdata=raw, texttemplate="%{text}", textfont=dict(size=13), colorscale=DIVERGING,
        zmin=-bound, zmax=bound, zmid=0.0, xgap=2, ygap=2, hoverongaps=False, name="tokens",
        colorbar=dict(title=dict(text="projection"), thickness=12),
        hovertemplate="token %{customdata}<br>projection = %{z:.3f}<extra></extra>"))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, autorange="reversed")
    return styled(fig, height=max(160, 60 + 38 * n_rows),
                  title=dict(text=f"Projection on the valence direction, layer {layer}"),
                  margin=dict(l=20, r=20, t=60, b=20))
