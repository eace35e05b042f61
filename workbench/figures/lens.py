"""The logit lens's own-word share and the battery's ladder rhos, each beside its random-direction null."""

from __future__ import annotations

import plotly.graph_objects as go

from workbench.errors import InputError
from workbench.figures.theme import PALETTE, fmt, styled

__all__ = ["own_word_figure", "ladder_figure"]


def own_word_figure(shares: dict) -> go.Figure:
    """Per model (``{label: OwnWordShare}``): the share of emotions whose top-k promoted tokens hold a form
    of their own word (95% Wilson interval over emotions), and the same share for random directions
    (the null's mean and 95% range)."""
    if not shares:
        raise InputError("own_word_figure: no shares to draw")
    labels = list(shares)
    fig = go.Figure()
    for name, colour, get in (
            ("emotion vectors (95% Wilson CI)", PALETTE[0],
             lambda s: (s.share, s.ci_high - s.share, s.share - s.ci_low)),
            ("random directions (null mean, 95% range)", PALETTE[7],
             lambda s: (s.null_mean, s.null_high - s.null_mean, s.null_mean - s.null_low))):
        vals = [get(shares[x]) for x in labels]
        fig.add_trace(go.Scatter(
            x=labels, y=[v[0] for v in vals], mode="markers", name=name, marker=dict(size=12, color=colour),
            error_y=dict(type="data", symmetric=False, array=[v[1] for v in vals], arrayminus=[v[2] for v in vals],
                         thickness=2, width=8),
            customdata=[[len(shares[x].hits), shares[x].n_emotions, shares[x].p, shares[x].k] for x in labels],
            hovertemplate="%{x}<br>share %{y:.3f}<br>%{customdata[0]} of %{customdata[1]} emotions hit (top "
                          "%{customdata[3]})<br>p = %{customdata[2]:.4f}<extra>" + name + "</extra>"))
    k = next(iter(shares.values())).k
    ps = ", ".join(f"{x}: p = {fmt(shares[x].p, 4)}" for x in labels)
    return styled(fig, title=dict(text=f"Own word among an emotion's top-{k} promoted tokens<br><sup>{ps}</sup>"),
                  yaxis=dict(title="share of emotions", rangemode="tozero"), xaxis=dict(title="", type="category"),
                  scattermode="group", height=440)


def ladder_figure(summary: dict, reading: str = "user_last") -> go.Figure:
    """Per ladder, the target emotion's Spearman rho (rung vs activation) and the random-direction null's
    95% range, for one reading (``"user_last"`` or ``"opening"``)."""
    ladders = summary.get("ladders") or []
    if not ladders:
        raise InputError("ladder_figure: the battery has no ladders")
    names = [f"{e['name']} ({e['target']})" for e in ladders]
    s = [e[reading] for e in ladders]
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=names, y=[x["null_mean"] for x in s], mode="markers", name="random directions (95% range)",
        marker=dict(size=8, color=PALETTE[7], symbol="line-ew-open"),
        error_y=dict(type="data", symmetric=False, array=[x["null_high"] - x["null_mean"] for x in s],
                     arrayminus=[x["null_mean"] - x["null_low"] for x in s], thickness=6, width=0,
                     color="rgba(140,140,140,0.5)"), hoverinfo="skip"))
    fig.add_trace(go.Scatter(
        x=names, y=[x["rho"] for x in s], mode="markers", name="target emotion", marker=dict(size=11, color=PALETTE[0]),
        customdata=[[x["p"], x["rank_among_emotions"]] for x in s],
        hovertemplate="%{x}<br>rho %{y:+.2f}<br>p = %{customdata[0]:.3f}<br>rank among emotions "
                      "%{customdata[1]}<extra></extra>"))
    m = summary["ladder_mean"][reading]
    title = (f"Ladders: rung vs target activation ({reading.replace('_', ' ')}), layer {summary['layer']}<br>"
             f"<sup>mean rho {fmt(m['rho'])}, random null 95% [{fmt(m['null_low'])}, {fmt(m['null_high'])}], "
             f"p = {fmt(m['p'], 3)}</sup>")
    return styled(fig, title=dict(text=title), yaxis=dict(title="Spearman rho", range=[-1.05, 1.05]),
                  xaxis=dict(tickangle=-30), height=460)
