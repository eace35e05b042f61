"""Run-folder damage, fuzzed: any one file of an analysed run folder truncated, emptied, or replaced by
valid JSON of another shape makes every command that reads it exit 2 with the file named, and no
command ever exits 1 (a traceback). A tiny run folder (synthetic activations, 8 emotions, 3 layers) is
built once; the commands run in this process through ``workbench.cli.main``.

Which command reads which file: ``analyze`` reads the collect's files (manifest, activations, texts)
and rewrites the rest, so damage to an analysis file is not its concern (it exits 0 and writes a new,
whole analysis); ``report``, ``compare`` and ``steer``'s pre-checks read every file.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_bad_inputs import FAST, analysed

from workbench.cli import main

COLLECT = ("manifest.json", "activations.safetensors", "texts.jsonl")
ANALYSIS = ("emotion_vectors.safetensors", "layers.csv", "cka_debiased.csv", "cka_biased.csv", "valence_cosine.csv",
            "valence_directions.safetensors", "summary.json")
FILES = COLLECT + ANALYSIS
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                    max_leaves=6)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    root = tmp_path_factory.mktemp("pristine")
    analysed(root / "a")
    analysed(root / "b")
    return root


def damage(path: Path, kind: str, fraction: float, other) -> None:
    data = path.read_bytes()
    if kind == "truncate":
        # cut inside the content: dropping only trailing white space (a JSON file's last newline) damages nothing
        path.write_bytes(data[: min(int(len(data) * fraction), len(data.rstrip()) - 1)])
    elif kind == "empty":
        path.write_bytes(b"")
    else:
        text = json.dumps(other)
        if text.encode() == data.strip():
            text = json.dumps([other])
        path.write_text(text + "\n")


def run(argv, capsys) -> tuple[int, str]:
    capsys.readouterr()
    code = main([str(a) for a in argv])
    return code, " ".join(capsys.readouterr().err.split())


def steer_precheck(run_dir: Path) -> tuple[int, str]:
    """``workbench steer``'s checks before a model is loaded (``prepare_steering``), as an exit code."""
    from workbench.errors import WorkbenchError
    from workbench.steer import SteerSettings, prepare_steering

    try:
        prepare_steering(run_dir, SteerSettings(layer=1, norm="text-mean"))  # a synthetic run: no token norms
    except WorkbenchError as exc:
        return 2, str(exc)
    return 0, ""


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(FILES), kind=st.sampled_from(("truncate", "empty", "json")),
       fraction=st.floats(0.0, 1.0), other=JSON)
def test_any_damaged_file_is_refused_by_name(pristine, tmp_path_factory, capsys, name, kind, fraction, other):
    root = tmp_path_factory.mktemp("damaged")
    for folder in ("a", "b"):
        shutil.copytree(pristine / folder, root / folder)
    a = root / "a"
    damage(a / name, kind, fraction, other)
    outcomes = {
        "report": run(["report", a, "--out", root / "report.html"], capsys),
        "compare": run(["compare", root / "b", a, "--out", root / "c.csv"], capsys),
        "steer": steer_precheck(a),
    }
    for command, (code, message) in outcomes.items():
        assert code == 2 and name in message, f"{command} with {name} {kind}: exit {code}: {message}"
    code, message = run(["analyze", a, *FAST], capsys)
    if name in COLLECT:
        assert code == 2 and name in message, f"analyze with {name} {kind}: exit {code}: {message}"
    else:
        assert code == 0, message  # it rewrites the analysis whole
        assert steer_precheck(a) == (0, "")  # which is whole again


@pytest.mark.parametrize("name", FILES)
def test_every_file_emptied(name, pristine, tmp_path, capsys):
    """The deterministic floor of the fuzz test: each file emptied, each command."""
    for folder in ("a", "b"):
        shutil.copytree(pristine / folder, tmp_path / folder)
    a = tmp_path / "a"
    (a / name).write_bytes(b"")
    for argv in (["report", a], ["compare", tmp_path / "b", a, "--out", tmp_path / "c.csv"]):
        code, message = run(argv, capsys)
        assert code == 2 and name in message, (argv[0], message)
    assert steer_precheck(a)[0] == 2


def test_a_csv_cell_that_is_not_a_number(pristine, tmp_path, capsys):
    """A hand edit of a table without a checksum (an older analysis) is still refused by file and line."""
    shutil.copytree(pristine / "a", tmp_path / "a")
    a = tmp_path / "a"
    manifest = json.loads((a / "manifest.json").read_text())
    manifest["analysis"].pop("sha256")
    (a / "manifest.json").write_text(json.dumps(manifest))
    lines = (a / "cka_biased.csv").read_text().splitlines()
    lines[2] = lines[2].rsplit(",", 1)[0] + ",high"
    (a / "cka_biased.csv").write_text("\n".join(lines) + "\n")
    code, message = run(["report", a], capsys)
    assert code == 2 and "cka_biased.csv, line 3: 'high' is not a number" in message
