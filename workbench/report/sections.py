"""The report's sections: each a function ``RunData -> Section``, listed in ``SECTIONS`` in page order.

An optional section whose files are missing returns a Section with ``absent`` set
(what is missing and the command that makes it); the page lists those at the top
and in place, so nothing is left out silently. Adding a section is one line in
``SECTIONS``.
"""

from __future__ import annotations

from workbench.report.prefer_section import prefer_section
from workbench.report.section import Section
from workbench.report.tables import (
    esc,
    headline_html,
    headline_sentence,
    html_table,
    layers_html,
    manifest_html,
    paragraph,
)
from workbench.report.watch_sections import battery_section, lens_section
from workbench.values import format_interval

__all__ = ["Section", "SECTIONS", "headline_section", "depth_section", "pca_section", "cka_section",
           "cosine_section", "token_section", "monitor_section", "steering_section", "layers_section", "manifest_section"]

MAX_STEERING_ROWS = 200


def headline_section(data) -> Section:
    return Section("headline", "Headline", paragraph(headline_sentence(data.report)) + headline_html(data.report))


# the sections that are figures under a fixed caption: key -> (title, caption)
FIGURE_CAPTIONS = {
    "depth": ("Geometry by depth", "|r| of PC1 with valence and of PC2 with arousal at each layer, by fractional "
              "depth (PC signs are aligned to the ratings). Bands: bootstrap confidence intervals; filled circles: "
              "Benjamini-Hochberg q < 0.05 across layers; dotted lines: the paper's Claude Sonnet 4.5 values."),
    "pca": ("PCA by layer", "The emotion vectors (contrast, neutral projection off) on their first two principal "
            "components. Colour: human valence; size: arousal; hover for the emotion. The slider steps through every "
            "layer (it starts at the peak valence layer); the title gives that layer's r with its CI and q."),
    "cka": ("Similarity across layers (CKA)", "Linear CKA between the layers' emotion vectors. The biased estimator is "
            "near 1 even for unrelated matrices when there are fewer emotions than dimensions; the debiased one is "
            "not. The colour bars state the mean upper end of the shuffled-rows null band."),
    "cosine": ("Valence directions across layers", "Cosine between the layers' cross-validated (ridge) valence "
               "directions, and between adjacent layers: does one axis carry valence through depth?"),
}


def _captioned(key: str, figures) -> Section:
    title, caption = FIGURE_CAPTIONS[key]
    return Section(key, title, paragraph(caption), tuple(figures))


def depth_section(data) -> Section:
    from workbench.figures import depth_figure

    rows = data.report.layers_table()
    return _captioned("depth", (depth_figure([(data.label, rows)], neutral_projection=c.neutral_projection)
                                for c in data.report.conditions))


def pca_section(data) -> Section:
    from workbench.figures import pca_figure

    return _captioned("pca", [pca_figure(data.vectors, data.ratings, data.report, kind="contrast")])


def cka_section(data) -> Section:
    from workbench.figures import cka_figure, cka_null_levels

    off = data.report.condition(False)
    return _captioned("cka", [cka_figure(off.cka_debiased, off.cka_biased, cka_null_levels(data.report),
                                         data.report.layers)])


def cosine_section(data) -> Section:
    from workbench.figures import cosine_figure

    return _captioned("cosine", [cosine_figure(data.report.condition(False).valence_cosine, data.report.layers)])


def token_section(data) -> Section:
    from workbench.figures import token_figure
    from workbench.report.tokens import TOKEN_VIEW_FILE

    view = data.token_view
    if view is None and data.stale.get("tokens"):
        return Section("tokens", "Token view", absent=data.stale["tokens"])
    if view is None:
        return Section("tokens", "Token view", absent=(
            f"{TOKEN_VIEW_FILE} is not in the run folder: make it with `workbench report {data.run_dir} --tokens` "
            "(loads the run's model), or use `workbench run`, which makes it"))
    bound = max(float(abs(t.scores).max()) for t in view.texts) or 1.0
    figs = []
    for t in view.texts:
        fig = token_figure(t.tokens, t.scores, view.layer, per_row=16)
        cut = f" (first {len(t.tokens)} of {t.n_tokens} tokens)" if len(t.tokens) < t.n_tokens else ""
        fig.update_traces(zmin=-bound, zmax=bound)
        fig.update_layout(title=dict(text=f"{esc(t.label)}{cut}<br><sup>projection on the valence direction, "
                                          f"layer {view.layer}</sup>"))
        figs.append(fig)
    text = (f"Each token coloured by (h - c)·d at layer {view.layer} (the peak valence layer unless chosen): h is "
            "the token's residual stream, d the unit ridge valence direction, c the mean emotion vector, so blue "
            "leans positive and red negative relative to the average emotion story. One colour scale for all "
            f"texts. Model: {view.info.get('model', 'n/a')}.")
    return Section("tokens", "Token view", paragraph(text), tuple(figs))


