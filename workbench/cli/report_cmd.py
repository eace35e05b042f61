"""``workbench report RUN_DIR``: the self-contained HTML report of an analysed run folder."""

from __future__ import annotations

from pathlib import Path

__all__ = ["register"]


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "report", help="write RUN_DIR/report.html: every figure, the headline numbers, the tables, the manifest",
        description="Write one self-contained HTML page (plotly.js inlined, opens offline from a file) for a run "
                    "folder made by `workbench collect` + `workbench analyze` (or `workbench run`). Optional "
                    "sections (token view, steering) are included when their files are there; the page says "
                    "which are missing and which command makes them.")
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="an analysed run folder")
    p.add_argument("--out", type=Path, default=None, help="the HTML file to write (default: RUN_DIR/report.html)")
    p.add_argument("--ratings", type=Path, default=None,
                   help="the ratings CSV the analysis used (default: the project's data/emotions.csv)")
    p.add_argument("--tokens", action="store_true",
                   help="first make the token view (token_view.json): loads the run's model from its manifest")
    p.add_argument("--text", action="append", default=None, metavar="TEXT",
                   help="a text for the token view (repeatable; implies --tokens; default: the most positive and "
                        "most negative emotion's first story and a neutral text)")
    p.add_argument("--token-layer", type=int, default=None,
                   help="the layer of the token view (default: the peak PC1-valence layer)")
    p.add_argument("--max-tokens", type=int, default=192, help="tokens shown per text (default: 192)")
    p.set_defaults(func=run_report)


def run_report(args) -> int:
    from workbench.data.ratings import load_ratings
    from workbench.errors import InputError
    from workbench.report.check import check_run_folder
    from workbench.runfolder import check_output_file, run_lock

    own = args.run_dir / "report.html"
    check_output_file(args.out or own, "--out", [("the ratings file", args.ratings)], allowed=own)
    check_run_folder(args.run_dir, digests=False)  # a missing or unanalysed folder: refused before torch, plotly
    ratings = load_ratings(args.ratings)
    if args.max_tokens < 1:
        raise InputError(f"--max-tokens must be at least 1, got {args.max_tokens}")
    if args.tokens or args.text:
        from workbench.report.check import check_analysed_run

        layer = check_analysed_run(args.run_dir, token_layer=args.token_layer)[1]["token_layer"]  # before torch
        from workbench.report import load_run_model, make_token_view

        with run_lock(args.run_dir):  # the token view is written into the run folder
            model = load_run_model(args.run_dir)
            view = make_token_view(model, args.run_dir, texts=args.text, layer=layer,
                                   max_tokens=args.max_tokens, ratings=ratings)
            view.save(args.run_dir)
        print(f"token view: {len(view.texts)} texts at layer {view.layer} -> {args.run_dir / 'token_view.json'}")
    from workbench.report import write_report

    path = write_report(args.run_dir, args.out, ratings=ratings)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0
