"""PC1 x PC2 of the emotion vectors, one frame per layer, with a layer slider."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from workbench.errors import InputError
from workbench.figures.theme import DIVERGING, fmt, styled

__all__ = ["pca_figure", "arousal_size"]

MIN_SIZE, MAX_SIZE = 6.0, 22.0


def arousal_size(arousal) -> np.ndarray:
    """Marker size for arousal in -1..1: linear from 6 (calmest) to 22 px (most aroused)."""
    a = np.clip(np.asarray(arousal, dtype=np.float64), -1.0, 1.0)
    return MIN_SIZE + (a + 1.0) / 2.0 * (MAX_SIZE - MIN_SIZE)


def _scores(vectors, ratings, kind: str):
    from workbench.analysis.analyze import pc_stats
    from workbench.analysis.threads import single_threaded
    from workbench.analysis.vectors import to_numpy

    rated = ratings.subset(vectors.emotions)
    X = to_numpy(vectors.kind(kind))
    if X.shape[1] < 3:
        raise InputError(f"pca_figure: {X.shape[1]} emotion(s); a PC1 x PC2 plot needs at least 3")
    with single_threaded():  # a batch of small eigh calls; threads only wait on a shared machine
        P, _ = pc_stats(X, rated.valence, rated.arousal, n_pcs=2)
    return rated, P.scores[:, :, :2], P.explained[:, :2]


def _title(layer: int, depth, report_cols, j: int) -> str:
    head = f"Layer {layer}" + ("" if depth is None else f" (depth {depth:.2f})")
    if report_cols is None:
        return head
    c = report_cols
    return (f"{head}<br><sup>PC1~valence r = {fmt(c['pc1_valence_r'][j])} "
            f"[{fmt(c['pc1_valence_ci_low'][j])}, {fmt(c['pc1_valence_ci_high'][j])}], "
            f"q = {float(c['pc1_valence_q'][j]):.2g} · PC2~arousal r = {fmt(c['pc2_arousal_r'][j])} "
            f"[{fmt(c['pc2_arousal_ci_low'][j])}, {fmt(c['pc2_arousal_ci_high'][j])}], "
            f"q = {float(c['pc2_arousal_q'][j]):.2g}</sup>")


def _range(v: np.ndarray) -> list[float]:
    lo, hi = float(np.min(v)), float(np.max(v))
    pad = 0.08 * (hi - lo) if hi > lo else 1.0
    return [lo - pad, hi + pad]


def pca_figure(vectors, ratings, report=None, kind: str = "contrast") -> go.Figure:
    """PC1 x PC2 of ``vectors`` (:class:`EmotionVectors`) at every layer, stepped with a slider.

    Points are coloured by valence (diverging, -1..1), sized by arousal
    (:func:`arousal_size`), named on hover. PCs are sign-aligned as in the
    analysis (PC1 with valence, PC2 with arousal). With ``report``
    (:class:`GeometryReport`) the vectors are restricted to its emotions, each
    frame's title gives that layer's r with CI and q (neutral-projected condition
    when ``kind == "projected"``), and the slider starts at the peak layer.
    """
    cols = depth = None
    start = 0
    if report is not None:
        missing = [e for e in report.emotions if e not in vectors.emotions]
        if missing:
            raise InputError(f"pca_figure: the report analysed emotion(s) without a vector: {missing}")
        if tuple(report.emotions) != tuple(vectors.emotions):
            vectors = vectors.select(report.emotions)
        if tuple(report.layers) != tuple(vectors.layers):
            raise InputError(f"pca_figure: the report's layers {list(report.layers)} differ from the vectors' "
                             f"{list(vectors.layers)}; analyze the run again")
        cond = report.condition(kind == "projected")
        cols, depth = cond.columns, np.asarray(report.depth, dtype=np.float64)
        start = report.layers.index(cond.peak.layer) if cond.peak.layer in report.layers else 0
    rated, scores, explained = _scores(vectors, ratings, kind)
    emotions = list(rated.emotions)
    custom = np.stack([rated.valence, rated.arousal], axis=1)
    marker = dict(color=np.asarray(rated.valence), colorscale=DIVERGING, cmin=-1.0, cmax=1.0, cmid=0.0,
                  size=arousal_size(rated.arousal), line=dict(width=0.6, color="#333333"), opacity=0.9,
                  colorbar=dict(title=dict(text="valence"), thickness=14))
    hover = ("<b>%{hovertext}</b><br>valence %{customdata[0]:.2f}<br>arousal %{customdata[1]:.2f}"
             "<br>PC1 %{x:.3g}<br>PC2 %{y:.3g}<extra></extra>")
    frames = []
    for j, layer in enumerate(vectors.layers):
        trace = go.Scatter(x=scores[j, :, 0], y=scores[j, :, 1], mode="markers", marker=marker,
                           hovertext=emotions, customdata=custom, hovertemplate=hover, name=f"layer {layer}",
                           showlegend=False)
        layout = go.Layout(
            title=dict(text=_title(layer, None if depth is None else depth[j], cols, j)),
            xaxis=dict(title=dict(text=f"PC1 ({100 * explained[j, 0]:.0f}% of variance)"), range=_range(scores[j, :, 0])),
            yaxis=dict(title=dict(text=f"PC2 ({100 * explained[j, 1]:.0f}% of variance)"), range=_range(scores[j, :, 1])))
        frames.append(go.Frame(data=[trace], layout=layout, name=str(layer)))
    steps = [dict(method="animate", label=str(layer),
                  args=[[str(layer)], dict(mode="immediate", frame=dict(duration=0, redraw=True),
                                           transition=dict(duration=0))])
             for layer in vectors.layers]
    fig = go.Figure(data=frames[start].data, frames=frames, layout=frames[start].layout)
    return styled(fig, height=620, sliders=[dict(active=start, steps=steps, currentvalue=dict(prefix="layer "),
                                                 pad=dict(t=50), len=1.0)],
                  margin=dict(t=110))
