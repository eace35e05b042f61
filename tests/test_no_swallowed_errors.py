"""No handler in the package may swallow every exception: ``except:``, ``except Exception`` and
``except BaseException`` would turn a user's error (or a bug) into silence or a plausible result. Such a
handler must end by raising (a bare ``raise``, or a user error that carries the original message)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "workbench"
BROAD = {"Exception", "BaseException"}


def _names(node) -> set[str]:
    if node is None:
        return {"<bare>"}
    if isinstance(node, ast.Tuple):
        return set().union(*(_names(e) for e in node.elts))
    if isinstance(node, ast.Name):
        return {node.id}
    if isinstance(node, ast.Attribute):
        return {node.attr}
    return set()


def _always_raises(body: list[ast.stmt]) -> bool:
    """Whether every path through ``body`` ends in a ``raise``."""
    if not body:
        return False
    last = body[-1]
    if isinstance(last, ast.Raise):
        return True
    if isinstance(last, ast.If):
        return _always_raises(last.body) and _always_raises(last.orelse)
    if isinstance(last, (ast.With, ast.Try)):
        return _always_raises(last.body)
    return False


def broad_handlers_that_swallow() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ExceptHandler):
                names = _names(node.type)
                if (names & BROAD or "<bare>" in names) and not _always_raises(node.body):
                    found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: except {', '.join(sorted(names))}")
    return found


def test_no_broad_handler_swallows_an_error():
    assert broad_handlers_that_swallow() == []


def test_the_scan_finds_what_it_should(tmp_path, monkeypatch):
    (tmp_path / "mod.py").write_text("try:\n    x = 1\nexcept Exception:\n    x = 0\n"
                                     "try:\n    y = 1\nexcept:\n    pass\n"
                                     "try:\n    z = 1\nexcept (ValueError, BaseException) as e:\n    if z:\n"
                                     "        raise\n    z = 2\n"
                                     "try:\n    w = 1\nexcept Exception as e:\n    raise RuntimeError(e) from e\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", tmp_path)
    found = broad_handlers_that_swallow()
    assert [f.split(":")[1] for f in found] == ["3", "7", "11"]
