"""Dose-response of a steering experiment: mean score by alpha with CI bands, direction against controls."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from workbench.errors import InputError
from workbench.figures.theme import PALETTE, fmt, styled

__all__ = ["dose_response_figure", "SCORE_TITLES"]

SCORE_TITLES = {"readback": "read-back on the valence axis", "vader": "VADER compound",
                "perplexity": "perplexity (unsteered model)"}


def _rgba(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    return f"rgba({int(h[0:2], 16)}, {int(h[2:4], 16)}, {int(h[4:6], 16)}, {alpha})"


def _curve(fig, points, name, colour, col, show_legend, dash="solid"):
    x = [p["alpha"] for p in points]
    group = name
    fig.add_trace(go.Scatter(x=x, y=[p["ci_low"] for p in points], mode="lines", line=dict(width=0),
                             legendgroup=group, showlegend=False, hoverinfo="skip"), row=1, col=col)
    fig.add_trace(go.Scatter(x=x, y=[p["ci_high"] for p in points], mode="lines", line=dict(width=0),
                             fill="tonexty", fillcolor=_rgba(colour, 0.2), legendgroup=group, showlegend=False,
                             hoverinfo="skip"), row=1, col=col)
    fig.add_trace(go.Scatter(
        x=x, y=[p["mean"] for p in points], mode="lines+markers", name=name, legendgroup=group,
        showlegend=show_legend, line=dict(color=colour, dash=dash, width=2), marker=dict(size=7),
        customdata=[[p["ci_low"], p["ci_high"], p["n"]] for p in points],
        hovertemplate="alpha %{x}<br>mean %{y:.3g} [%{customdata[0]:.3g}, %{customdata[1]:.3g}]"
                      "<br>n = %{customdata[2]}<extra>" + name + "</extra>"), row=1, col=col)


def dose_response_figure(result, scores=("readback", "vader", "perplexity")) -> go.Figure:
    """One panel per score: the steered direction's mean by alpha and the random controls' (pooled),
    each with its bootstrap CI band; panel titles give the mean within-prompt Spearman rho [CI] of alpha vs score.

    ``result``: a :class:`workbench.steer.SteeringResult` (or its ``summary`` dict).
    """
    summary = getattr(result, "summary", result)
    if not isinstance(summary, dict) or "scores" not in summary:
        raise InputError("dose_response_figure: pass a SteeringResult (or its summary dict with 'scores')")
    unknown = [s for s in scores if s not in summary["scores"]]
    if unknown:
        raise InputError(f"dose_response_figure: unknown score(s) {unknown}; known: {list(summary['scores'])}")
    titles = []
    for s in scores:
        entry = summary["scores"][s]
        d = entry["direction"]
        line = f"{SCORE_TITLES.get(s, s)}<br><sub>rho {fmt(d['rho'])} [{fmt(d['ci_low'])}, {fmt(d['ci_high'])}]"
        if entry.get("controls"):
            c = entry["controls"]
            line += f"; controls {fmt(c['rho'])} [{fmt(c['ci_low'])}, {fmt(c['ci_high'])}]"
        titles.append(line + "</sub>")
    fig = make_subplots(rows=1, cols=len(scores), subplot_titles=titles, horizontal_spacing=0.08)
    name = summary.get("direction", "direction")
    for col, s in enumerate(scores, start=1):
        entry = summary["scores"][s]
        _curve(fig, entry["by_alpha"]["direction"], f"{name} (layer {summary.get('layer', '?')})", PALETTE[0],
               col, col == 1)
        if "controls" in entry["by_alpha"]:
            n = len(entry["controls"]["per_control"]) if entry.get("controls") else 0
            _curve(fig, entry["by_alpha"]["controls"], f"random controls (n={n})", PALETTE[7], col, col == 1,
                   dash="dash")
        fig.update_xaxes(title_text="alpha (fraction of the layer's residual norm)", row=1, col=col)
    fig.update_annotations(font_size=13)
    sub = (f"{summary.get('n_prompts', '?')} prompts x {summary.get('n_samples', '?')} samples per alpha; "
           f"read-back at layer {summary.get('readback_layer', '?')}; bands: {int(100 * summary.get('ci', 0.95))}% "
           f"bootstrap CI over prompts; rho: within each prompt, averaged over prompts")
    return styled(fig, title=f"Steering dose-response: {name}<br><sub>{sub}</sub>", height=430,
                  width=max(420, 400 * len(scores)), margin=dict(t=130))
