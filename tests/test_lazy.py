"""workbench._lazy: a package's TYPE_CHECKING imports are its lazy table, imported on first use."""

from __future__ import annotations

import sys

import pytest

from workbench._lazy import type_checking_imports

SOURCE = '''
from typing import TYPE_CHECKING

from workbench._lazy import lazy_package

__all__ = ["double", "Thing"]

if TYPE_CHECKING:
    from .double import double
    from lazypkg.things import Thing

lazy_package(__name__)
'''


def test_the_table_is_the_type_checking_imports():
    assert type_checking_imports(SOURCE, "lazypkg") == {"double": "lazypkg.double", "Thing": "lazypkg.things"}
    assert type_checking_imports("import os\nif os:\n    from a import b\n", "p") == {}
    with pytest.raises(ImportError, match="under another name"):
        type_checking_imports("if TYPE_CHECKING:\n    from a import b as c\n", "p")


def test_a_lazy_package_imports_a_name_on_first_use(tmp_path, monkeypatch):
    pkg = tmp_path / "lazypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(SOURCE)
    (pkg / "double.py").write_text("def double(x):\n    return 2 * x\n")
    (pkg / "things.py").write_text("class Thing:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        import lazypkg

        assert "lazypkg.things" not in sys.modules and "lazypkg.double" not in sys.modules
        assert sorted(set(dir(lazypkg)) & {"double", "Thing"}) == ["Thing", "double"]
        assert lazypkg.double(21) == 42  # the function, though lazypkg.double is also its module's name
        assert lazypkg.double is sys.modules["lazypkg.double"].double
        assert lazypkg.Thing.__module__ == "lazypkg.things"
        with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
            lazypkg.nothing  # noqa: B018
    finally:
        for name in [m for m in sys.modules if m == "lazypkg" or m.startswith("lazypkg.")]:
            del sys.modules[name]
