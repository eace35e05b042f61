"""No import cycle between the modules of ``workbench/``: the imports are read with ``ast``, not run.

Module-level imports (outside ``if TYPE_CHECKING:``) must form no cycle: a cycle there makes the
import order decide what works. Imports inside functions run late, so a cycle they close works, but
it still means two modules each need the other: none is left, and a new one fails here too.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "workbench"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> set[str]:
    """The workbench modules an import statement runs (not the parent packages it implies)."""
    if isinstance(node, ast.Import):
        return {a.name for a in node.names if a.name in MODULES}
    base = node.module or ""
    if node.level:
        package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{base}" if base else package
    found = set()
    for alias in node.names:
        sub = f"{base}.{alias.name}"
        if sub in MODULES:
            found.add(sub)
        elif base in MODULES:
            found.add(base)
    return found


def import_edges() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(module-level, function-level) imports: module -> the workbench modules it imports."""
    top: dict[str, set[str]] = {m: set() for m in MODULES}
    late: dict[str, set[str]] = {m: set() for m in MODULES}

    def visit(module: str, body: list[ast.stmt], into: dict[str, set[str]]) -> None:
        for node in body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                into[module] |= _targets(module, node) - {module}
            elif isinstance(node, ast.If) and _is_type_checking(node):
                visit(module, node.orelse, into)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                for inner in ast.walk(node):
                    if isinstance(inner, (ast.Import, ast.ImportFrom)):
                        late[module] |= _targets(module, inner) - {module}
            else:
                children = [c for c in ast.iter_child_nodes(node) if isinstance(c, ast.stmt)]
                visit(module, children, into)

    for module, path in MODULES.items():
        visit(module, ast.parse(path.read_text(encoding="utf-8")).body, top)
    return top, late


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return sorted(found)


def test_the_cycle_finder_finds_a_planted_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e2"}, "e2": {"e"}}
    assert cycles(graph) == [["a", "b", "c"], ["e", "e2"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_edges_are_read_from_real_imports():
    top, late = import_edges()
    assert "workbench.errors" in top["workbench.models.hf"]  # from workbench.errors import ...
    assert "workbench.models.embedded" in late["workbench.models.hf"]  # imported inside load_hf
    assert "workbench.models.adapter" not in top["workbench.models"]  # only under TYPE_CHECKING


def test_module_level_imports_form_no_cycle():
    top, _ = import_edges()
    assert cycles(top) == []


def test_no_cycle_with_the_imports_inside_functions_either():
    top, late = import_edges()
    assert cycles({m: top[m] | late[m] for m in top}) == []


def test_the_library_never_imports_the_cli():
    top, late = import_edges()
    cli = {m for m in MODULES if m == "workbench.cli" or m.startswith("workbench.cli.")}
    outside = {m: sorted((top[m] | late[m]) & cli) for m in MODULES
               if m not in cli and m != "workbench.__main__"}  # the entry point runs the CLI
    assert {m: found for m, found in outside.items() if found} == {}


def _lazy_packages() -> dict[str, tuple[ast.Module, str]]:
    out = {}
    for module, path in MODULES.items():
        source = path.read_text(encoding="utf-8")
        if "lazy_package(" in source and module != "workbench._lazy":
            out[module] = (ast.parse(source), source)
    return out


def test_a_lazy_packages_table_is_what_type_checkers_see():
    """A lazy package's table (name -> module) is its ``if TYPE_CHECKING:`` imports, so mypy checks the
    names the package resolves at run time; its names are those of its ``__all__``, and each resolves to
    the object of its module."""
    import importlib

    from workbench._lazy import type_checking_imports

    packages = _lazy_packages()
    assert {"workbench.analysis", "workbench.figures", "workbench.report", "workbench.steer", "workbench.prefer",
            "workbench.collect"} <= set(packages)
    for module, (tree, source) in packages.items():
        table = type_checking_imports(source, module)
        public = next(ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign)
                      and getattr(n.targets[0], "id", None) == "__all__")
        assert set(public) == set(table), (module, sorted(set(public) ^ set(table)))
        package = importlib.import_module(module)
        for name, source_module in table.items():
            assert getattr(package, name) is getattr(importlib.import_module(source_module), name), (module, name)
