"""``workbench analyze RUN_DIR`` and ``workbench compare RUN_DIR...``: thin layers over the analysis API."""

from __future__ import annotations

from pathlib import Path

from workbench.cli.options import add_analysis_options, dataclass_from_args
from workbench.errors import InputError

__all__ = ["register"]


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "analyze", help="emotion vectors and their geometry against valence and arousal",
        description="Build emotion vectors from a collect run folder (stories: kind 'story'; neutral texts: "
                    "kind 'neutral') and analyze them; writes emotion_vectors.safetensors, layers.csv, "
                    "cka_debiased.csv, cka_biased.csv, valence_cosine.csv, valence_directions.safetensors, "
                    "summary.json and the manifest's analysis section into RUN_DIR.")
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR", nargs="?", default=None,
                   help="a folder written by `workbench collect` (or --vectors with --out)")
    p.add_argument("--vectors", type=Path, default=None, metavar="PATH",
                   help="analyze emotion vectors made by another tool instead: a folder of per-layer files "
                        "(layer_16.npz, L16.npz, each keyed by emotion name) or one .npz/.safetensors/.pt file "
                        "with 'vectors' [layer, emotion, d_model] and 'emotions'; needs --out")
    p.add_argument("--out", type=Path, default=None, help="with --vectors: the folder to write the analysis to")
    p.add_argument("--model-layers", type=int, default=None,
                   help="with --vectors: the model's block count, for fractional depth (default: what the file "
                        "records, else the highest layer + 1)")
    add_analysis_options(p)
    p.set_defaults(func=run_analyze)

    c = subparsers.add_parser(
        "compare", help="several analysed runs side by side by fractional depth",
        description="One table by fractional depth (layer / (n_layers - 1)) across analysed runs, with debiased "
                    "CKA between the runs' vectors at matching depth.")
    c.add_argument("run_dirs", type=Path, nargs="+", metavar="RUN_DIR", help="run folders analysed with `workbench analyze`")
    c.add_argument("--out", type=Path, required=True, help="where to write the table (CSV)")
    c.add_argument("--neutral-projection", action="store_true", help="compare the neutral-projected vectors")
    c.add_argument("--figure", type=Path, default=None,
                   help="where to write the multi-run depth figure, a self-contained HTML page (colour = model, "
                        "line style = corpus; default: --out with the suffix .html)")
    c.set_defaults(func=run_compare)


def _split(acts, run_dir):
    kinds = [m.get("kind", "story") for m in acts.meta]
    unknown = sorted({str(k) for k in kinds} - {"story", "neutral"})
    if unknown:
        raise InputError(f"{run_dir}/texts.jsonl: texts of kind {unknown}; expected 'story' or 'neutral'")
    stories = [k == "story" for k in kinds]
    if not any(stories):
        raise InputError(f"{run_dir}: no story texts (kind 'story') among the {len(kinds)} texts")
    neutral = [k == "neutral" for k in kinds]
    return acts.select(stories), (acts.select(neutral) if any(neutral) else None)


def story_baselines(run_dir, stories, emotions) -> tuple[dict | None, str | None]:
    """The no-model baseline features of the run's stories (read back from the corpus file that
    ``texts.jsonl`` records), or ``(None, why not)`` when the texts cannot be read."""
    from workbench.analysis.baseline import text_features
    from workbench.errors import WorkbenchError
    from workbench.report.tokens import story_text

    try:
        cache: dict = {}
        texts = [story_text(m, Path(run_dir), cache) for m in stories.meta]
        return text_features(texts, [m.get("emotion") for m in stories.meta], emotions), None
    except WorkbenchError as exc:
        return None, f"no-model baselines not computed: {str(exc).replace(str(run_dir), 'RUN_DIR')}"


def _check_ratings(stories, ratings) -> None:
    """The check of :func:`workbench.analysis.analyze`, made before any work."""
    emotions = list(dict.fromkeys(m.get("emotion") for m in stories.meta))
    unrated = [e for e in emotions if e not in ratings.emotions]
    if unrated:
        raise InputError(f"vectors and ratings do not match: {len(unrated)} emotion(s) of the vectors have no "
                         f"rating: {unrated}")


