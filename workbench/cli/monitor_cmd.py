"""``workbench monitor RUN --layer L --text "..." | --transcript FILE``: every emotion, token by token.

Writes ``RUN/monitor.json`` (the report shows it in its Monitor section) and prints,
per message, the emotions with the highest mean z. A transcript file is JSONL: one
``{"role", "content"}`` message per line (one transcript), or one
``{"messages": [...]}`` object per line (one transcript each).
"""

from __future__ import annotations

import json
from pathlib import Path

from workbench.errors import InputError

__all__ = ["register", "read_transcripts"]


def register(sub) -> None:
    p = sub.add_parser("monitor", help="per-token z-scores of every emotion vector over a text or a chat transcript",
                       description=__doc__)
    p.add_argument("run", type=Path, help="an analysed run folder (its emotion vectors and its model)")
    p.add_argument("--layer", type=int, required=True, help="block whose resid_post is read")
    p.add_argument("--text", action="append", default=[], help="a text to monitor (repeatable)")
    p.add_argument("--transcript", action="append", default=[], type=Path,
                   help="a JSONL transcript file (repeatable; see above)")
    p.add_argument("--emotions", default="all", help="'all' or comma-separated emotions (default: all)")
    p.add_argument("--kind", default="contrast", choices=("contrast", "projected", "raw"),
                   help="which emotion vectors, made unit length (default: contrast)")
    p.add_argument("--neutral", default="bundled", help="neutral texts for the z baseline: 'bundled' or a JSONL path")
    p.add_argument("--top-k", type=int, default=3, help="emotions printed per message (default: 3)")
    p.add_argument("--out", type=Path, default=None, help="where to write the result (default: RUN/monitor.json)")
    p.add_argument("--device", default="cpu", help="torch device")
    p.set_defaults(func=run)


def _transcripts_in(path: Path) -> list[list[dict]]:
    from workbench.data.chat import check_messages
    from workbench.io import jsonl_lines

    if not path.is_file():
        raise InputError(f"transcript file {path} does not exist")
    rows = []
    for line, text in enumerate(jsonl_lines(path.read_text(encoding="utf-8")), start=1):
        if not text.strip():
            continue
        try:
            rows.append(json.loads(text))
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}, line {line}: malformed JSON ({exc.msg})") from None
        if not isinstance(rows[-1], dict):
            raise InputError(f"{path}, line {line}: expected a JSON object, got {type(rows[-1]).__name__}")
    if not rows:
        raise InputError(f"transcript file {path} holds no message")
    if all("messages" in r for r in rows):
        return [check_messages(r["messages"], row=f"{path}, line {i}") for i, r in enumerate(rows, start=1)]
    for i, r in enumerate(rows, start=1):
        if "messages" in r:
            raise InputError(f"{path}, line {i}: a transcript object among message rows (use one form per file)")
        try:
            check_messages([r], row=f"{path}")
        except InputError as exc:
            raise InputError(str(exc).replace(f"transcript {path}, message 0", f"{path}, line {i}")) from None
    return [check_messages(rows, row=str(path))]


def read_transcripts(paths) -> list[list[dict]]:
    """The transcripts of every JSONL file in ``paths`` (see the module docstring)."""
    return [t for path in paths for t in _transcripts_in(Path(path))]


def run(args) -> int:
    from workbench.report.check import check_analysed_run

    if not args.text and not args.transcript:
        raise InputError("give --text TEXT or --transcript FILE (at least one)")
    if args.top_k < 1:
        raise InputError(f"--top-k must be at least 1, got {args.top_k}")
    args.layer = check_analysed_run(args.run, layer=args.layer)[1]["layer"]  # before torch loads
    from workbench.analysis.vectors import EmotionVectors
    from workbench.monitor import monitor
    from workbench.report.folder import load_run_model

    vectors = EmotionVectors.load(args.run)
    emotions = "all" if args.emotions == "all" else [e.strip() for e in args.emotions.split(",") if e.strip()]
    if emotions != "all":
        unknown = [e for e in emotions if e not in vectors.emotions]
        if unknown:
            raise InputError(f"--emotions: {unknown} not among the run's emotions")
    items = list(args.text) + read_transcripts(args.transcript)
    labels = [f"text {i + 1}" for i in range(len(args.text))] + \
             [f"transcript {i + 1}" for i in range(len(items) - len(args.text))]
    neutral = None
    if args.neutral != "bundled":
        from workbench.data.neutral import load_neutral_texts

        neutral = load_neutral_texts(args.neutral)
    model = load_run_model(args.run, device=args.device)
    result = monitor(model, vectors, items, args.layer, emotions, kind=args.kind, neutral_texts=neutral, labels=labels)
    path = result.save(args.out if args.out is not None else args.run)
    for t in result.texts:
        for row in result.message_means(t.label):
            scores = sorted(((v, e) for e, v in row.items() if e in result.emotions and v == v), reverse=True)
            best = ", ".join(f"{e} {v:+.2f}" for v, e in scores[:args.top_k])
            print(f"{t.label}, message {row['message']} ({row['role']}): {best or 'no scored token'}")
    print(f"monitor: {path}")
    return 0
