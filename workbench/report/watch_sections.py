"""The report's logit-lens and battery sections (optional: present when their files are in the run folder)."""

from __future__ import annotations

from workbench.report.section import Section, missing_results
from workbench.report.tables import esc, html_table, num, paragraph

__all__ = ["lens_section", "battery_section"]

SHOWN_TOKENS = 10  # per side in the table


def _tokens(pieces) -> str:
    return " · ".join(repr(p)[1:-1] for p in pieces)


def lens_section(data):
    from workbench.figures import own_word_figure
    from workbench.lens import LENS_FILES, LogitLens

    absent = missing_results(data, "lens", "Logit lens", LENS_FILES[:1], "lens")
    if absent:
        return absent
    lens = LogitLens.load(data.run_dir)
    s = lens.share
    text = (f"Each unit emotion vector ({lens.info.get('kind', 'contrast')}) at layer {lens.layer} read through the "
            "final norm and the unembedding as the first-order change of the logits when the stream moves along it "
            "from the layer's mean residual m (W_U · J_norm(m) · u; the Jacobian keeps RMSNorm's division by the "
            "whole stream's norm, massive activations included, and drops the push's component along m). An emotion "
            f"hits when one of its top-{lens.k} promoted tokens is a whole-word form of its name (the project's "
            "word-form tables).")
    if s is not None:
        text += (f" Share: {len(s.hits)}/{s.n_emotions} = {num(s.share, 3)} [{num(s.ci_low, 3)}, "
                 f"{num(s.ci_high, 3)}] (95% Wilson); {s.n_eligible} emotions have such a token in the vocabulary. "
                 f"Random isotropic directions ({s.n_random}, in {s.n_sets} sets of one per emotion): "
                 f"{num(s.null_mean, 4)} [{num(s.null_low, 3)}, {num(s.null_high, 3)}] (95% range); p = "
                 f"{num(s.p, 2, 'g')}. Hits: {', '.join(s.hits) or 'none'}.")
    label = data.label["model"]
    figs = (own_word_figure({label: s}),) if s is not None else ()
    rows = [[e, "yes" if lens.own[i] else "", _tokens(lens.tokens(e)[:SHOWN_TOKENS]),
             _tokens(lens.tokens(e, "suppressed")[:SHOWN_TOKENS])] for i, e in enumerate(lens.emotions)]
    table = html_table(["emotion", "own word", f"promoted (top {SHOWN_TOKENS})", f"suppressed (top {SHOWN_TOKENS})"],
                       rows, "lens")
    after = (f"<details><summary>tokens of all {len(rows)} emotions (all {lens.k} per side: "
             f"logit_lens.csv)</summary>{table}</details>")
    return Section("lens", "Logit lens", paragraph(text), figs, after=after)


def _range(s) -> str:
    return f"{num(s.get('null_mean'))} [{num(s.get('null_low'))}, {num(s.get('null_high'))}]"


def battery_section(data):
    from workbench.battery import BATTERY_FILES, BatteryResult
    from workbench.figures import ladder_figure

    absent = missing_results(data, "battery", "Battery: ladders and scenarios", BATTERY_FILES, "battery",
                             "battery results")
    if absent:
        return absent
    result = BatteryResult.load(data.run_dir)
    s = result.summary
    st = s["settings"]
    text = (f"Layer {s['layer']}, {s['n_emotions']} emotions ({st.get('kind')} vectors). Each item is a chat "
            "transcript ending with a user message, rendered with the chat template and its generation prompt. "
            "Readings: the user's last token (user last) and the mean over the generation prompt's "
            f"{s['n_opening_tokens']} tokens, the assistant turn opened before any reply (opening). Activation: the "
            "projection on the unit emotion vector, z-scored against the neutral texts' tokens "
            f"({st.get('n_neutral_tokens')} tokens). Nulls: {st.get('n_random')} random unit directions in the "
            "target's place (rho and z do not depend on a direction's norm); p is one-sided (rho or rate at least "
            "the observed). For scenarios, the binomial p against chance (the target replaced by an emotion drawn "
            "at random) is the stricter reference when random directions z-score too low to ever rank high.")
    parts = [paragraph(text)]
    for r in ("user_last", "opening"):
        rows = [[e["name"], e["target"], ", ".join(e["values"]), num(e[r]["rho"]), _range(e[r]),
                 num(e[r]["p"], 3), e[r]["rank_among_emotions"]] for e in s["ladders"]]
        m = s["ladder_mean"][r]
        rows.append(["mean over ladders", "", "", num(m.get("rho")), _range(m), num(m.get("p"), 3), ""])
        parts.append(f"<h3>{esc(r.replace('_', ' '))}: ladders</h3>" + html_table(
            ["ladder", "target", "rungs", "rho", "random null mean [95%]", "p", "rank of rho among emotions"],
            rows, "layers"))
        sc = s["scenarios"][r]
        if sc.get("ranks"):
            rates = [[k, f"{sc[k]['hits']}/{len(sc['ranks'])} = {num(sc[k]['rate'], 3)}",
                      f"{num(sc[k]['null_mean'], 3)} [{num(sc[k]['null_low'], 3)}, {num(sc[k]['null_high'], 3)}]",
                      num(sc[k]["p"], 3), num(sc[k]["chance"], 3), num(sc[k].get("p_chance"), 3)]
                     for k in ("top1", "top3")]
            parts.append(html_table(["scenarios", "rate", "random null mean [95%]", "p", "chance (1/n, 3/n)",
                                     "binomial p vs chance"],
                                    rates, "layers"))
    scen = [x for x in result.rows if x["kind"] == "scenario"]
    by: dict[tuple[str, str], dict[str, dict]] = {}
    for x in scen:
        by.setdefault((x["name"], x["target"]), {})[x["reading"]] = x
    rows = [[name, target, v["user_last"]["target_rank"], v["user_last"]["top_emotions"], v["opening"]["target_rank"],
             v["opening"]["top_emotions"]] for (name, target), v in by.items()]
    after = ("<details><summary>each scenario: the target's rank and the top 3 emotions</summary>"
             + html_table(["scenario", "target", "rank (user last)", "top 3 (user last)", "rank (opening)",
                           "top 3 (opening)"], rows, "layers") + "</details>")
    figs = tuple(ladder_figure(s, r) for r in ("user_last", "opening")) if s["ladders"] else ()
    return Section("battery", "Battery: ladders and scenarios", "".join(parts), figs, after=after)
