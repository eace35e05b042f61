"""Preference figures: Elo bars sorted, Elo against the valence projection, the steering shift by alpha."""

from __future__ import annotations

import plotly.graph_objects as go

from workbench.figures.theme import PALETTE, fmt, styled

__all__ = ["elo_bars_figure", "elo_valence_figure", "preference_shift_figure"]

GROUP_COLOURS = {"pleasant": PALETTE[0], "neutral": PALETTE[7], "unpleasant": PALETTE[3]}


def elo_bars_figure(summary: dict) -> go.Figure:
    """Each activity's unsteered Elo with its pair-bootstrap 95% interval, sorted, coloured by group."""
    rows = sorted(summary["activities"], key=lambda a: a["elo"])
    fig = go.Figure()
    for group, colour in GROUP_COLOURS.items():
        sub = [a for a in rows if a["group"] == group]
        if not sub:
            continue
        fig.add_trace(go.Bar(
            y=[a["text"] for a in sub], x=[a["elo"] - 1000 for a in sub], base=1000, orientation="h", name=group,
            marker_color=colour,
            error_x=dict(type="data", symmetric=False, array=[a["ci_high"] - a["elo"] for a in sub],
                         arrayminus=[a["elo"] - a["ci_low"] for a in sub]),
            hovertemplate="%{y}<br>Elo %{customdata:.0f}<extra>" + group + "</extra>",
            customdata=[a["elo"] for a in sub]))
    fig.update_yaxes(categoryorder="array", categoryarray=[a["text"] for a in rows])
    return styled(fig, title="Elo of each activity (unsteered; 95% pair-bootstrap intervals)",
                  xaxis_title="Elo (mean 1000)", height=max(400, 18 * len(rows)), barmode="overlay")


def elo_valence_figure(summary: dict) -> go.Figure:
    """Elo against the valence projection of the activity's text at the layer."""
    ev = summary["elo_valence"]
    fig = go.Figure()
    for group, colour in GROUP_COLOURS.items():
        sub = [a for a in summary["activities"] if a["group"] == group]
        if sub:
            fig.add_trace(go.Scatter(x=[a["valence_projection"] for a in sub], y=[a["elo"] for a in sub],
                                     mode="markers", name=group, marker=dict(color=colour, size=9),
                                     text=[a["text"] for a in sub],
                                     hovertemplate="%{text}<br>projection %{x:.3g}<br>Elo %{y:.0f}<extra></extra>"))
    title = (f"Elo vs valence projection (layer {summary['info']['layer']}): r = {fmt(ev['r'])} "
             f"[{fmt(ev['ci_low'])}, {fmt(ev['ci_high'])}], permutation p = {fmt(ev['p_perm'], 4)}")
    return styled(fig, title=title, xaxis_title="valence projection of the activity's tokens in the prompt",
                  yaxis_title="Elo")


def preference_shift_figure(summary: dict) -> go.Figure:
    """Shift of the pleasant-minus-unpleasant Elo gap by alpha, per steered direction; the random controls as a
    band (their range) and as thin lines."""
    steered = [c for c in summary["conditions"] if c["kind"] in ("direction", "control")]
    alphas = sorted({c["alpha"] for c in steered} | {0.0})
    fig = go.Figure()
    controls = [c for c in steered if c["kind"] == "control"]
    if controls:
        lo = [min([0.0] + [c["shift"] for c in controls if c["alpha"] == a]) if a else 0.0 for a in alphas]
        hi = [max([0.0] + [c["shift"] for c in controls if c["alpha"] == a]) if a else 0.0 for a in alphas]
        fig.add_trace(go.Scatter(x=alphas, y=lo, mode="lines", line=dict(width=0), showlegend=False,
                                 hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=alphas, y=hi, mode="lines", line=dict(width=0), fill="tonexty",
                                 fillcolor="rgba(140,140,140,0.3)", name="random controls (range)"))
    names = list(dict.fromkeys(c["direction"] for c in steered if c["kind"] == "direction"))
    for k, name in enumerate(names):
        pts = sorted([c for c in steered if c["direction"] == name], key=lambda c: c["alpha"])
        zero = {"alpha": 0.0, "shift": 0.0, "ci_low": 0.0, "ci_high": 0.0}
        pts = sorted(pts + [zero], key=lambda c: c["alpha"])
        fig.add_trace(go.Scatter(
            x=[p["alpha"] for p in pts], y=[p["shift"] for p in pts], mode="lines+markers", name=name,
            line=dict(color=PALETTE[k % len(PALETTE)], width=2),
            error_y=dict(type="data", symmetric=False, array=[p["ci_high"] - p["shift"] for p in pts],
                         arrayminus=[p["shift"] - p["ci_low"] for p in pts])))
    return styled(fig, title="Steering: shift of the pleasant - unpleasant Elo gap, by alpha "
                             "(95% pair-bootstrap intervals)",
                  xaxis_title="alpha (fraction of the layer's per-token norm)",
                  yaxis_title="shift of the pleasant - unpleasant Elo gap")
