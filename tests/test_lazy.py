"""workbench._lazy: a package's TYPE_CHECKING imports are its lazy table, imported on first use."""

from __future__ import annotations

import sys
from pathlib import Path

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


def test_the_table_refuses_a_bare_relative_import():
    with pytest.raises(ImportError, match="from the module that defines it"):
        type_checking_imports("if TYPE_CHECKING:\n    from . import sub\n", "p")


def _make(tmp_path, source=SOURCE):
    pkg = tmp_path / "lazypkg"
    pkg.mkdir(exist_ok=True)
    (pkg / "__init__.py").write_text(source)
    (pkg / "double.py").write_text("def double(x):\n    return 2 * x\n")
    (pkg / "things.py").write_text("class Thing:\n    pass\n\n\ndef g():\n    return 'g'\n")
    return pkg


def test_a_reloaded_package_reads_its_table_again(tmp_path, monkeypatch):
    import importlib

    pkg = _make(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        import lazypkg

        assert lazypkg.Thing.__name__ == "Thing"
        (pkg / "__init__.py").write_text(SOURCE.replace('"Thing"]', '"Thing", "g"]').replace(
            "import Thing", "import Thing, g"))
        importlib.reload(lazypkg)
        assert lazypkg.g() == "g"
    finally:
        for name in [m for m in sys.modules if m == "lazypkg" or m.startswith("lazypkg.")]:
            del sys.modules[name]


def test_without_sources_submodules_import_and_lazy_names_say_why_not(tmp_path):
    """A bytecode-only install (``compileall -b``, sources deleted): submodules import as usual; a lazy
    name is refused with the reason, never resolved to something else."""
    import compileall
    import subprocess

    pkg = _make(tmp_path)
    assert compileall.compile_dir(str(pkg), legacy=True, quiet=1)
    for path in pkg.glob("*.py"):
        path.unlink()
    code = ("import sys; sys.path.insert(0, sys.argv[1]); sys.path.insert(0, sys.argv[2])\n"
            "import lazypkg.double, lazypkg.things\n"
            "assert lazypkg.double(2) == 4 and lazypkg.things.Thing.__name__ == 'Thing'\n"
            "try:\n    lazypkg.Thing\nexcept ImportError as exc:\n    print(exc)\n")
    root = str(Path(__file__).resolve().parents[1])
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path), root], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert "lazypkg: installed without its Python source (bytecode only)" in out.stdout
