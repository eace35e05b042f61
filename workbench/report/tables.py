"""HTML for the report's tables: the headline numbers, the per-layer table and the manifest.

Every value is HTML-escaped; numbers that are missing (None or NaN) show as "n/a".
"""

from __future__ import annotations

import html
import json
import math

from workbench.values import format_number

__all__ = ["esc", "paragraph", "num", "html_table", "headline_html", "headline_sentence", "layers_html", "manifest_html",
           "key_values_html", "Raw"]


class Raw(str):
    """A cell that is already HTML (not escaped again)."""


def esc(x) -> str:
    return x if isinstance(x, Raw) else html.escape(str(x), quote=True)


def paragraph(text: str) -> str:
    """``text`` escaped, as one HTML paragraph."""
    return f"<p>{esc(text)}</p>"


def num(x, digits: int = 2, kind: str = "f") -> str:
    return format_number(x, f".{digits}{kind}")


def html_table(header, rows, cls: str = "") -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{esc(cls)}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def statistics_doc() -> str:
    """Where docs/statistics.md (the calibration table) is: the source tree's copy as a file URI, or the
    project-relative path where the install has no docs."""
    from workbench.resources import source_file

    path = source_file("docs/statistics.md")
    return path.as_uri() if path is not None else "docs/statistics.md"


def _held(report) -> str:
    return "emotions and topics" if report.settings.get("split_by") == "topics" else "emotions"


def _ci(k) -> str:
    return f"{num(k.r)} [{num(k.ci_low)}, {num(k.ci_high)}]"


def _pct(report) -> str:
    return f"{100 * float(report.settings.get('ci', 0.95)):.0f}% CI"


def headline_sentence(report) -> str:
    """One sentence for the primary condition (neutral projection off)."""
    k, a = report.conditions[0].peak, report.conditions[0].arousal_peak
    if k.layer is None:
        return "No layer has a defined PC1-valence correlation."
    if k.held_out:
        text = (f"PC1 of the emotion vectors tracks human valence best at layer {k.layer} (depth {num(k.depth)}; "
                f"chosen on half the {_held(report)} in {100 * k.layer_share:.0f}% of {report.settings.get('splits')} "
                f"random splits): r on the held-out {_held(report)} = {_ci(k)} ({_pct(report)}, selection-aware), "
                f"max-stat p = {num(k.max_stat_p, 2, 'g')}")
    else:
        text = (f"At layer {k.layer} (depth {num(k.depth)}, fixed in advance) PC1 of the emotion vectors tracks "
                f"human valence with r = {_ci(k)} ({_pct(report)}), permutation p = {num(k.p_perm, 2, 'g')}")
    if a.layer is not None:
        text += (f". PC2 tracks arousal best at layer {a.layer}: r = {_ci(a)}"
                 f"{f' (held-out {_held(report)})' if a.held_out else ''}, max-stat p = {num(a.max_stat_p, 2, 'g')}")
    return text + "."


def headline_html(report) -> str:
    """The peak numbers with their CIs, one column per neutral-projection setting, then the baselines."""
    conds = report.conditions
    header = ["", *[f"neutral projection {c.label}" for c in conds]]
    ci = _pct(report)

    def row(name, fn, which="peak"):
        return [name, *[fn(getattr(c, which)) for c in conds]]

    rows = [
        row("peak PC1-valence layer (depth)", lambda k: f"{k.layer} ({num(k.depth)})"),
        row("how the layer was chosen", lambda k: k.selection),
        row("share of the splits that chose it", lambda k: num(k.layer_share)),
        row(f"PC1-valence r [{ci}]", _ci),
        row("how the interval was made", lambda k: k.interval),
        row("max-stat p (the peak's significance) · q · the layer's own permutation p",
            lambda k: f"{num(k.max_stat_p, 2, 'g')} · {num(k.q, 2, 'g')} · {num(k.p_perm, 2, 'g')}"),
        row("in-sample PC1-valence |r| at the layer (conditional on the choice)", lambda k: num(k.r_in_sample)),
        row("held-out r: interquartile range over the splits", lambda k: f"{num(k.spread_low)} to {num(k.spread_high)}"),
        row("held-out ridge valence r (trained on the choosing half) · 5-fold ridge r there",
            lambda k: f"{num(k.ridge_heldout_r)} · {num(k.ridge_cv_r)}"),
        row("best valence PC there (r, p corrected for the choice among PCs)",
            lambda k: f"PC{k.best_pc} ({num(k.best_pc_r)}, p = {num(k.best_pc_p, 2, 'g')})"),
        row("peak PC2-arousal layer (share)", lambda k: f"{k.layer} ({num(k.layer_share)})", "arousal_peak"),
        row(f"PC2-arousal r [{ci}] · max-stat p", lambda k: f"{_ci(k)} · {num(k.max_stat_p, 2, 'g')}", "arousal_peak"),
        row("best arousal PC there (r, p)", lambda k: f"PC{k.best_pc} ({num(k.best_pc_r)}, p = {num(k.best_pc_p, 2, 'g')})",
            "arousal_peak"),
        row("the first analysed block (block 0: the lexical baseline): PC1-valence r · best valence PC (r) · ridge r",
            lambda b: f"{baseline_name(b.get('layer'))}: {num(b.get('pc1_valence_r'))} · PC{b.get('best_valence_pc')} ({num(b.get('best_valence_r'))}) · "
                      f"{num(b.get('valence_cv_r'))}", "baseline"),
    ]
    for name, b in (report.baselines or {}).items():
        cell = (f"{num(b.get('pc1_valence_r'))} (p = {num(b.get('pc1_valence_p_perm'), 2, 'g')}) · "
                f"PC{b.get('best_valence_pc')} ({num(b.get('best_valence_r'))}) · {num(b.get('valence_cv_r'))}")
        rows.append([f"no model, {name}: PC1-valence r (p) · best valence PC (r) · ridge r", *[cell for _ in conds]])
    link = (f'<p>How these numbers are calibrated (false-positive rates, coverage and width of the intervals, by '
            f'simulation): <a href="{esc(statistics_doc())}">docs/statistics.md</a>, made by <code>workbench calibrate</code>.'
            "</p>")
    return html_table(header, rows, "headline") + link


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
    ("best val PC", "best_valence_pc", 0), ("its r", "best_valence_r", 3), ("its p", "best_valence_p", -3),
    ("best aro PC", "best_arousal_pc", 0), ("its r", "best_arousal_r", 3), ("ridge held-out r", "valence_cv_r", 3),
    ("chosen (val)", "valence_chosen_share", 2), ("chosen (aro)", "arousal_chosen_share", 2),
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
