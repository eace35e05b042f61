"""Lazy package attributes: a table ``name -> module`` whose entries are imported on first use.

A package calls :func:`lazy_package` at the end of its ``__init__``; ``import
workbench.steer`` then costs nothing, and ``workbench.steer.steering`` imports
``workbench.steer.steering`` (and with it torch) only when it is first asked for.

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

__all__ = ["LazyPackage", "lazy_package"]


class LazyPackage(types.ModuleType):
    """A package whose public names are resolved from ``_LAZY`` (name -> module) on first access."""

    def __getattr__(self, name: str):
        table = self.__dict__.get("_LAZY", {})
        if name not in table:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(table[name]), name)
        super().__setattr__(name, value)
        return value

    def __setattr__(self, name: str, value) -> None:
        table = self.__dict__.get("_LAZY", {})
        if (isinstance(value, types.ModuleType) and table.get(name) == f"{self.__name__}.{name}"
                and hasattr(value, name)):
            value = getattr(value, name)  # the submodule of the same name: keep the exported object
        super().__setattr__(name, value)

    def __dir__(self):
        return sorted(set(self.__dict__) | set(self.__dict__.get("_LAZY", {})))


def lazy_package(module_name: str, table: dict[str, str], cls: type[LazyPackage] = LazyPackage) -> None:
    """Make the (already executing) package ``module_name`` resolve ``table``'s names lazily."""
    module = sys.modules[module_name]
    module.__dict__["_LAZY"] = dict(table)
    module.__class__ = cls