def analyze_folder(run_dir, settings, ratings_path=None, neutral_variance: float = 0.5, progress: bool = True):
    """Emotion vectors and their analysis for a collect run folder, both saved into it.

    The folder is locked against a second writer for the whole analysis; every input is checked
    before any work, and nothing in the folder changes until the analysis is done (a refused or
    failed analysis leaves the previous vectors and analysis as they were). The analysis records
    the sha256 of the activations it read and of the vectors it wrote.
    Returns ``(report, has_neutral)``; ``settings`` is an :class:`AnalysisSettings`. The no-model
    baselines (bag of words, VADER) are computed from the stories' texts when their corpus file
    can be read (a note says so when it cannot).
    """
    import dataclasses

    from workbench.runfolder.manifest import collect_section

    collect_section(run_dir)  # a missing, unfinished or older folder: refused before torch loads, no lock file left
    from workbench.analysis import analyze, emotion_vectors
    from workbench.analysis.memory import check_memory, max_stories
    from workbench.analysis.persist import save_vectors
    from workbench.collect.activations import TENSORS_FILE, StoryActivations
    from workbench.data.ratings import load_ratings
    from workbench.io import read_json
    from workbench.runfolder import folder_kind, run_lock

    run_dir = Path(run_dir)
    if folder_kind(run_dir) != "run":
        StoryActivations.load(run_dir)  # not a run folder: refused with the reason, and no lock file left in it
    with run_lock(run_dir):
        acts = StoryActivations.load(run_dir)
        acts_sha = (read_json(run_dir / "manifest.json")["collect"].get("sha256") or {}).get(TENSORS_FILE)
        stories, neutral = _split(acts, run_dir)
        ratings = load_ratings(ratings_path)
        _check_ratings(stories, ratings)
        check_memory(len(set(stories.emotions)), max_stories(stories), len(acts.layers), settings.bootstrap,
                     settings.permutations)
        vectors = emotion_vectors(stories, neutral, neutral_variance)
        baselines, why = story_baselines(run_dir, stories, vectors.emotions)
        report = analyze(vectors, ratings, stories, settings, progress=progress, baselines=baselines)
        if why:
            report = dataclasses.replace(report, notes=report.notes + (why,))
        # only now, with the analysis done, is anything in the folder replaced
        inputs = {**report.inputs, "emotion_vectors.safetensors sha256": save_vectors(vectors, run_dir)}
        if acts_sha:
            inputs["activations.safetensors sha256"] = acts_sha
        report = dataclasses.replace(report, inputs=inputs)
        report.save(run_dir)
    return report, neutral is not None


def analyze_vector_files(path, out, settings, ratings_path=None, n_model_layers=None, progress: bool = True):
    """Vectors from other tools' files, analysed as a collected run's are; written to ``out`` with the report.

    The manifest gets an ``imported`` section (the source and its sha256) in place of ``collect``.
    """
    from workbench.analysis import analyze
    from workbench.analysis.manifest import sha256_file, update_manifest
    from workbench.analysis.vectors import EmotionVectors
    from workbench.data.ratings import load_ratings
    from workbench.io import read_json
    from workbench.report import write_report

    path, out = Path(path), Path(out)
    ratings = load_ratings(ratings_path)
    vectors = EmotionVectors.from_files(path, n_model_layers)
    manifest = out / "manifest.json"
    if manifest.is_file() and "collect" in (read_json(manifest) or {}):
        raise InputError(f"--out {out} holds a collected run; write the imported vectors' analysis to another folder")
    unrated = [e for e in vectors.emotions if e not in ratings.emotions]
    if unrated:
        where = ratings_path or "the project's ratings (data/emotions.csv)"
        raise InputError(f"{path}: {len(unrated)} emotion(s) have no rating in {where}: {unrated}")
    report = analyze(vectors, ratings, None, settings, progress=progress)
    files = sorted(path.iterdir()) if path.is_dir() else [path]
    out.mkdir(parents=True, exist_ok=True)
    update_manifest(out, "imported", {"source": str(path), "emotions": list(vectors.emotions),
                                      "layers": list(vectors.layers),
                                      "sha256": {f.name: sha256_file(f) for f in files if f.is_file()}})
    vectors.save(out)
    report.save(out)
    return report, write_report(out, ratings=ratings)


