"""CLI options generated from config dataclasses, so options and help are written once.

A field's ``metadata`` may hold ``help`` and ``flag`` (the option name when it
is not the field name with dashes). Values are parsed with the field's type
and then validated by the dataclass's own ``__post_init__``.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import typing

from workbench.values import parse_number_list

__all__ = ["add_dataclass_options", "add_analysis_options", "dataclass_from_args", "parse_number_list", "option_message"]


def _scalar_type(tp):
    origin = typing.get_origin(tp)
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _scalar_type(args[0]) if len(args) == 1 else str
    return tp if tp in (int, float, str, bool) else str


def add_dataclass_options(parser: argparse.ArgumentParser, cls, exclude: tuple[str, ...] = ()) -> None:
    """Add one ``--option`` per field of dataclass ``cls`` (defaults and help from the fields)."""
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        if field.name in exclude or not field.init:
            continue
        flag = field.metadata.get("flag", "--" + field.name.replace("_", "-"))
        default = field.default if field.default is not dataclasses.MISSING else None
        help_text = field.metadata.get("help", "")
        tp = _scalar_type(hints[field.name])
        if tp is bool:
            parser.add_argument(flag, dest=field.name, action=argparse.BooleanOptionalAction,
                                default=default, help=help_text)
        else:
            parser.add_argument(flag, dest=field.name, type=_typed(tp, flag), default=default,
                                help=f"{help_text} (default: {default})")


def add_analysis_options(parser: argparse.ArgumentParser) -> None:
    """The options of an analysis (``analyze`` and ``run``): the :class:`AnalysisSettings` fields, the ratings,
    the neutral variance removed, and the progress bars."""
    from pathlib import Path

    from workbench.analysis.settings import AnalysisSettings

    add_dataclass_options(parser, AnalysisSettings)
    parser.add_argument("--ratings", type=Path, default=None,
                        help="ratings CSV (default: the project's data/emotions.csv)")
    parser.add_argument("--neutral-variance", type=float, default=0.5,
                        help="share of the neutral texts' variance whose principal subspace is removed (default: 0.5)")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True, help="show progress bars")


def _typed(tp, flag):
    def convert(text: str):
        try:
            return tp(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} expects {tp.__name__}, got {text!r}") from None
    convert.__name__ = tp.__name__
    return convert


def dataclass_from_args(cls, args: argparse.Namespace, **overrides):
    """Build ``cls`` from the parsed options (its ``__post_init__`` validates them)."""
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls)
              if f.init and hasattr(args, f.name)}
    values.update(overrides)
    return cls(**values)


def option_message(exc: Exception, parser: argparse.ArgumentParser, command: str | None = None) -> str:
    """``exc``'s message with the settings fields a :class:`SettingError` names said as ``parser``'s
    options (``max_length`` -> ``--max-length``; with ``command``, the options of that sub-command);
    other messages as they are."""
    if command is not None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction) and command in action.choices:
                parser = action.choices[command]
    message = str(exc)
    for name in getattr(exc, "fields", ()):
        flags = [a.option_strings for a in parser._actions if a.dest == name and a.option_strings]
        if flags:
            flag = max(flags[0], key=len)
            message = re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w-])", flag, message, count=1)
    return message
