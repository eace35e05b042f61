"""The battery file: intensity ladders and implicit scenarios, one JSON object per line.

A ladder: ``{"name", "target", "template", "values": [...]}``; the template is the
user's message, with ``{value}`` where each rung's quantity goes (rungs in the
order given, from the least to the most intense). A scenario: ``{"target",
"messages": [...]}`` (a chat transcript ending with a user message) or
``{"target", "text"}`` (read as one user message). Every target is one of the
project's emotions (``data/emotions.txt``), and no text may name its target or
a form of it (:func:`workbench.data.forms.names_emotion`). Every error names
the file and line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from workbench.data.chat import check_messages
from workbench.data.forms import names_emotion
from workbench.errors import InputError
from workbench.io import iter_json_objects, text_field
from workbench.resources import data_path

__all__ = ["Ladder", "Scenario", "Battery", "load_battery", "DEFAULT_BATTERY", "PLACEHOLDER", "known_emotions"]

DEFAULT_BATTERY = data_path("battery.jsonl")
PLACEHOLDER = "{value}"


def known_emotions() -> tuple[str, ...]:
    """The project's emotions (``data/emotions.txt``)."""
    return tuple(x.strip() for x in data_path("emotions.txt").read_text(encoding="utf-8").splitlines() if x.strip())


@dataclass(frozen=True)
class Ladder:
    name: str
    target: str
    template: str
    values: tuple[str, ...]
    line: int = 0

    def messages(self, rung: int) -> list[dict]:
        return [{"role": "user", "content": self.template.replace(PLACEHOLDER, self.values[rung])}]


@dataclass(frozen=True)
class Scenario:
    target: str
    messages: tuple[dict, ...]
    line: int = 0
    name: str = ""


@dataclass(frozen=True)
class Battery:
    ladders: tuple[Ladder, ...]
    scenarios: tuple[Scenario, ...]
    source: str = ""

    @property
    def targets(self) -> set[str]:
        return {x.target for x in self.ladders} | {x.target for x in self.scenarios}


def _text(row: dict, key: str, where: str) -> str:
    value = row.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{where}: missing or empty {key!r} (keys: {sorted(row)})")
    return value


def _no_naming(text: str, target: str, where: str) -> None:
    named = names_emotion(text, target)
    if named:
        raise InputError(f"{where}: names its target emotion {target!r} ({', '.join(repr(w) for w in named)}); "
                         "a battery item must evoke its emotion without naming it")


def _ladder(row: dict, target: str, where: str, line: int) -> Ladder:
    name, template = _text(row, "name", where), _text(row, "template", where)
    if PLACEHOLDER not in template:
        raise InputError(f"{where}: ladder {name!r}: the template has no {PLACEHOLDER} placeholder")
    values = row.get("values")
    if not isinstance(values, list) or len(values) < 2:
        raise InputError(f"{where}: ladder {name!r}: 'values' must be a list of at least 2 rungs, got {values!r:.60}")
    if any(isinstance(v, bool) or not isinstance(v, (int, float, str)) for v in values):
        raise InputError(f"{where}: ladder {name!r}: every value must be a number or a string")
    values = tuple(str(v) for v in values)
    if len(set(values)) != len(values):
        raise InputError(f"{where}: ladder {name!r}: a value is listed twice")
    for v in values:
        _no_naming(template.replace(PLACEHOLDER, v), target, f"{where}: ladder {name!r}")
    return Ladder(name, target, template, values, line)


def _scenario(row: dict, target: str, where: str, line: int) -> Scenario:
    if "messages" in row:
        try:
            messages = check_messages(row["messages"], row=line)
        except InputError as exc:
            raise InputError(f"{where}: {exc}") from None
    else:
        messages = [{"role": "user", "content": _text(row, "text", where)}]
    if messages[-1]["role"] != "user":
        raise InputError(f"{where}: a scenario must end with a user message (the assistant's turn is read after "
                         f"it), not {messages[-1]['role']!r}")
    for m in messages:
        if not m["content"].strip():
            raise InputError(f"{where}: a {m['role']} message is empty")
        _no_naming(m["content"], target, where)
    last = " ".join(messages[-1]["content"].split())
    name = row["name"] if isinstance(row.get("name"), str) else (last[:48] + "..." if len(last) > 48 else last)
    return Scenario(target, tuple(messages), line, name)


def load_battery(path: str | Path | None = None) -> Battery:
    """Read and check a battery file (default: the project's ``data/battery.jsonl``)."""
    path = Path(path) if path is not None else DEFAULT_BATTERY
    known = set(known_emotions())
    ladders, scenarios = [], []
    names: dict[str, int] = {}
    for line, row, where in iter_json_objects(path, f"battery file {path}"):
        target = text_field(row, "target", where, "the emotion the item should evoke")
        if target not in known:
            raise InputError(f"{where}: unknown target emotion {target!r} (not one of the {len(known)} in "
                             "data/emotions.txt)")
        if "template" in row or "values" in row:
            ladder = _ladder(row, target, where, line)
            if ladder.name in names:
                raise InputError(f"{where}: ladder name {ladder.name!r} already used on line {names[ladder.name]}")
            names[ladder.name] = line
            ladders.append(ladder)
        elif "messages" in row or "text" in row:
            scenarios.append(_scenario(row, target, where, line))
        else:
            raise InputError(f"{where}: neither a ladder ('name', 'template', 'values') nor a scenario "
                             "('messages' or 'text')")
    if not ladders and not scenarios:
        raise InputError(f"battery file {path} has no ladders and no scenarios")
    return Battery(tuple(ladders), tuple(scenarios), str(path))
