"""CLI options generated from config dataclasses, so options and help are written once.

A field's ``metadata`` may hold ``help`` and ``flag`` (the option name when it
is not the field name with dashes). Values are parsed with the field's type
and then validated by the dataclass's own ``__post_init__``.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing

from workbench.errors import InputError

__all__ = ["add_dataclass_options", "dataclass_from_args", "parse_number_list"]


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


def parse_number_list(text: str, name: str) -> list[float]:
    """Parse ``"-0.4,0,0.2"``; a part that is not a number is an error naming ``name``."""
    out = []
    for part in text.split(","):
        part = part.strip()
        try:
            out.append(float(part))
        except ValueError:
            raise InputError(f"{name}: {part!r} is not a number (in {text!r})") from None
    if not out:
        raise InputError(f"{name}: no values in {text!r}")
    return out
