"""The monitor's figures: a tokens x emotions heatmap of z-scores, and z over tokens for chosen emotions."""

from __future__ import annotations

import html

import numpy as np
import plotly.graph_objects as go

from workbench.errors import InputError
from workbench.figures.theme import DIVERGING, PALETTE, styled
from workbench.figures.tokens import display_token

__all__ = ["monitor_heatmap", "monitor_lines"]


def _hover_tokens(text) -> list[str]:
    return [f"{html.escape(repr(tok), quote=False)} ({role or 'template'})" for tok, role in zip(text.tokens, text.roles)]


def _message_starts(text) -> list[int]:
    """Token positions where a new message's content begins."""
    return [t for t in range(len(text.message)) if text.message[t] >= 0 and
            (t == 0 or text.message[t] != text.message[t - 1])]


def monitor_heatmap(result, text: int | str = 0, emotions=None) -> go.Figure:
    """Tokens (columns, in reading order) x emotions (rows, most negative valence at the bottom).

    Colour: z against the neutral tokens, diverging and symmetric around 0. Hover shows the token,
    its role, the emotion and z. Dotted lines mark where each message's content starts.
    """
    t = result.text(text)
    order = result.valence_order() if emotions is None else [result.emotion_index(e) for e in emotions]
    if not len(t.tokens):
        raise InputError(f"monitor_heatmap: {t.label!r} has no scored token")
    z = t.z[:, order].T
    bound = float(np.nanmax(np.abs(z))) or 1.0
    names = [result.emotions[i] for i in order]
    hover = np.array([_hover_tokens(t)] * len(order), dtype=object)
    fig = go.Figure(go.Heatmap(
        z=z, x=list(range(len(t.tokens))), y=names, customdata=hover, colorscale=DIVERGING, zmin=-bound, zmax=bound,
        zmid=0.0, colorbar=dict(title=dict(text="z"), thickness=12), name="monitor",
        hovertemplate="token %{customdata}<br>%{y}: z = %{z:.2f}<extra></extra>"))
    shown = [display_token(tok) for tok in t.tokens]
    step = max(1, len(shown) // 60)
    fig.update_xaxes(tickmode="array", tickvals=list(range(0, len(shown), step)), ticktext=shown[::step],
                     tickangle=-60, showgrid=False, zeroline=False)
    fig.update_yaxes(showgrid=False, zeroline=False, tickfont=dict(size=9 if len(names) > 40 else 12))
    for start in [s for s in _message_starts(t) if s > 0]:
        fig.add_vline(x=start - 0.5, line=dict(color="#444", width=1, dash="dot"))
    return styled(fig, height=min(2400, max(360, 140 + 11 * len(names))),
                  title=dict(text=f"{html.escape(t.label)}: emotion z-scores per token, layer {result.layer}"
                                  "<br><sup>rows by valence (negative at the bottom); z against neutral-text "
                                  "tokens</sup>"),
                  margin=dict(l=110, r=30, t=80, b=110))


def monitor_lines(result, emotions=None, text: int | str = 0, n: int = 5) -> go.Figure:
    """z over tokens for ``emotions`` (default: the ``n`` with the highest peak z in this text)."""
    t = result.text(text)
    if emotions is None:
        emotions = [result.emotions[j] for j in np.argsort(-t.z.max(axis=0), kind="stable")[:n]]
    emotions = list(emotions)
    if not emotions:
        raise InputError("monitor_lines: no emotions chosen")
    x = list(range(len(t.tokens)))
    hover = _hover_tokens(t)
    fig = go.Figure()
    for k, emotion in enumerate(emotions):
        fig.add_trace(go.Scatter(x=x, y=t.z[:, result.emotion_index(emotion)], mode="lines", name=emotion,
                                 line=dict(color=PALETTE[k % len(PALETTE)], width=2), customdata=hover,
                                 hovertemplate=f"{html.escape(emotion)}: z = %{{y:.2f}}<br>token %{{customdata}}"
                                               "<extra></extra>"))
    for start in [s for s in _message_starts(t) if s > 0]:
        fig.add_vline(x=start - 0.5, line=dict(color="#888", width=1, dash="dot"))
    fig.add_hline(y=0, line=dict(color="#BDBDBD", width=1))
    shown = [display_token(tok) for tok in t.tokens]
    step = max(1, len(shown) // 60)
    fig.update_xaxes(tickmode="array", tickvals=x[::step], ticktext=shown[::step], tickangle=-60)
    fig.update_yaxes(title=dict(text="z (neutral-token SDs)"))
    return styled(fig, height=420, title=dict(text=f"{html.escape(t.label)}: z over tokens, layer {result.layer}"),
                  margin=dict(l=60, r=30, t=60, b=110))
