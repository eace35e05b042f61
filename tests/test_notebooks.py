"""The notebooks: committed without outputs, and executed top to bottom on a small subset.

Execution is marked ``notebooks`` (the embedded model, about a minute each); CI runs it with
``make test-notebooks``. ``WORKBENCH_NOTEBOOK_SMALL=1`` shrinks each notebook's work.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))


def test_there_are_notebooks():
    assert [p.name for p in PATHS] == ["01_quickstart.ipynb", "02_layer_explorer.ipynb", "03_steering.ipynb",
                                       "04_monitor.ipynb"]


@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_committed_without_outputs(path):
    import nbformat

    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, f"{path.name} has no code cell"
    dirty = [i for i, c in enumerate(code) if c.get("outputs") or c.get("execution_count") is not None]
    assert not dirty, f"{path.name}: code cells {dirty} have outputs or execution counts; strip them"


@pytest.mark.notebooks
@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_notebook_runs(path, tmp_path, monkeypatch):
    import nbclient
    import nbformat

    monkeypatch.setenv("WORKBENCH_NOTEBOOK_SMALL", "1")
    monkeypatch.setenv("WORKBENCH_NOTEBOOK_RUNS", str(tmp_path / "runs"))
    for name in ("WORKBENCH_RUN_A", "WORKBENCH_RUN_B"):
        monkeypatch.delenv(name, raising=False)
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=900, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute()  # raises CellExecutionError with the failing cell and its traceback
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
    # Every notebook ends in figures: the last code cells that display something show plotly JSON.
    shown = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
             if "application/vnd.plotly.v1+json" in o.get("data", {})]
    assert shown, f"{path.name} displayed no plotly figure"
    assert os.environ["WORKBENCH_NOTEBOOK_SMALL"] == "1"
