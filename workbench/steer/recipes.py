"""Intervention recipes: small Python files with one ``make_hook(direction, scale)`` factory.

A recipe is code: loading one runs it, with the rights of the user who runs the workbench (as
any Python file they run would). A recipe given by name (``add_direction``) is looked up only in
the recipe folder ``hooks/``; anything else must be given by its path (``./my_recipe.py``,
``path/to/recipe.py``). An error raised inside a recipe (while it loads, in ``make_hook`` or in
the hook it returns) is a :class:`~workbench.errors.RecipeError` whose message shows the recipe's
own traceback once, marked as the recipe's.

The built-in recipes are also attributes of this module: ``from workbench.steer.recipes import
add_direction`` is the (guarded) ``make_hook`` of ``hooks/add_direction.py``. A recipe file is
executed once per version of the file (its path, size and modification time), not at every use.
"""

from __future__ import annotations

import functools
import importlib.util
import traceback
from pathlib import Path

from workbench.errors import InputError, RecipeError
from workbench.resources import hooks_dir

__all__ = ["HOOKS_DIR", "load_recipe", "available_recipes"]

HOOKS_DIR = hooks_dir()
_LOADED: dict[tuple[str, int, int], object] = {}  # (resolved path, mtime_ns, size) -> make_hook


def available_recipes() -> list[str]:
    return sorted(p.stem for p in HOOKS_DIR.glob("*.py") if not p.stem.startswith("_"))


def _recipe_path(name_or_path: str) -> Path:
    from workbench.io import file_problem

    text = str(name_or_path)
    if "/" in text or "\\" in text:  # a path
        path = Path(text).expanduser()
        if path.suffix != ".py":
            raise InputError(f"hook recipe file {path} is not a .py file")
        problem = file_problem(path)
        if problem:
            raise InputError(f"hook recipe file {path} {problem}")
        return path
    if text.endswith(".py"):
        raise InputError(f"hook recipe {text!r}: a recipe file is given by its path (./{text}); a name "
                         f"({text[:-3]!r}) is looked up in the recipe folder {HOOKS_DIR} only")
    path = HOOKS_DIR / f"{text}.py"
    if not text.isidentifier() or not path.is_file():
        raise InputError(f"unknown hook recipe {text!r}; known: {available_recipes()} "
                         f"(or give the path of a .py file defining make_hook, e.g. ./my_recipe.py)")
    return path


def _recipe_error(path: Path, stage: str, exc: BaseException) -> RecipeError:
    """The error of a recipe, with the frames of the recipe's own file (the workbench's are left out)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename) == path]
    trace = "".join(traceback.format_list(frames)) if frames else ""
    what = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return RecipeError(f"the hook recipe {path} raised an error {stage} (this is the recipe's code, not the "
                       f"workbench's; its traceback:)\n{trace}{what}")


def _guarded(path: Path, factory):
    """``factory``, with errors raised in it or in the hooks it makes reported as the recipe's."""
    @functools.wraps(factory)
    def make_hook(direction, scale):
        try:
            hook = factory(direction, scale)
        except Exception as exc:  # the user's code: reported as theirs, with their traceback
            raise _recipe_error(path, "in make_hook", exc) from None
        if not callable(hook):
            raise RecipeError(f"the hook recipe {path}: make_hook returned {type(hook).__name__}, not a function")

        @functools.wraps(hook)
        def guarded(hidden):
            try:
                return hook(hidden)
            except Exception as exc:  # the user's code: reported as theirs, with their traceback
                raise _recipe_error(path, "in its hook", exc) from None

        return guarded

    return make_hook


def load_recipe(name_or_path: str):
    """The ``make_hook`` factory of a recipe, by name (in ``hooks/``) or by path. Loading runs the file,
    once per version of it."""
    path = _recipe_path(name_or_path).resolve()
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _LOADED:
        spec = importlib.util.spec_from_file_location(f"workbench_hook_{path.stem}", path)
        if spec is None or spec.loader is None:
            raise RecipeError(f"recipe {path} cannot be imported as a Python module")
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception as exc:  # the user's code: reported as theirs, with their traceback
            raise _recipe_error(path, "while loading", exc) from None
        factory = getattr(module, "make_hook", None)
        if not callable(factory):
            raise InputError(f"hook recipe {path} defines no make_hook(direction, scale) function")
        _LOADED[key] = _guarded(path, factory)
    return _LOADED[key]


def __getattr__(name: str):
    if not name.startswith("_") and (HOOKS_DIR / f"{name}.py").is_file():
        return load_recipe(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + available_recipes())
