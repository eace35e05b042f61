"""Layer x layer CKA heatmaps: debiased beside biased, with the shuffled-rows null level."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from workbench.errors import InputError
from workbench.figures.theme import SEQUENTIAL, styled

__all__ = ["cka_figure", "cka_null_levels", "square"]


def square(matrix, name: str) -> np.ndarray:
    """``matrix`` as a float ``[L, L]`` array, or an InputError naming ``name``."""
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] == 0:
        raise InputError(f"{name}: expected a square layer x layer matrix, got shape {m.shape}")
    return m


def cka_null_levels(report, neutral_projection: bool = False) -> dict:
    """Mean over off-diagonal layer pairs of the upper end of each shuffled-rows null band.

    Returns ``{"debiased": float, "biased": float}`` for :func:`cka_figure`'s ``null_level``.
    """
    cond = report.condition(neutral_projection)
    out = {}
    for name, band in (("debiased", cond.cka_null_debiased), ("biased", cond.cka_null_biased)):
        high = np.asarray(band, dtype=np.float64)[1]
        off = ~np.eye(high.shape[0], dtype=bool)
        out[name] = float(np.nanmean(high[off])) if off.any() else float(np.nanmean(high))
    return out


def _null_text(null_level, name: str) -> str:
    if null_level is None:
        return ""
    value = null_level.get(name) if isinstance(null_level, dict) else null_level
    if value is None:
        return ""
    return f"<br>null ≤ {float(value):.3f}"


def cka_figure(debiased, biased, null_level=None, layers=None) -> go.Figure:
    """Linear CKA between all layer pairs: debiased (left) and biased (right) heatmaps.

    ``debiased``/``biased``: ``[L, L]`` matrices (``GeometryReport`` condition fields or the
    run folder's CSVs); ``null_level``: a number, or ``{"debiased": x, "biased": y}``
    (:func:`cka_null_levels`), stated in each colour bar's title; ``layers``: axis labels
    (default ``0..L-1``).
    """
    d, b = square(debiased, "cka_figure: debiased"), square(biased, "cka_figure: biased")
    if d.shape != b.shape:
        raise InputError(f"cka_figure: debiased is {d.shape} but biased is {b.shape}")
    layers = list(range(d.shape[0])) if layers is None else [int(x) for x in layers]
    if len(layers) != d.shape[0]:
        raise InputError(f"cka_figure: {len(layers)} layer labels for a {d.shape[0]} x {d.shape[0]} matrix")
    fig = make_subplots(rows=1, cols=2, subplot_titles=["debiased CKA", "biased CKA"], horizontal_spacing=0.16)
    low = min(0.0, float(np.nanmin(d))) if np.isfinite(d).any() else 0.0
    for col, (name, m, x0) in enumerate((("debiased", d, 0.43), ("biased", b, 1.0)), start=1):
        fig.add_trace(go.Heatmap(
            z=m, x=layers, y=layers, colorscale=SEQUENTIAL, zmin=low if name == "debiased" else 0.0, zmax=1.0,
            name=f"{name} CKA", hovertemplate=f"layer %{{y}} vs %{{x}}<br>{name} CKA = %{{z:.3f}}<extra></extra>",
            colorbar=dict(title=dict(text=f"{name}{_null_text(null_level, name)}"), x=x0, thickness=12, len=0.9)),
            row=1, col=col)
        fig.update_xaxes(title_text="layer", row=1, col=col, showgrid=False, zeroline=False, constrain="domain")
        fig.update_yaxes(title_text="layer", row=1, col=col, autorange="reversed", scaleanchor=f"x{col}",
                         showgrid=False, zeroline=False)
    return styled(fig, height=480, title=dict(text="Linear CKA between layers (emotion vectors)"))