def run_analyze(args) -> int:
    from workbench.analysis.settings import AnalysisSettings

    settings = dataclass_from_args(AnalysisSettings, args)
    if args.vectors is not None or args.run_dir is None:
        return _run_imported(args, settings)
    report, has_neutral = analyze_folder(args.run_dir, settings, args.ratings, args.neutral_variance, args.progress)
    if not has_neutral:
        print(f"no neutral texts in {args.run_dir}: neutral projection off only")
    excluded = f", {len(report.excluded)} estimated ratings excluded" if report.excluded else ""
    print(f"analyzed {args.run_dir}: {len(report.emotions)} emotions{excluded}, {len(report.layers)} layers, "
          f"{settings.bootstrap} bootstrap resamples, {settings.permutations} permutations "
          f"({report.timings.get('total', 0):.1f} s)")
    print(report.headline())
    print(f"wrote emotion_vectors.safetensors, layers.csv, cka_debiased.csv, cka_biased.csv, valence_cosine.csv, "
          f"valence_directions.safetensors, summary.json to {args.run_dir}")
    return 0


def _run_imported(args, settings) -> int:
    if args.vectors is None:
        raise InputError("give RUN_DIR (a collect run folder) or --vectors PATH with --out DIR")
    if args.run_dir is not None or args.out is None:
        raise InputError("--vectors takes --out DIR (where to write the analysis) and no RUN_DIR")
    report, path = analyze_vector_files(args.vectors, args.out, settings, args.ratings, args.model_layers,
                                        args.progress)
    print(f"analyzed the vectors in {args.vectors}: {len(report.emotions)} emotions, {len(report.layers)} layers, "
          f"{settings.bootstrap} bootstrap resamples (emotions only: no story activations)")
    print(report.headline())
    print(f"wrote the analysis to {args.out}; report: {path}")
    return 0


def depth_figure_page(run_dirs, reports, neutral_projection: bool = False) -> str:
    """The multi-run depth figure of analysed runs as a self-contained HTML page."""
    from workbench.figures import depth_figure
    from workbench.io import read_json
    from workbench.report import figure_page, run_label

    labels = [run_label(read_json(Path(d) / "manifest.json"), d) for d in run_dirs]
    pairs = [(m["model"], m["corpus"]) for m in labels]
    for label, d in zip(labels, run_dirs):
        if pairs.count((label["model"], label["corpus"])) > 1:  # the same model and corpus twice: tell them apart
            label["corpus"] = f"{label['corpus']} ({Path(d).name or d})"
    fig = depth_figure([(label, r.layers_table()) for label, r in zip(labels, reports)], neutral_projection)
    return figure_page([fig], "workbench compare: r by fractional depth",
                       "runs: " + ", ".join(str(d) for d in run_dirs))


def run_compare(args) -> int:
    from workbench.analysis.compare import compare_runs
    from workbench.analysis.report import GeometryReport
    from workbench.analysis.report_io import write_layers_csv
    from workbench.analysis.vectors import EmotionVectors
    from workbench.io import atomic_write_text
    from workbench.report.folder import check_run_folder
    from workbench.runfolder import check_output_file

    names = [d.name or str(d) for d in args.run_dirs]
    labels = names if len(set(names)) == len(names) else [str(d) for d in args.run_dirs]
    if len(set(labels)) != len(labels):
        raise InputError(f"the same run folder is given twice: {[str(d) for d in args.run_dirs]}")
    figure = args.figure if args.figure is not None else args.out.with_suffix(".html")
    if figure.resolve() == args.out.resolve():
        raise InputError(f"--figure {figure} is the same file as --out; give the figure another name")
    runs = [("the run folder", d) for d in args.run_dirs]
    check_output_file(args.out, "--out", runs)
    check_output_file(figure, "--figure" if args.figure is not None else "--figure (from --out)", runs)
    reports = []
    for d in args.run_dirs:  # one run at a time: the first damaged one is named
        check_run_folder(d)  # every file there, and each the one its manifest records
        reports.append(GeometryReport.load(d))
    vectors = [EmotionVectors.load(d) for d in args.run_dirs]
    columns, rows = compare_runs(labels, reports, vectors, args.neutral_projection)
    write_layers_csv(args.out, columns, rows)
    atomic_write_text(figure, depth_figure_page(args.run_dirs, reports, args.neutral_projection))
    print(f"{'depth':>6}  " + "  ".join(f"{label[:18]:>18}" for label in labels))
    for row in rows:
        cells = [f"L{row[f'{label}:layer']:<3} r={row[f'{label}:pc1_valence_r']:.2f}" for label in labels]
        print(f"{row['depth']:6.2f}  " + "  ".join(f"{c:>18}" for c in cells))
    print(f"wrote {len(rows)} rows to {args.out} and the depth figure to {figure}")
    return 0
