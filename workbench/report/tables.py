"""HTML for the report's tables: the headline numbers, the per-layer table and the manifest.

Every value is HTML-escaped; numbers that are missing (None or NaN) show as "n/a".
"""

from __future__ import annotations

import html
import json
import math

__all__ = ["esc", "num", "html_table", "headline_html", "headline_sentence", "layers_html", "manifest_html",
           "key_values_html", "Raw"]


class Raw(str):
    """A cell that is already HTML (not escaped again)."""


def esc(x) -> str:
    return x if isinstance(x, Raw) else html.escape(str(x), quote=True)


def num(x, digits: int = 2, kind: str = "f") -> str:
    if x is None or isinstance(x, bool):
        return "n/a" if x is None else str(x)
    x = float(x)
    return "n/a" if math.isnan(x) else format(x, f".{digits}{kind}")


def html_table(header, rows, cls: str = "") -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{esc(cls)}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _ci(k: dict, prefix: str) -> str:
    return f"{num(k.get(prefix + 'r'))} [{num(k.get(prefix + 'ci_low'))}, {num(k.get(prefix + 'ci_high'))}]"


def _pct(report) -> str:
    return f"{100 * float(report.settings.get('ci', 0.95)):.0f}% CI"


def headline_sentence(report) -> str:
    """One sentence for the primary condition (neutral projection off)."""
    k = report.conditions[0].peak
    if k.get("peak_layer") is None:
        return "No layer has a defined PC1-valence correlation."
    text = (f"PC1 of the emotion vectors tracks human valence best at layer {k['peak_layer']} (depth "
            f"{num(k.get('peak_depth'))}): r = {_ci(k, 'peak_')} ({_pct(report)}), q = {num(k.get('peak_q'), 2, 'g')}")
    if k.get("peak_r_other_half") is not None:
        text += f"; r on the held-out half of the stories = {num(k.get('peak_r_other_half'))}"
    if k.get("arousal_peak_layer") is not None:
        text += (f". PC2 tracks arousal best at layer {k['arousal_peak_layer']}: r = {_ci(k, 'arousal_peak_')}, "
                 f"q = {num(k.get('arousal_peak_q'), 2, 'g')}")
    return text + "."


def headline_html(report) -> str:
    """The peak numbers with their CIs, one column per neutral-projection setting."""
    conds = report.conditions
    header = ["", *[f"neutral projection {c.label}" for c in conds]]
    ci = _pct(report)

    def row(name, fn):
        return [name, *[fn(c.peak) for c in conds]]

    rows = [
        row("peak PC1-valence layer (depth)", lambda k: f"{k.get('peak_layer')} ({num(k.get('peak_depth'))})"),
        row("how the peak was chosen", lambda k: k.get("peak_selection", "n/a")),
        row(f"PC1-valence r [{ci}]", lambda k: _ci(k, "peak_")),
        row("q (BH-FDR) · permutation p · max-stat p", lambda k: f"{num(k.get('peak_q'), 2, 'g')} · "
            f"{num(k.get('peak_p_perm'), 2, 'g')} · {num(k.get('peak_max_stat_p'), 2, 'g')}"),
        row("r on the other half of the stories", lambda k: num(k.get("peak_r_other_half"))),
        row("held-out ridge valence r at the peak", lambda k: num(k.get("peak_valence_cv_r"))),
        row("peak PC2-arousal layer", lambda k: str(k.get("arousal_peak_layer"))),
        row(f"PC2-arousal r [{ci}] · q", lambda k: f"{_ci(k, 'arousal_peak_')} · {num(k.get('arousal_peak_q'), 2, 'g')}"),
        row("best arousal PC there (r)", lambda k: f"PC{k.get('arousal_best_pc')} ({num(k.get('arousal_best_r'))})"),
        row("first analysed block (block 0: the lexical baseline): PC1 r · held-out r",
            lambda k: f"{baseline_name(k.get('baseline_layer'))}: {num(k.get('baseline_pc1_valence_r'))} · "
                      f"{num(k.get('baseline_valence_cv_r'))}"),
        row("best held-out ridge r over layers (uncorrected)",
            lambda k: f"{num(k.get('best_cv_r_uncorrected'))} (layer {k.get('best_cv_layer')})"),
    ]
    return html_table(header, rows, "headline")


def baseline_name(layer) -> str:
    """The baseline row's block, named as what it is: block 0 is the lexical baseline, another is not."""
    if layer == 0:
        return "block 0 (lexical baseline)"
    return f"block {layer} (block 0 was not analysed: no lexical baseline)"


