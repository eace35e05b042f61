"""Small HTML tables for Jupyter: what a bare result name in a cell shows (``_repr_html_``).

Each function takes a result and returns an HTML fragment; the result classes
call them lazily. Numbers that are missing show as "n/a".
"""

from __future__ import annotations

from collections import Counter

from workbench.report.tables import esc, headline_sentence, html_table, num

__all__ = ["report_html", "vectors_html", "activations_html"]

_STYLE = ('<style>.wb-repr table{border-collapse:collapse;font-size:12px}.wb-repr td,.wb-repr th{border:1px solid '
          '#ddd;padding:2px 6px;text-align:right}.wb-repr th{background:#f3f3f3}</style>')
_REPORT_COLUMNS = (("layer", "layer", 0), ("depth", "depth", 2), ("PC1~valence r", "pc1_valence_r", 3),
                   ("CI low", "pc1_valence_ci_low", 3), ("CI high", "pc1_valence_ci_high", 3),
                   ("q", "pc1_valence_q", -2), ("PC2~arousal r", "pc2_arousal_r", 3), ("q", "pc2_arousal_q", -2),
                   ("held-out ridge r", "valence_cv_r", 3))


def _box(title: str, body: str) -> str:
    return f'{_STYLE}<div class="wb-repr"><b>{esc(title)}</b>{body}</div>'


def _cell(value, digits: int) -> str:
    if digits == 0:
        return str(value)
    return num(value, abs(digits), "g" if digits < 0 else "f")


def _layer_list(layers) -> str:
    layers = list(layers)
    if layers == list(range(layers[0], layers[-1] + 1)) and len(layers) > 3:
        return f"{layers[0]}..{layers[-1]}"
    return ", ".join(map(str, layers))


def report_html(report) -> str:
    """The headline sentence and, per neutral-projection setting, r with its CI and q at every layer."""
    rows = report.layers_table()
    parts = [f"<p>{esc(headline_sentence(report))}</p>"]
    for cond in report.conditions:
        sub = [r for r in rows if r["neutral_projection"] == cond.neutral_projection]
        parts.append(f"<p>neutral projection {cond.label}:</p>")
        parts.append(html_table([h for h, _, _ in _REPORT_COLUMNS],
                                [[_cell(r[c], d) for _, c, d in _REPORT_COLUMNS] for r in sub]))
    imported = report.inputs.get("vectors imported from")
    extra = f"; vectors imported from {imported}" if imported else ""
    title = (f"GeometryReport: {len(report.emotions)} emotions, {len(report.layers)} layers "
             f"({_layer_list(report.layers)}), {report.settings.get('bootstrap')} bootstrap resamples{extra}")
    return _box(title, "".join(parts))


def vectors_html(vectors) -> str:
    """Shape, kinds and, per layer, the mean norm of the contrast vectors and the neutral dimensions removed."""
    norms = vectors.contrast.double().norm(dim=-1).mean(dim=1)
    kinds = "raw, contrast" + (", projected" if vectors.has_projection else "")
    header = ["layer", "mean |contrast|"] + (["neutral dims removed"] if vectors.has_projection else [])
    rows = []
    for j, layer in enumerate(vectors.layers):
        row = [str(layer), num(float(norms[j]), 3, "g")]
        if vectors.has_projection:
            row.append(str(vectors.neutral_k[j]))
        rows.append(row)
    shown = ", ".join(vectors.emotions[:8]) + (" ..." if len(vectors.emotions) > 8 else "")
    stories = ""
    if vectors.n_stories is not None:
        stories = f"; {min(vectors.n_stories)}-{max(vectors.n_stories)} stories per emotion"
    title = (f"EmotionVectors: {len(vectors.emotions)} emotions x {len(vectors.layers)} layers x d_model "
             f"{vectors.d_model} ({kinds}){stories}")
    return _box(title, f"<p>emotions: {esc(shown)}</p>" + html_table(header, rows))


def activations_html(acts) -> str:
    """Texts by kind, tokens pooled, layers, the model and the pooling settings."""
    kinds = Counter(m.get("kind", "?") for m in acts.meta)
    emotions = {m.get("emotion") for m in acts.meta if m.get("kind") == "story"}
    n_tok = acts.n_tokens.double()
    rows = [["texts", ", ".join(f"{n} {k}" for k, n in kinds.items())],
            ["emotions", str(len(emotions))],
            ["layers", _layer_list(acts.layers)],
            ["d_model", str(acts.d_model)],
            ["tokens pooled per text", f"{int(n_tok.min())}-{int(n_tok.max())} (mean {float(n_tok.mean()):.0f})"],
            ["model", str(acts.spec.get("name", "n/a"))],
            ["token offset", str(acts.params.get("token_offset", "n/a"))],
            ["corpus", str(acts.info.get("corpus", "n/a"))]]
    return _box(f"StoryActivations: {len(acts)} texts x {len(acts.layers)} layers", html_table(["", ""], rows))