MAX_MONITOR_TEXTS = 4


def monitor_section(data) -> Section:
    from workbench.figures import monitor_heatmap, monitor_lines

    result = data.monitor
    if result is None:
        return Section("monitor", "Monitor", absent=(
            f"no monitor.json in the run folder: make it with `workbench monitor {data.run_dir} --layer L "
            "--text \"...\"` (or --transcript FILE)"))
    shown = result.texts[:MAX_MONITOR_TEXTS]
    figs = []
    for t in shown:
        figs += [monitor_heatmap(result, t.label), monitor_lines(result, text=t.label)]
    info = result.info
    text = (f"Every emotion's unit {info.get('kind', 'contrast')} vector read at each token's resid_post at layer "
            f"{result.layer}, z-scored against the same projection over {info.get('neutral_tokens', '?')} tokens of "
            f"{info.get('neutral_texts', '?')} neutral texts (2 = two neutral-token standard deviations; position 0 "
            "is not scored). Heatmap rows by valence; dotted lines: where a message's content starts. Lines: the "
            f"5 emotions with the highest peak z. Model: {info.get('model', 'n/a')}."
            + (f" The first {len(shown)} of {len(result.texts)} texts." if len(shown) < len(result.texts) else ""))
    rows = []
    for t in shown:
        for row in result.message_means(t.label):
            scores = sorted(((v, e) for e, v in row.items() if e in result.emotions and v == v), reverse=True)
            rows.append([t.label, str(row["message"]), str(row["role"]),
                         ", ".join(f"{e} {v:+.2f}" for v, e in scores[:3]) or "no scored token"])
    table = html_table(["text", "message", "role", "top emotions (mean z over the message's tokens)"], rows, "layers")
    return Section("monitor", "Monitor", paragraph(text) + table, tuple(figs))


def _rho(stat) -> str:
    return format_interval(stat)


def _empties(summary) -> str:
    counts = summary.get("empty_text_by_alpha", {}).get(summary.get("direction"))
    if counts is None:
        return "not counted in this run"
    return "empty texts of the direction by alpha: " + ", ".join(f"{float(a):+g}: {n}" for a, n in counts.items())


def steering_section(data) -> Section:
    from workbench.figures import dose_response_figure
    from workbench.report.folder import STEERING_FILES

    if data.steering is None and data.stale.get("steering"):
        return Section("steering", "Steering", absent=data.stale["steering"])
    if data.steering is None:
        return Section("steering", "Steering", absent=(
            f"no steering results ({', '.join(STEERING_FILES)}) in the run folder: make them with "
            f"`workbench steer {data.run_dir} --layer L`"))
    result = data.steering
    s = result.summary
    text = (f"Direction {s.get('direction')} added at block {s.get('layer')} with alpha x {s.get('norm', 0):.1f} "
            f"({s.get('norm_definition', 'text-mean')}: {s.get('norm_source', 'the layer norm')}), {s.get('n_prompts')} prompts x {s.get('n_samples')} samples per "
            f"alpha, the same sampling seed at every alpha; read-back at block {s.get('readback_layer')}. "
            "Spearman rho of alpha against each score within each prompt (over its samples and alphas), averaged "
            "over prompts, with a bootstrap CI over prompts, for the direction, for random unit directions steered "
            "the same way (controls, mean rho), and their difference. A continuation with no visible text has no "
            f"VADER score (missing; {_empties(s)}).")
    rows = [[score, _rho(e.get("direction")), _rho(e.get("controls")), _rho(e.get("difference"))]
            for score, e in s.get("scores", {}).items()]
    table = html_table(["score", "direction rho [95% CI]", "controls rho [95% CI]", "difference [95% CI]"], rows,
                       "layers")
    sample = [[r["direction"], f"{r['alpha']:+.2f}", r["prompt"], r["text"], f"{r['vader']:+.2f}",
               f"{r['readback']:.2f}", f"{r['perplexity']:.1f}"]
              for r in result.rows if r["kind"] == "direction" and r["sample"] == 0][:MAX_STEERING_ROWS]
    texts = paragraph("Sample 0 of each prompt at every alpha, for the steered direction (all texts: steering.csv).") + \
        html_table(["direction", "alpha", "prompt", "continuation", "VADER", "read-back", "perplexity"], sample,
                   "layers")
    return Section("steering", "Steering", paragraph(text) + table, (dose_response_figure(result),), after=texts)


def layers_section(data) -> Section:
    return Section("layers", "Per-layer table", paragraph("The rows of layers.csv; q: Benjamini-Hochberg across layers.")
                   + layers_html(data.report))


def manifest_section(data) -> Section:
    return Section("manifest", "Run", manifest_html(data.manifest))


SECTIONS = [headline_section, depth_section, pca_section, cka_section, cosine_section, token_section,
            monitor_section, steering_section, prefer_section, lens_section, battery_section, layers_section,
            manifest_section]
