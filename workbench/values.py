"""Values a user gives and is shown: the one integer check, the number-list parser of the settings
dataclasses, and the one number formatter (a missing number, None or NaN, is said, never a 0).

Errors are :class:`~workbench.errors.SettingError`\\ s naming the settings field; the CLI says its
option instead (``--max-new-tokens`` for ``max_new_tokens``).
"""

from __future__ import annotations

from typing import TypeGuard

from workbench.errors import SettingError

__all__ = ["is_int", "check_int", "check_ints", "parse_number_list", "format_number", "format_interval"]


def is_int(value: object) -> TypeGuard[int]:
    """Whether ``value`` is an integer (``bool`` is not, though Python counts it as one)."""
    return isinstance(value, int) and not isinstance(value, bool)


def check_int(value, name: str, low: int | None = None) -> int:
    """``value`` when it is an integer (not a bool) of at least ``low``; else a SettingError naming ``name``."""
    if not is_int(value):
        raise SettingError(f"{name} must be an integer, got {value!r}", name)
    if low is not None and value < low:
        raise SettingError(f"{name} must be >= {low}, got {value}", name)
    return value


def check_ints(obj, bounds: dict[str, int | None]) -> None:
    """The fields of ``obj`` that ``bounds`` names are integers (all checked before any bound), each of at
    least its bound unless that is None; else a SettingError naming the first field that is not."""
    for name in bounds:
        check_int(getattr(obj, name), name)
    for name, low in bounds.items():
        if low is not None:
            check_int(getattr(obj, name), name, low)


def parse_number_list(text: str, name: str) -> list[float]:
    """Parse ``"-0.4,0,0.2"``; a part that is not a number is a SettingError naming ``name``."""
    out = []
    for part in text.split(","):
        part = part.strip()
        try:
            out.append(float(part))
        except ValueError:
            raise SettingError(f"{name}: {part!r} is not a number (in {text!r})", name) from None
    if not out:
        raise SettingError(f"{name}: no values in {text!r}", name)
    return out


def format_number(x, spec: str = ".2f", missing: str = "n/a") -> str:
    """``x`` formatted with ``spec``; ``missing`` for None or NaN; a bool as ``True``/``False``."""
    if x is None or isinstance(x, bool):
        return missing if x is None else str(x)
    x = float(x)
    return missing if x != x else format(x, spec)


def format_interval(stat, spec: str = "+.2f", missing: str = "n/a") -> str:
    """``"rho [ci_low, ci_high]"`` of a statistic's dict (keys ``rho``, ``ci_low``, ``ci_high``; a missing one
    shown as ``missing``); ``missing`` alone when there is no statistic."""
    if not stat:
        return missing
    return (f"{format_number(stat.get('rho'), spec, missing)} [{format_number(stat.get('ci_low'), spec, missing)}, "
            f"{format_number(stat.get('ci_high'), spec, missing)}]")
