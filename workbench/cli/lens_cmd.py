"""``workbench lens RUN_DIR --layer L`` and ``workbench battery RUN_DIR --layer L``: thin layers over
:func:`workbench.lens.vector_logit_lens` and :func:`workbench.battery.run_battery`."""

from __future__ import annotations

from pathlib import Path

__all__ = ["register"]


def _common(p) -> None:
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a run folder analysed with `workbench analyze`")
    p.add_argument("--layer", type=int, required=True, help="block whose emotion vectors are read")
    p.add_argument("--kind", default="contrast", help="which vectors: contrast or projected (default: contrast)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random directions (default: 0)")
    p.add_argument("--model", default=None, help="model to load (default: the one recorded in the run folder)")
    p.add_argument("--dtype", default=None, help="model dtype (default: the run's)")
    p.add_argument("--backend", default=None, help="auto, transformer_lens or nnsight (default: the run's)")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "lens", help="the logit lens of every emotion vector: promoted and suppressed tokens, own-word share",
        description="The first-order change of the next-token logits when the residual stream at block --layer "
                    "moves along each unit emotion vector from the layer's mean residual, through the final norm "
                    "and the unembedding (W_U . J_norm(m) . u). Writes logit_lens.json, logit_lens.csv and the "
                    "manifest's lens section into RUN_DIR, with the share of emotions whose top-k tokens hold a "
                    "form of their own word against random directions.")
    _common(p)
    p.add_argument("--k", type=int, default=20, help="tokens kept per emotion and side (default: 20)")
    p.add_argument("--n-random", type=int, default=1000, help="random directions for the null (default: 1000)")
    p.set_defaults(func=run_lens)
    b = subparsers.add_parser(
        "battery", help="intensity ladders and implicit scenarios against random-direction nulls",
        description="Reads every battery item (a chat transcript ending with a user message, the assistant's turn "
                    "opened by the template's generation prompt) at block --layer: at the user's last token and as "
                    "the mean over the generation prompt's tokens. Per ladder, Spearman rho of rung vs the target "
                    "emotion's z-scored projection; per scenario, the target's rank among all emotions; each beside "
                    "random unit directions in the target's place. Writes battery_summary.json, battery.csv and the "
                    "manifest's battery section into RUN_DIR.")
    _common(b)
    b.add_argument("--battery", type=Path, default=None, help="battery JSONL file (default: data/battery.jsonl)")
    b.add_argument("--n-random", type=int, default=2000, help="random directions for the nulls (default: 2000)")
    b.set_defaults(func=run_battery_cmd)


def _check(args) -> dict:
    """The run folder's manifest once the settings, the folder and the layer are checked (before torch loads)."""
    from workbench.errors import InputError
    from workbench.report.check import check_analysed_run

    if args.n_random < 1:
        raise InputError(f"--n-random must be >= 1, got {args.n_random}")
    manifest, layers = check_analysed_run(args.run_dir, layer=args.layer)
    args.layer = layers["layer"]
    return manifest


def _setup(args, manifest: dict):
    import workbench as wb
    from workbench.analysis.vectors import EmotionVectors
    from workbench.errors import InputError

    vectors = EmotionVectors.load(args.run_dir)
    vectors.layer_index(args.layer)
    vectors.kind(args.kind)
    spec = manifest["collect"].get("model", {})
    name = args.model or spec.get("name")
    model = wb.load_model(name, backend=args.backend or spec.get("backend") or "auto",
                          dtype=args.dtype or spec.get("dtype") or "bfloat16", revision=spec.get("revision"))
    if model.d_model != vectors.d_model:
        raise InputError(f"{name} has d_model {model.d_model}, the run's vectors {vectors.d_model}: use the run's model")
    return model, vectors


def run_lens(args) -> int:
    manifest = _check(args)
    from workbench.lens import vector_logit_lens

    model, vectors = _setup(args, manifest)
    lens = vector_logit_lens(model, vectors, args.layer, k=args.k, kind=args.kind, n_random=args.n_random,
                             seed=args.seed)
    lens.save(args.run_dir)
    s = lens.share
    assert s is not None  # --n-random >= 1 draws the null
    print(f"logit lens of {len(lens.emotions)} {args.kind} vectors at layer {lens.layer} ({model.name}), top {lens.k}:")
    print(f"own-word share {s.share:.3f} [{s.ci_low:.3f}, {s.ci_high:.3f}] (95% Wilson, {len(s.hits)}/{s.n_emotions}; "
          f"{s.n_eligible} have a whole-word form in the vocabulary); random directions {s.null_mean:.4f} "
          f"[{s.null_low:.3f}, {s.null_high:.3f}] (95% of {s.n_sets} sets from {s.n_random}), p = {s.p:.4f}")
    print(f"hits: {', '.join(s.hits) or 'none'}")
    print(f"wrote logit_lens.json, logit_lens.csv to {args.run_dir}")
    return 0


def run_battery_cmd(args) -> int:
    manifest = _check(args)
    from workbench.battery import load_battery, run_battery

    battery = load_battery(args.battery)  # checked before any model loads
    model, vectors = _setup(args, manifest)
    result = run_battery(model, vectors, args.layer, battery, kind=args.kind, n_random=args.n_random, seed=args.seed)
    result.save(args.run_dir)
    for line in headline(result.summary):
        print(line)
    print(f"wrote battery_summary.json, battery.csv to {args.run_dir}")
    return 0


def headline(summary: dict) -> list[str]:
    lines = [f"battery at layer {summary['layer']} ({summary['model']}), {summary['n_emotions']} emotions; "
             f"opening = mean over {summary['n_opening_tokens']} generation-prompt tokens"]
    for r in ("user_last", "opening"):
        m, sc = summary["ladder_mean"][r], summary["scenarios"][r]
        lines.append(f"[{r}] mean ladder rho {m['rho']:+.2f} (random null 95% [{m['null_low']:+.2f}, "
                     f"{m['null_high']:+.2f}], p = {m['p']:.3f})")
        for e in summary["ladders"]:
            s = e[r]
            lines.append(f"  {e['name']:>20} ({e['target']}): rho {s['rho']:+.2f}, null [{s['null_low']:+.2f}, "
                         f"{s['null_high']:+.2f}], p = {s['p']:.3f}, rank among emotions {s['rank_among_emotions']}")
        for k in ("top1", "top3"):
            t = sc[k]
            lines.append(f"  scenarios {k}: {t['hits']}/{len(sc['ranks'])} = {t['rate']:.3f} (random null mean "
                         f"{t['null_mean']:.3f}, 95% [{t['null_low']:.3f}, {t['null_high']:.3f}], p = {t['p']:.3f}; "
                         f"chance {t['chance']:.3f}, binomial p = {t['p_chance']:.3f})")
    return lines
