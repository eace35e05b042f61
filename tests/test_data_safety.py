"""Never lose a user's data: the six ways the workbench used to lose or mix up data, each reproduced.

1. ``generate --out`` over a file it did not write (a hand-written note, a corpus without a final
   newline) cut its last line; 2. ``collect``/``run --out`` over a user's folder (even over the input
   corpus itself) replaced its files; 3. two ``analyze`` of one run folder at once mixed their
   results, and the analysis recorded the checksum of whatever vectors were on disk at save time;
4. a refused ``analyze`` had already replaced the vectors and dropped the previous analysis;
5. ``report``/``compare`` ``--out``/``--figure`` could name a run's own files; 6. steering results
   of an earlier analysis were shown as current, and ``corpus check X --drop-flagged X`` overwrote X.
Every test checks that the user's files (and the previous analysis) are byte-identical afterwards.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

import pytest
from test_bad_inputs import FAST, GOOD, analysed, run_folder, write_rows
from test_generate import tiny_adapter

from workbench.cli import main


def files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative name -> bytes), the lock file excepted."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(Path(folder).rglob("*"))
            if p.is_file() and p.name != ".workbench.lock"}


@pytest.fixture
def fake_model(monkeypatch):
    import workbench.models

    monkeypatch.setattr(workbench.models, "load_model", lambda name, **kw: tiny_adapter(), raising=False)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    from tiny import model_folder, tiny_llama, tiny_tokenizer

    tok = tiny_tokenizer()
    return model_folder(tmp_path_factory.mktemp("tiny-llama"), tiny_llama(len(tok), n_layers=2), tok)


GEN = ["--emotions", "calm", "--topics", "1", "--stories-per-topic", "1", "--tokens-per-story", "8",
       "--min-words", "0"]


# ---------------------------------------------------------------- 1. generate --out

@pytest.mark.parametrize("content", [
    b"my notes\nthe last line, without a newline",
    (json.dumps(GOOD[0]) + "\n" + json.dumps(GOOD[1])).encode(),  # a valid corpus, no final newline
    (json.dumps(GOOD[0]) + "\n").encode(),  # a corpus that generate did not write
], ids=["notes", "corpus-no-final-newline", "corpus"])
def test_generate_never_edits_a_file_it_did_not_write(content, tmp_path, fake_model, capsys):
    out = tmp_path / "notes.txt"
    out.write_bytes(content)
    assert main(["generate", "--model", "tiny", "--out", str(out), *GEN]) == 2
    err = capsys.readouterr().err
    assert "not a story row written by `workbench generate`" in err and str(out) in err
    assert out.read_bytes() == content


def test_generate_repairs_only_a_torn_last_row_of_its_own(tmp_path, fake_model, capsys):
    out = tmp_path / "s.jsonl"
    argv = ["generate", "--model", "tiny", "--out", str(out), *GEN, "--emotions", "calm,sad"]
    assert main(argv) == 0
    whole = out.read_bytes()
    first, second = whole.split(b"\n")[:2]
    out.write_bytes(first + b"\n" + second[: len(second) // 2])  # killed while writing row 2
    assert main(argv) == 0
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert out.read_bytes().startswith(first + b"\n") and [r["emotion"] for r in rows] == ["calm", "sad"]
    out.write_bytes(first + b"\n" + second)  # a whole row of its own, only its newline missing: kept
    assert main(argv) == 0 and "0 rows written, 2 already there" in capsys.readouterr().out
    assert out.read_bytes() == first + b"\n" + second + b"\n"


def test_generate_out_that_is_not_a_regular_file(tmp_path, fake_model, capsys):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert main(["generate", "--model", "tiny", "--out", str(fifo), *GEN]) == 2  # refused, not waited on
    assert "is a named pipe (FIFO), not a regular file" in capsys.readouterr().err
    assert main(["generate", "--model", "tiny", "--out", str(tmp_path), *GEN]) == 2
    assert "is a folder" in capsys.readouterr().err


# ---------------------------------------------------------------- 2. collect / run --out

def collect_argv(model_dir, corpus, out, *extra):
    return ["collect", "--model", str(model_dir), "--corpus", str(corpus), "--out", str(out), "--token-offset", "3",
            "--dtype", "float32", "--neutral", "none", *extra]


def test_collect_refuses_a_folder_it_did_not_make(tmp_path, model_dir, capsys):
    user = tmp_path / "mine"
    write_rows(user / "texts.jsonl", GOOD)  # the corpus, inside the folder given as --out
    (user / "manifest.json").write_text('{"my": "own manifest"}\n')
    (user / "notes.txt").write_text("do not lose me")
    before = files(user)
    write_rows(tmp_path / "c.jsonl", GOOD)
    assert main(collect_argv(model_dir, tmp_path / "c.jsonl", user)) == 2
    err = capsys.readouterr().err
    assert "is a folder the workbench did not make" in err and "would replace manifest.json, texts.jsonl" in err
    assert files(user) == before
    for extra in ((), ("--force",)):  # an input among the outputs: refused, even with --force
        assert main(collect_argv(model_dir, user / "texts.jsonl", user, *extra)) == 2
        assert "texts.jsonl, an input of this command" in capsys.readouterr().err
        assert files(user) == before
    assert main(collect_argv(model_dir, tmp_path / "c.jsonl", user, "--force")) == 0  # forced: written
    assert (user / "notes.txt").read_text() == "do not lose me"


def test_collect_into_its_own_run_folder_again_is_allowed(tmp_path, model_dir):
    write_rows(tmp_path / "c.jsonl", GOOD)
    out = tmp_path / "run"
    out.mkdir()  # an empty folder is fine
    assert main(collect_argv(model_dir, tmp_path / "c.jsonl", out)) == 0
    assert (out / ".workbench-run").is_file()
    assert main(collect_argv(model_dir, tmp_path / "c.jsonl", out)) == 0  # its own kind: reused


def test_run_refuses_a_folder_it_did_not_make(tmp_path, model_dir, capsys):
    user = tmp_path / "mine"
    user.mkdir()
    (user / "report.html").write_text("<p>my report</p>")
    (user / "summary.json").write_text("{}")
    write_rows(tmp_path / "c.jsonl", GOOD)
    before = files(user)
    argv = ["run", "--model", str(model_dir), "--corpus", str(tmp_path / "c.jsonl"), "--out", str(user),
            "--token-offset", "3", "--dtype", "float32", "--neutral", "none", *FAST]
    assert main(argv) == 2
    assert "would replace report.html, summary.json" in capsys.readouterr().err
    assert files(user) == before


# ---------------------------------------------------------------- 3. one writer; the checksums of what was used

def test_a_second_writer_is_refused_naming_the_holder(tmp_path, capsys):
    run = analysed(tmp_path / "run")
    before = files(run)
    with open(run / ".workbench.lock", "a+") as held:  # another process's lock, as flock sees it
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        held.write(json.dumps({"pid": 4242, "command": "workbench analyze run --seed 1", "since": "now"}))
        held.flush()
        assert main(["analyze", str(run), *FAST, "--seed", "2"]) == 2
    err = capsys.readouterr().err
    assert "is being written by another workbench command (pid 4242, `workbench analyze run --seed 1`" in err
    assert files(run) == before


def test_the_analysis_records_the_vectors_it_analysed(tmp_path, monkeypatch):
    """A writer that replaces the vectors between their save and the analysis' save: the analysis must
    record the checksum of the vectors it made, so the folder is refused, never read as one analysis."""
    from workbench.analysis import EmotionVectors, GeometryReport
    from workbench.errors import RunFolderError

    run = run_folder(tmp_path / "run")
    real = GeometryReport.save

    def save(self, run_dir):
        other = EmotionVectors.load(run_dir)
        EmotionVectors.from_raw(other.emotions, other.layers, other.raw * 2).save(run_dir)  # the other writer
        return real(self, run_dir)

    monkeypatch.setattr(GeometryReport, "save", save)
    assert main(["analyze", str(run), *FAST]) == 0
    with pytest.raises(RunFolderError, match="is not the file this analysis was made from"):
        GeometryReport.load(run)


# ---------------------------------------------------------------- 4. a refused analyze keeps what was there

def test_a_refused_analyze_leaves_the_previous_analysis_intact(tmp_path, capsys):
    from test_bad_inputs import ratings_file

    run = analysed(tmp_path / "run")
    before = files(run)
    ratings = ratings_file(tmp_path / "ratings.csv", drop=("afraid",))
    assert main(["analyze", str(run), *FAST, "--ratings", str(ratings), "--seed", "5"]) == 2
    assert "have no rating: ['afraid']" in capsys.readouterr().err
    assert files(run) == before
    assert main(["analyze", str(run), *FAST[:-1], "--bootstrap", str(10**9)]) == 2
    assert "too large for the memory available" in capsys.readouterr().err
    assert files(run) == before
    assert main(["report", str(run)]) == 0  # the previous analysis is still there


# ---------------------------------------------------------------- 5. report / compare outputs

@pytest.mark.parametrize("target", ["manifest.json", "layers.csv", "summary.json", "emotion_vectors.safetensors"])
def test_report_and_compare_never_write_over_a_run(target, tmp_path, capsys):
    a, b = analysed(tmp_path / "a"), analysed(tmp_path / "b")
    before_a, before_b = files(a), files(b)
    assert main(["report", str(a), "--out", str(a / target)]) == 2
    assert "writing it would damage that run" in capsys.readouterr().err
    assert main(["report", str(a), "--out", str(b / "report.html")]) == 2  # another run's report
    assert main(["compare", str(a), str(b), "--out", str(b / target)]) == 2
    assert main(["compare", str(a), str(b), "--out", str(tmp_path / "c.csv"), "--figure", str(a / target)]) == 2
    capsys.readouterr()
    assert files(a) == before_a and files(b) == before_b
    assert not (tmp_path / "c.csv").exists()  # refused before anything was written
    assert main(["report", str(a), "--out", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err


# ---------------------------------------------------------------- 6. stale steering; corpus check onto its source

def test_steering_of_an_earlier_analysis_is_not_shown_as_current(tmp_path):
    from test_steer_support import make_model_dir, make_run, prompts_file
    from tiny import tiny_tokenizer

    from workbench.report import load_run

    model = make_model_dir(tmp_path / "model", tiny_tokenizer())
    run = make_run(tmp_path / "run", model)
    assert main(["steer", str(run), "--layer", "1", "--prompts", str(prompts_file(tmp_path / "p.txt")),
                 "--alphas=-1,0,1", "--samples", "1", "--max-new-tokens", "3", "--dtype", "float32",
                 "--no-progress", "--bootstrap", "100", "--random-controls", "1"]) == 0
    assert load_run(run).steering is not None
    steering = {n: (run / n).read_bytes() for n in ("steering.csv", "steering_summary.json")}
    assert main(["analyze", str(run), *FAST, "--seed", "7"]) == 0
    data = load_run(run)
    assert data.steering is None and "earlier" in data.stale["steering"]
    assert main(["report", str(run)]) == 0
    html = (run / "report.html").read_text()
    assert "made from an earlier" in html
    assert {n: (run / n).read_bytes() for n in steering} == steering  # marked stale, not deleted


def test_corpus_check_never_writes_over_its_source(tmp_path, capsys):
    source = write_rows(tmp_path / "c.jsonl", GOOD + [GOOD[0]])  # a duplicate to drop
    before = source.read_bytes()
    assert main(["corpus", "check", str(source), "--drop-flagged", str(source)]) == 2
    assert "an input of this command" in capsys.readouterr().err
    assert source.read_bytes() == before
    folder = tmp_path / "stories"
    write_rows(folder / "a.jsonl", GOOD)
    assert main(["corpus", "check", str(folder), "--drop-flagged", str(folder / "kept.jsonl")]) == 2
    assert not (folder / "kept.jsonl").exists()


# ---------------------------------------------------------------- recipes are code

def test_an_error_in_a_recipe_is_reported_as_the_recipes_with_its_traceback_once(tmp_path, capsys, monkeypatch):
    from workbench.steer import load_recipe

    recipe = tmp_path / "mine.py"
    recipe.write_text("import math\n\n\ndef make_hook(direction, scale):\n    return math.sqrt(-scale)\n")
    monkeypatch.chdir(tmp_path)
    from workbench.errors import InputError, RecipeError

    with pytest.raises(InputError, match=r"a recipe file is given by its path \(\./mine\.py\)"):
        load_recipe("mine.py")  # a name never picks up a file of the current folder
    with pytest.raises(InputError, match="unknown hook recipe 'mine'"):
        load_recipe("mine")
    with pytest.raises(RecipeError) as info:
        load_recipe("./mine.py")(None, 1.0)
    message = str(info.value)
    assert f"the hook recipe {recipe} raised an error in make_hook (this is the recipe's code" in message
    assert message.count("return math.sqrt(-scale)") == 1 and f'File "{recipe}", line 5' in message
    assert "ValueError: math domain error" in message and "workbench/steer" not in message


def test_help_says_a_recipe_is_code(capsys):
    with pytest.raises(SystemExit):
        main(["steer", "--help"])
    assert "A recipe is Python code: it runs with your rights" in " ".join(capsys.readouterr().out.split())
    readme = (Path(__file__).resolve().parents[1] / "hooks" / "README.md").read_text()
    assert "**A recipe is code.**" in readme
