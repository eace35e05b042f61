"""The report's preference section (optional: present when ``workbench prefer`` wrote its files)."""

from __future__ import annotations

from workbench.report.tables import esc, html_table, num, paragraph

__all__ = ["prefer_section"]


def _ci(c, spec=".1f") -> str:
    if c.get("shift") is None:
        return "n/a"
    return f"{c['shift']:+{spec}} [{num(c.get('ci_low'), 1)}, {num(c.get('ci_high'), 1)}]"


def prefer_section(data):
    from workbench.figures import elo_bars_figure, elo_valence_figure, preference_shift_figure
    from workbench.prefer.result import PREFER_FILES, PreferenceResult
    from workbench.report.section import Section, missing_results

    absent = missing_results(data, "prefer", "Preferences", PREFER_FILES, "prefer", "preference results")
    if absent:
        return absent
    s = PreferenceResult.load(data.run_dir).summary
    info, ev, pb = s["info"], s["elo_valence"], s["position_bias"]["unsteered"]
    text = (f"{s['n_activities']} activities, {s['n_pairs']} pairs, each asked in both orders ({info['format']} "
            f"format: {esc(info['template'])!r}); the answer is read from the logits of the tokens "
            f"{info['answers']} at the last position. Bradley-Terry strengths (Elo, mean 1000) of the preferences "
            f"averaged over both orders; intervals from a bootstrap over the pairs. Position bias: P(A) = "
            f"{num(pb['p_answer_a'], 3)}; the answer flips with the order in {num(100 * pb['flip_share_raw'], 1)}% "
            f"of pairs ({num(100 * pb['flip_share_centred'], 1)}% after removing the mean A-B gap). Elo vs the "
            f"valence projection of the activity's tokens at layer {info['layer']}: r = {num(ev['r'])} "
            f"[{num(ev['ci_low'])}, {num(ev['ci_high'])}] (activities resampled), permutation p = "
            f"{num(ev['p_perm'], 4)}. Steering adds alpha x {num(info['norm'], 1)} (the layer's per-token norm) x "
            f"a unit direction; random unit directions are the controls.")
    rows = [[c["name"], c["kind"], _ci(c), num(c.get("perplexity"), 2) if "perplexity" in c else ""]
            for c in s["conditions"][1:]]
    table = html_table(["tournament", "kind", "shift of the pleasant - unpleasant Elo gap [95% CI]",
                        "perplexity (neutral texts)"], rows, "layers")
    figs = (elo_bars_figure(s), elo_valence_figure(s), preference_shift_figure(s))
    return Section("prefer", "Preferences", paragraph(text) + table, figs)
