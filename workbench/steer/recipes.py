"""Intervention recipes: small files in ``hooks/`` with one ``make_hook(direction, scale)`` factory.

A recipe is named (``add_direction`` loads ``hooks/add_direction.py``) or given
as a path to any ``.py`` file defining ``make_hook``. The built-in recipes are
also attributes of this module: ``from workbench.steer.recipes import
add_direction`` is the ``make_hook`` of ``hooks/add_direction.py``. A recipe
file is executed once per version of the file (its path, size and modification
time), not at every use: a steering run loads it once, and an edited file is
read again.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from workbench.errors import InputError
from workbench.resources import hooks_dir

__all__ = ["HOOKS_DIR", "load_recipe", "available_recipes"]

HOOKS_DIR = hooks_dir()
_LOADED: dict[tuple[str, int, int], object] = {}  # (resolved path, mtime_ns, size) -> make_hook


def available_recipes() -> list[str]:
    return sorted(p.stem for p in HOOKS_DIR.glob("*.py") if not p.stem.startswith("_"))


def _recipe_path(name_or_path: str) -> Path:
    path = Path(name_or_path)
    if path.suffix != ".py":
        path = HOOKS_DIR / f"{name_or_path}.py"
        if not path.is_file():
            raise InputError(f"unknown hook recipe {name_or_path!r}; known: {available_recipes()} "
                             f"(or give the path of a .py file defining make_hook)")
    elif not path.is_file():
        raise InputError(f"hook recipe file {path} does not exist")
    return path


def load_recipe(name_or_path: str):
    """The ``make_hook`` factory of a recipe, by name (in ``hooks/``) or by path."""
    path = _recipe_path(name_or_path)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    if key not in _LOADED:
        spec = importlib.util.spec_from_file_location(f"workbench_hook_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        factory = getattr(module, "make_hook", None)
        if not callable(factory):
            raise InputError(f"hook recipe {path} defines no make_hook(direction, scale) function")
        _LOADED[key] = factory
    return _LOADED[key]


def __getattr__(name: str):
    if not name.startswith("_") and (HOOKS_DIR / f"{name}.py").is_file():
        return load_recipe(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + available_recipes())
