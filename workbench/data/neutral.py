"""The neutral texts: factual, emotion-free paragraphs that define the emotion-agnostic subspace.

One JSON object per line: ``{"id": ..., "subject": ..., "text": ...}`` (METHOD.md section 4).
"""

from __future__ import annotations

import json
from pathlib import Path

from workbench.errors import InputError
from workbench.io import iter_json_objects, text_field
from workbench.resources import data_path

__all__ = ["load_neutral_texts", "DEFAULT_NEUTRAL"]

DEFAULT_NEUTRAL = data_path("neutral_texts.jsonl")


def load_neutral_texts(path: str | Path | None = None) -> tuple[str, ...]:
    """The texts of a neutral-texts JSONL file (default: the project's ``data/neutral_texts.jsonl``).

    Every row needs a non-empty string ``text``; ids, when given, must be unique.
    Errors name the file and line.
    """
    path = Path(path) if path is not None else DEFAULT_NEUTRAL
    texts: list[str] = []
    ids: dict[object, int] = {}
    for line, row, where in iter_json_objects(path, f"neutral texts file {path}"):
        text = text_field(row, "text", where)
        if "id" in row:
            key = json.dumps(row["id"])
            if key in ids:
                raise InputError(f"{where}: id {row['id']!r} already used on line {ids[key]}")
            ids[key] = line
        texts.append(text)
    if not texts:
        raise InputError(f"neutral texts file {path} has no texts")
    return tuple(texts)
