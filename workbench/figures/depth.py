"""r by fractional depth for PC1-valence and PC2-arousal, with CI bands, FDR marks and the paper's lines."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from workbench.errors import InputError
from workbench.figures.theme import DASHES, PALETTE, REFERENCE, REFERENCE_LABEL, styled

__all__ = ["depth_figure", "PANELS", "FDR_LEVEL"]

FDR_LEVEL = 0.05
# (panel title, column prefix, reference key)
PANELS = (("PC1 ~ valence", "pc1_valence", "valence"), ("PC2 ~ arousal", "pc2_arousal", "arousal"))
_NEEDED = ("depth", "neutral_projection") + tuple(f"{p}_{s}" for _, p, _ in PANELS
                                                  for s in ("r", "ci_low", "ci_high", "q"))


def _rgba(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    return f"rgba({int(h[0:2], 16)}, {int(h[2:4], 16)}, {int(h[4:6], 16)}, {alpha})"


def _check(runs) -> list[tuple[dict, list[dict]]]:
    runs = list(runs)
    if not runs:
        raise InputError("depth_figure: no runs given")
    out = []
    for i, run in enumerate(runs):
        try:
            label, rows = run
        except (TypeError, ValueError):
            raise InputError(f"depth_figure: run {i} is not a (label dict, layers table rows) pair") from None
        if not isinstance(label, dict) or not {"model", "corpus"} <= set(label):
            raise InputError(f"depth_figure: run {i}'s label must be a dict with 'model' and 'corpus', got {label!r}")
        rows = list(rows)
        if not rows:
            raise InputError(f"depth_figure: run {label['model']} / {label['corpus']} has no layer rows")
        missing = sorted({c for r in rows for c in _NEEDED if c not in r})
        if missing:
            raise InputError(f"depth_figure: run {label['model']} / {label['corpus']}: rows lack column(s) "
                             f"{missing} (pass GeometryReport.layers_table() rows)")
        out.append((label, rows))
    return out


def _column(rows, name) -> np.ndarray:
    return np.array([np.nan if r[name] is None else float(r[name]) for r in rows], dtype=np.float64)


def depth_figure(runs, neutral_projection: bool = False) -> go.Figure:
    """r against fractional depth, valence panel beside arousal panel, for one run or many.

    ``runs``: a list of ``(label, rows)`` where ``label`` is a dict with ``model`` and
    ``corpus`` and ``rows`` is :meth:`GeometryReport.layers_table` (only the rows of the
    ``neutral_projection`` condition are drawn). Colour = model, line dash = corpus; each
    run's bootstrap CI is a band (``ci_low`` trace, then ``ci_high`` filled to it);
    layers with Benjamini-Hochberg q < 0.05 are marked with filled circles; dotted lines
    show the paper's Claude Sonnet 4.5 values (0.81 valence, 0.66 arousal).
    """
    runs = _check(runs)
    models = list(dict.fromkeys(str(label["model"]) for label, _ in runs))
    corpora = list(dict.fromkeys(str(label["corpus"]) for label, _ in runs))
    fig = make_subplots(rows=1, cols=2, subplot_titles=[t for t, _, _ in PANELS], shared_yaxes=True,
                        horizontal_spacing=0.06)
    for label, rows in runs:
        model, corpus = str(label["model"]), str(label["corpus"])
        sub = sorted((r for r in rows if bool(r["neutral_projection"]) == neutral_projection),
                     key=lambda r: float(r["depth"]))
        if not sub:
            raise InputError(f"depth_figure: run {model} / {corpus} has no rows with neutral_projection="
                             f"{neutral_projection}")
        colour = PALETTE[models.index(model) % len(PALETTE)]
        dash = DASHES[corpora.index(corpus) % len(DASHES)]
        name = f"{model} · {corpus}"
        x = _column(sub, "depth")
        layers = [r.get("layer") for r in sub]
        for col, (title, prefix, _) in enumerate(PANELS, start=1):
            r, lo, hi, q = (_column(sub, f"{prefix}_{s}") for s in ("r", "ci_low", "ci_high", "q"))
            custom = np.stack([layers, lo, hi, q], axis=1)
            group = dict(row=1, col=col)
            fig.add_trace(go.Scatter(x=x, y=lo, legendgroup=name, mode="lines", line=dict(width=0, color=colour), hoverinfo="skip",
                                     showlegend=False, name=f"{name} {prefix} ci_low",
                                     meta=dict(role="ci_low", run=name, panel=prefix)), **group)
            fig.add_trace(go.Scatter(x=x, y=hi, legendgroup=name, mode="lines", line=dict(width=0, color=colour), fill="tonexty",
                                     fillcolor=_rgba(colour, 0.18), hoverinfo="skip", showlegend=False,
                                     name=f"{name} {prefix} ci_high",
                                     meta=dict(role="ci_high", run=name, panel=prefix)), **group)
            fig.add_trace(go.Scatter(
                x=x, y=r, mode="lines", legendgroup=name, line=dict(color=colour, dash=dash, width=2), name=name,
                showlegend=col == 1, customdata=custom, meta=dict(role="r", run=name, panel=prefix),
                hovertemplate=(f"<b>{name}</b><br>{title}<br>layer %{{customdata[0]}} (depth %{{x:.2f}})"
                               "<br>r = %{y:.3f} [%{customdata[1]:.3f}, %{customdata[2]:.3f}]"
                               "<br>q = %{customdata[3]:.3g}<extra></extra>")), **group)
            sig = q < FDR_LEVEL
            fig.add_trace(go.Scatter(
                x=x[sig], y=r[sig], mode="markers", legendgroup=name, marker=dict(color=colour, size=8, line=dict(width=1, color="white")),
                name=f"q < {FDR_LEVEL} (BH-FDR)", showlegend=False, hoverinfo="skip",
                meta=dict(role="significant", run=name, panel=prefix)), **group)
    for col, (_, _, key) in enumerate(PANELS, start=1):
        fig.add_hline(y=REFERENCE[key], line=dict(color="#555555", dash="dot", width=1.5), row=1, col=col,
                      annotation_text=f"{REFERENCE_LABEL}: {REFERENCE[key]:.2f}", annotation_position="top left",
                      annotation_font_size=11)
        fig.update_xaxes(title_text="fractional depth (layer / (n_layers - 1))", range=[-0.02, 1.02], row=1, col=col)
    fig.update_yaxes(title_text="Pearson r (sign-aligned)", row=1, col=1)
    # A legend entry explaining the filled markers.
    fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", marker=dict(color="#555555", size=8),
                             name=f"q < {FDR_LEVEL} (BH-FDR)", meta=dict(role="legend")), row=1, col=1)
    cond = "neutral-projected" if neutral_projection else "contrast"
    return styled(fig, height=480, title=dict(text=f"Geometry against human ratings by depth ({cond} vectors)"),
                  legend=dict(orientation="h", y=-0.22, x=0.0, yanchor="top"), margin=dict(b=130))
