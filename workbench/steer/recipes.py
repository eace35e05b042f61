"""Intervention recipes: small files in ``hooks/`` with one ``make_hook(direction, scale)`` factory.

A recipe is named (``add_direction`` loads ``hooks/add_direction.py``) or given
as a path to any ``.py`` file defining ``make_hook``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from workbench.errors import InputError

__all__ = ["HOOKS_DIR", "load_recipe", "available_recipes"]

HOOKS_DIR = Path(__file__).resolve().parents[2] / "hooks"


def available_recipes() -> list[str]:
    return sorted(p.stem for p in HOOKS_DIR.glob("*.py") if not p.stem.startswith("_"))


def load_recipe(name_or_path: str):
    """The ``make_hook`` factory of a recipe, by name (in ``hooks/``) or by path."""
    path = Path(name_or_path)
    if path.suffix != ".py":
        path = HOOKS_DIR / f"{name_or_path}.py"
        if not path.is_file():
            raise InputError(f"unknown hook recipe {name_or_path!r}; known: {available_recipes()} "
                             f"(or give the path of a .py file defining make_hook)")
    elif not path.is_file():
        raise InputError(f"hook recipe file {path} does not exist")
    spec = importlib.util.spec_from_file_location(f"workbench_hook_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    factory = getattr(module, "make_hook", None)
    if not callable(factory):
        raise InputError(f"hook recipe {path} defines no make_hook(direction, scale) function")
    return factory
