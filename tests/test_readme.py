"""The README's Python blocks run as written.

A block is marked by an HTML comment on the line before its fence: ``<!-- readme-test: slow -->``
(it loads the embedded model: run by the slow test, all such blocks in order in one namespace, in a
scratch folder) or ``<!-- readme-test: skip (reason) -->`` (it needs what a test has not: the hub, a
GPU). A block without a marker runs in the fast suite. The quickstart, the first block, goes from
``import workbench as wb`` to a PCA figure in at most 6 lines.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
_BLOCK = re.compile(r"(?:<!-- readme-test: (?P<marker>slow|skip)(?: \((?P<reason>[^)]*)\))? -->\n)?```python\n"
                    r"(?P<code>.*?)```", re.DOTALL)


@dataclass(frozen=True)
class Block:
    line: int
    marker: str | None
    reason: str | None
    code: str


def blocks() -> list[Block]:
    text = README.read_text(encoding="utf-8")
    return [Block(text[:m.start("code")].count("\n") + 1, m["marker"], m["reason"], m["code"])
            for m in _BLOCK.finditer(text)]


def run_block(block: Block, namespace: dict):
    """Execute ``block`` in ``namespace``; the value of its last line when that is an expression (as Jupyter shows it)."""
    tree = ast.parse(block.code, filename=f"README.md:{block.line}")
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    exec(compile(tree, f"README.md:{block.line}", "exec"), namespace)
    if last is not None:
        return eval(compile(ast.Expression(last.value), f"README.md:{block.line}", "eval"), namespace)
    return None


def test_every_python_block_is_accounted_for():
    found = blocks()
    assert len(found) >= 4
    text = README.read_text(encoding="utf-8")
    assert text.count("```python") == len(found)  # no block escaped the pattern (a misspelt marker)
    assert all(b.reason for b in found if b.marker == "skip"), "a skipped block must say why"
    fast = [b for b in found if b.marker is None]
    namespace: dict = {}
    for block in fast:
        run_block(block, namespace)


def test_the_quickstart_is_six_lines_to_a_pca_figure():
    quick = blocks()[0]
    lines = [x for x in quick.code.splitlines() if x.strip()]
    assert lines[0] == "import workbench as wb"
    assert len(lines) <= 6 and "figures[\"pca\"]" in lines[-1]


@pytest.mark.slow
def test_the_readme_runs_as_written(tmp_path, monkeypatch):
    import plotly.graph_objects as go

    monkeypatch.chdir(tmp_path)  # blocks may write runs/...
    namespace: dict = {}
    values = [(b, run_block(b, namespace)) for b in blocks() if b.marker == "slow"]
    quick, figure = values[0]
    assert isinstance(figure, go.Figure) and len(figure.frames) == namespace["model"].n_layers
    assert "PC1~valence r" in namespace["result"].report._repr_html_()
    assert (tmp_path / "runs" / "quick" / "manifest.json").is_file()
