"""Lazy package attributes: a package's public names, imported on first use.

A package lists its public names as the imports of an ``if TYPE_CHECKING:`` block (what type
checkers and readers see) and calls :func:`lazy_package` at the end of its ``__init__``. That block
does not run; the same imports are the package's table ``name -> module``, read from its source
the first time a name is asked for. ``import workbench.steer`` then costs nothing, and
``workbench.steer.steering`` imports ``workbench.steer.steering`` (and with it torch) only when it
is first asked for: the CLI's option declarations read the settings dataclasses without importing
torch, transformers or plotly.

The import system binds a submodule to its package's attribute of the same
name when the submodule is first imported. Where an exported name is also the
name of the module that defines it (``workbench.steer.steering``,
``workbench.analysis.analyze``), the package keeps the exported object there,
as an eager ``from .steering import steering`` would.
"""

from __future__ import annotations

import importlib
import sys
import types

__all__ = ["LazyPackage", "lazy_package", "type_checking_imports"]


def _is_type_checking(test) -> bool:
    import ast

    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def type_checking_imports(source: str, package: str) -> dict[str, str]:
    """``name -> module`` of the ``from MODULE import name`` lines in the top-level ``if TYPE_CHECKING:``
    blocks of ``source``, the code of ``package`` (relative imports are resolved against it)."""
    import ast
    import importlib.util

    table = {}
    for block in ast.parse(source).body:
        if not (isinstance(block, ast.If) and _is_type_checking(block.test)):
            continue
        for node in block.body:
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.module is None:
                raise ImportError(f"{package}: `from {'.' * node.level} import ...` in its TYPE_CHECKING block; "
                                  "a lazy name is imported from the module that defines it (from .sub import name)")
            module = importlib.util.resolve_name("." * node.level + node.module, package)
            for alias in node.names:
                if alias.asname not in (None, alias.name):
                    raise ImportError(f"{package}: a lazy name is imported under another name ({alias.name} as "
                                      f"{alias.asname}); import it under its own")
                table[alias.name] = module
    return table


class LazyPackage(types.ModuleType):
    """A package whose public names are resolved from its table (name -> module) on first access."""

    def _lazy_table(self) -> dict[str, str]:
        table = self.__dict__.get("_LAZY")
        if table is None:
            get_source = getattr(getattr(self.__spec__, "loader", None), "get_source", None)
            source = get_source(self.__name__) if get_source else None
            if source is None:
                raise ImportError(f"{self.__name__}: installed without its Python source (bytecode only), and its "
                                  f"public names are read from the source on first use; install the workbench with "
                                  f"pip (a wheel or `pip install -e .` keeps the sources)")
            table = self.__dict__["_LAZY"] = type_checking_imports(source, self.__name__)
        return table

    def __getattr__(self, name: str):
        if name.startswith("__"):  # dunder look-ups (__path__, __file__...) are never lazy names
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        table = self._lazy_table()
        if name not in table:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(table[name]), name)
        super().__setattr__(name, value)
        return value

    def __setattr__(self, name: str, value) -> None:
        if isinstance(value, types.ModuleType) and value.__name__ == f"{self.__name__}.{name}" \
                and name in self.__dict__.get("__all__", ()) and hasattr(value, name):
            value = getattr(value, name)  # the submodule of an exported name: keep the exported object
        super().__setattr__(name, value)

    def __dir__(self):
        return sorted(set(self.__dict__) | set(self._lazy_table()))


def lazy_package(module_name: str, table: dict[str, str] | None = None, cls: type[LazyPackage] = LazyPackage) -> None:
    """Make the (already executing) package ``module_name`` resolve its names lazily: those of ``table``
    (name -> module) when given, else those its ``if TYPE_CHECKING:`` block imports."""
    module = sys.modules[module_name]
    module.__dict__.pop("_LAZY", None)  # a reloaded package reads its table again
    if table is not None:
        module.__dict__["_LAZY"] = dict(table)
    module.__class__ = cls