_LAYER_COLUMNS = (
    ("layer", "layer", 0), ("depth", "depth", 2), ("PC1~val r", "pc1_valence_r", 3),
    ("CI low", "pc1_valence_ci_low", 3), ("CI high", "pc1_valence_ci_high", 3), ("q", "pc1_valence_q", -3),
    ("max-stat p", "pc1_valence_p_maxstat", -3), ("PC2~aro r", "pc2_arousal_r", 3),
    ("CI low", "pc2_arousal_ci_low", 3), ("CI high", "pc2_arousal_ci_high", 3), ("q", "pc2_arousal_q", -3),
    ("best aro PC", "best_arousal_pc", 0), ("its r", "best_arousal_r", 3), ("ridge held-out r", "valence_cv_r", 3),
    ("half A r", "split_a_pc1_valence_r", 3), ("half B r", "split_b_pc1_valence_r", 3),
    ("PC1 var", "pc1_explained", 3), ("PC2 var", "pc2_explained", 3),
)


def _cell(value, digits: int) -> str:
    if digits == 0:
        return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else str(int(value))
    return num(value, abs(digits), "g" if digits < 0 else "f")


def layers_html(report) -> str:
    """One table per neutral-projection setting (the rows of ``layers.csv``); the first one open."""
    rows = report.layers_table()
    parts = []
    for i, cond in enumerate(report.conditions):
        sub = [r for r in rows if r["neutral_projection"] == cond.neutral_projection]
        table = html_table([h for h, _, _ in _LAYER_COLUMNS],
                           [[_cell(r[c], d) for _, c, d in _LAYER_COLUMNS] for r in sub], "layers")
        parts.append(f"<details{' open' if i == 0 else ''}><summary>neutral projection {cond.label} "
                     f"({len(sub)} layers, {len(report.emotions)} emotions)</summary>{table}</details>")
    return "".join(parts)


def key_values_html(pairs) -> str:
    return html_table(["", ""], [[k, v] for k, v in pairs], "kv")


def _flat(d) -> str:
    if isinstance(d, dict):
        return ", ".join(f"{k}={_flat(v)}" for k, v in d.items())
    if isinstance(d, (list, tuple)):
        return "[" + ", ".join(_flat(v) for v in d) + "]"
    return str(d)


def manifest_html(manifest: dict) -> str:
    """Model, corpus, settings, versions and timings, then the whole manifest as JSON."""
    collect, analysis = manifest.get("collect", {}), manifest.get("analysis", {})
    model, info, params = collect.get("model", {}), collect.get("info", {}), collect.get("params", {})
    pairs = [
        ("model", f"{model.get('name')} ({model.get('source')}, {model.get('architecture')}, {model.get('dtype')}, "
                  f"backend {model.get('backend')})"),
        ("model weights sha256", model.get("weights_sha256") or "n/a"),
        ("corpus", f"{info.get('corpus', 'n/a')} (sha256 {info.get('corpus_sha256') or 'n/a'})"),
        ("texts · layers · d_model", f"{collect.get('n_texts')} · {len(collect.get('layers', []))} · "
                                     f"{collect.get('d_model')}"),
        ("stories dropped · skipped · truncated", f"{len(info.get('dropped_stories', []))} · "
                                                  f"{len(info.get('skipped', []))} · {len(info.get('truncated', []))}"),
        ("collect settings", _flat({k: v for k, v in params.items() if k not in ("key", "texts_sha256")})),
        ("collect time", f"{num(info.get('seconds'), 1)} s ({num(info.get('tokens_per_s'), 0)} tokens/s)"),
        ("analysis settings", _flat(analysis.get("settings", {}))),
        ("analysed emotions · excluded", f"{len(analysis.get('emotions', []))} · "
                                         f"{_flat(analysis.get('emotions_excluded', [])) or 'none'}"),
        ("analysis timings (s)", _flat(analysis.get("timings", {}))),
        ("versions (collect)", _flat(info.get("versions", {}))),
        ("versions (analysis)", _flat(analysis.get("versions", {}))),
        ("notes", "; ".join(analysis.get("notes", [])) or "none"),
    ]
    raw = html.escape(json.dumps(manifest, indent=1, sort_keys=True, default=str))
    return (key_values_html(pairs) + f"<details><summary>manifest.json</summary><pre>{raw}</pre></details>")
