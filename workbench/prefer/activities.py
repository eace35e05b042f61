"""Activities for the preference tournament: ``GROUP | CATEGORY | ACTIVITY`` per line (``#`` comments).

``GROUP`` is ``pleasant``, ``neutral`` or ``unpleasant``: the steering shift is the mean Elo of the
pleasant group minus that of the unpleasant group. The bundled list is ``data/activities.txt``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from workbench.errors import InputError
from workbench.resources import data_path

__all__ = ["Activities", "load_activities", "GROUPS", "DEFAULT_ACTIVITIES"]

GROUPS = ("pleasant", "neutral", "unpleasant")
DEFAULT_ACTIVITIES = data_path("activities.txt")


@dataclass(frozen=True)
class Activities:
    """``texts``, and per activity its ``groups`` and ``categories`` entry; ``source`` the file."""

    texts: tuple[str, ...]
    groups: tuple[str, ...]
    categories: tuple[str, ...]
    source: str

    def __len__(self) -> int:
        return len(self.texts)

    def members(self, group: str) -> list[int]:
        return [k for k, g in enumerate(self.groups) if g == group]


def load_activities(path: str | Path | None = None) -> Activities:
    """The activities of ``path`` (default: the bundled ``data/activities.txt``), checked."""
    from workbench.io import file_problem

    path = Path(path) if path is not None else DEFAULT_ACTIVITIES
    problem = file_problem(path)
    if problem:
        raise InputError(f"activities file {path} {problem}")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise InputError(f"activities file {path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    texts, groups, categories = [], [], []
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = [p.strip() for p in line.split("|")]
        if len(parts) != 3 or not all(parts):
            raise InputError(f"activities file {path}, line {number}: expected GROUP | CATEGORY | ACTIVITY, "
                             f"got {line.strip()!r}")
        group, category, text = parts
        if group not in GROUPS:
            raise InputError(f"activities file {path}, line {number}: group {group!r} is not one of {list(GROUPS)}")
        if text in texts:
            raise InputError(f"activities file {path}, line {number}: activity {text!r} is listed twice")
        texts.append(text)
        groups.append(group)
        categories.append(category)
    if len(texts) < 3:
        raise InputError(f"activities file {path} has {len(texts)} activities; a tournament needs at least 3")
    for group in ("pleasant", "unpleasant"):
        if group not in groups:
            raise InputError(f"activities file {path} has no {group} activity (the steering shift compares the "
                             "pleasant and unpleasant groups)")
    return Activities(tuple(texts), tuple(groups), tuple(categories), str(path))
