"""Steering prompts: one sentence opening per line (``#`` lines and blank lines ignored)."""

from __future__ import annotations

from pathlib import Path

from workbench.errors import InputError
from workbench.resources import data_path

__all__ = ["DEFAULT_PROMPTS", "load_prompts"]

DEFAULT_PROMPTS = data_path("steer_prompts.txt")


def load_prompts(path: str | Path | None = None) -> tuple[str, ...]:
    """The prompts of ``path`` (default: ``data/steer_prompts.txt``, neutral openings written for this project)."""
    path = Path(path) if path is not None else DEFAULT_PROMPTS
    from workbench.io import file_problem

    if file_problem(path):
        raise InputError(f"prompts file {path} {file_problem(path)}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"prompts file {path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    prompts = tuple(line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#"))
    if not prompts:
        raise InputError(f"prompts file {path} has no prompt (one per line; '#' starts a comment line)")
    seen = set()
    for prompt in prompts:
        if prompt in seen:
            raise InputError(f"prompts file {path}: prompt {prompt!r} is listed twice")
        seen.add(prompt)
    return prompts
