"""The ``workbench`` command: a thin layer over the public functions.

Each sub-command lives in its own module of this package, which exposes
``register(subparsers)``; the module adds its parser and sets ``func`` to a
function taking the parsed namespace. User errors (:class:`WorkbenchError`)
print one clear message and exit with code 2, without a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from workbench.errors import WorkbenchError

__all__ = ["main", "build_parser"]

# name -> module; every module defines register(subparsers).
COMMANDS: dict[str, str] = {
    "collect": "workbench.cli.collect_cmd",
    "corpus": "workbench.cli.corpus_cmd",
    "generate": "workbench.cli.generate_cmd",
    "analyze": "workbench.cli.analyze_cmd",
    "calibrate": "workbench.cli.calibrate_cmd",
    "compare": "workbench.cli.analyze_cmd",
    "report": "workbench.cli.report_cmd",
    "run": "workbench.cli.run_cmd",
    "steer": "workbench.cli.steer_cmd",
    "monitor": "workbench.cli.monitor_cmd",
    "lens": "workbench.cli.lens_cmd",
    "battery": "workbench.cli.lens_cmd",
    "merge": "workbench.cli.merge_cmd",
    "prefer": "workbench.cli.prefer_cmd",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="workbench", description="Emotion vectors in open LLMs.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True)
    seen = set()
    for module_name in COMMANDS.values():
        if module_name in seen:
            continue
        seen.add(module_name)
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue  # that command is not built yet
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from workbench.runfolder import set_command

    set_command(" ".join(["workbench", *(sys.argv[1:] if argv is None else map(str, argv))]))
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except WorkbenchError as exc:
        from workbench.cli.options import option_message

        print(f"workbench {args.command}: error: {option_message(exc, parser, args.command)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"workbench {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
