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
    from workbench.io import read_text

    text = read_text(path, f"prompts file {path}")
    prompts = tuple(line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#"))
    if not prompts:
        raise InputError(f"prompts file {path} has no prompt (one per line; '#' starts a comment line)")
    seen = set()
    for prompt in prompts:
        if prompt in seen:
            raise InputError(f"prompts file {path}: prompt {prompt!r} is listed twice")
        seen.add(prompt)
    return prompts
