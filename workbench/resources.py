"""The project's bundled files: ratings, stories, neutral texts, topics, steering prompts and hook recipes.

The top-level ``data/`` and ``hooks/`` folders of the source tree are their
source. A wheel carries them inside the package as ``workbench/_data`` and
``workbench/_hooks`` (``setup.py`` maps them at build time); a source checkout
or an editable install reads the folders themselves. Both are found from the
installed package with :mod:`importlib.resources`, never from the working
directory.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["data_path", "hooks_dir", "source_file"]

# folder inside an installed wheel -> folder of the source tree (next to the package)
_SOURCE = {"_data": "data", "_hooks": "hooks"}


def _root(packaged: str) -> Path:
    package = Path(str(resources.files("workbench")))
    inside = package / packaged
    if inside.is_dir():  # a wheel install
        return inside
    source = package.parent / _SOURCE[packaged]
    # A source checkout or an editable install; when neither folder is there (a broken install), the wheel's
    # location is returned and the loader's "does not exist" error names it.
    return source if source.is_dir() else inside


def data_path(name: str = "") -> Path:
    """A bundled data file or folder (``data_path("emotions.csv")``, ``data_path("stories")``)."""
    return _root("_data") / name if name else _root("_data")


def hooks_dir() -> Path:
    """The folder of the built-in hook recipes (``add_direction.py``, ...)."""
    return _root("_hooks")


def source_file(relative: str) -> Path | None:
    """A file of the source tree beside the package (``source_file("docs/statistics.md")``), or ``None``
    where there is none (a wheel install carries no docs)."""
    path = Path(str(resources.files("workbench"))).parent / relative
    return path if path.is_file() else None
