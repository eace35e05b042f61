"""Faults: kill -9 at named points of collect, analyze and generate, then rerun; failed saves; no network.

A killed run is a fresh process (forked from a server that has the libraries imported, so each run
takes about a second) that sends itself SIGKILL at a named, deterministic point: before or after the
n-th rename onto a given file name, at the n-th call of a function, or in the middle of the n-th
row written by ``generate``. After the kill, the folder must not read as complete; a rerun of the
same command must then leave files identical to an uninterrupted run's (timings and timestamps,
listed in ``VOLATILE``, excepted). Failed saves are simulated in this process with a rename or a
write that raises: the previous artefacts must still load, unchanged, or the folder must be
refused, never read as complete.
"""

from __future__ import annotations

import builtins
import importlib
import json
import multiprocessing
import os
import re
import shutil
import signal
import socket
import sys
from pathlib import Path

import pytest
import torch
from tiny import tiny_llama, tiny_tokenizer

from workbench.errors import InputError, RunFolderError

TESTS = Path(__file__).resolve().parent
WORDS = ("the old man and the child opened the door of the house at night with a cold hand it was dark "
         "she had warm water in her room for a long time").split()
EMOTIONS = ("calm", "sad", "angry", "afraid", "joyful", "bored", "proud", "tense")
ANALYZE_ARGS = ["--bootstrap", "20", "--permutations", "20", "--cka-shuffles", "10", "--no-progress"]
GENERATE_ARGS = ["--emotions", "calm,sad,bored", "--topics", "2", "--stories-per-topic", "2",
                 "--tokens-per-story", "10", "--batch-size", "2", "--min-words", "12", "--max-tries", "2",
                 "--seed", "3", "--dtype", "float32"]
# (file, key path) of values that measure the run rather than its result; everything else must be equal.
VOLATILE = {
    "manifest.json": (("collect", "info", "seconds"), ("collect", "info", "tokens"),
                      ("collect", "info", "tokens_per_s"), ("collect", "info", "resumed_at_batch"),
                      ("analysis", "timings"),
                      ("analysis", "sha256", "summary.json")),  # the checksum of a file holding timings
    "summary.json": (("timings",),),
}
TIMESTAMP = re.compile(rb'"timestamp": "[^"]*"')


# ---------------------------------------------------------------- inputs: a tiny model, a corpus, a run folder

def random_text(gen: torch.Generator, n_words: int) -> str:
    return " ".join(WORDS[int(j)] for j in torch.randint(0, len(WORDS), (n_words,), generator=gen))


def write_inputs(root: Path) -> dict[str, Path]:
    """A tiny Llama folder (weights scaled so that its text depends on the prompt), a corpus of 8 emotions
    x 3 stories of 8-40 words and 6 neutral texts. The same bytes on every call."""
    root.mkdir(parents=True, exist_ok=True)
    tok = tiny_tokenizer()
    model = tiny_llama(len(tok), seed=0, n_layers=2)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" not in name:
                p.mul_(10.0)
    model.save_pretrained(root / "model")
    tok.save_pretrained(root / "model")
    gen = torch.Generator().manual_seed(0)
    rows = [{"emotion": e, "topic": f"topic {k}", "stories": [random_text(gen, 8 + int(torch.randint(0, 33, (1,),
                                                                                                   generator=gen)))
                                                             for _ in range(3)]}
            for k, e in enumerate(EMOTIONS)]
    (root / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (root / "neutral.jsonl").write_text("".join(json.dumps({"id": i, "text": random_text(gen, 20 + i)}) + "\n"
                                                for i in range(6)))
    return {"model": root / "model", "corpus": root / "corpus.jsonl", "neutral": root / "neutral.jsonl"}


def collect_argv(inputs: dict, out: Path, *extra: str) -> list[str]:
    return ["collect", "--model", str(inputs["model"]), "--corpus", str(inputs["corpus"]), "--neutral",
            str(inputs["neutral"]), "--out", str(out), "--token-offset", "3", "--dtype", "float32",
            "--max-tokens-per-batch", "120", "--checkpoint-every", "1", *extra]


def synthetic_run(path: Path, n_emotions: int = 12, seed: int = 0) -> Path:
    """A collect run folder with a planted valence structure (no model needed)."""
    from test_analysis_support import combined, make_acts

    from workbench.data.ratings import load_ratings

    ratings = load_ratings()
    sub = ratings.subset(ratings.emotions[:n_emotions])
    stories, neutral = make_acts(sub, n_layers=3, d_model=16, stories=3, valence_signal=3.0, n_neutral=8,
                                 seed=seed)
    combined(stories, neutral).save(path)
    return path


# ---------------------------------------------------------------- comparing folders

def _drop(obj, path):
    *head, last = path
    for key in head:
        obj = obj.get(key) if isinstance(obj, dict) else None
    if isinstance(obj, dict):
        obj.pop(last, None)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file of ``folder`` (relative name -> bytes), with the ``VOLATILE`` values removed and
    generate's timestamps blanked. Temporary files (``.NAME.XXXX.tmp``) are left out."""
    out = {}
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        name = str(path.relative_to(folder))
        if path.name.startswith(".") and path.name.endswith(".tmp"):
            continue
        data = path.read_bytes()
        if path.name in VOLATILE:
            obj = json.loads(data)
            for key in VOLATILE[path.name]:
                _drop(obj, key)
            data = json.dumps(obj, sort_keys=True).encode()
        out[name] = TIMESTAMP.sub(b'"timestamp": ""', data)
    return out


def assert_same_files(a: Path, b: Path) -> None:
    sa, sb = snapshot(a), snapshot(b)
    assert sorted(sa) == sorted(sb)
    different = [name for name in sa if sa[name] != sb[name]]
    assert not different, f"files differ from the uninterrupted run: {different}"


# ---------------------------------------------------------------- fresh processes that kill themselves

PRELOAD = ["torch", "scipy.stats", "transformers", "transformers.core_model_loading", "transformers.activations",
           "transformers.models.llama.modeling_llama", "nnsight.modeling.transformers", "safetensors.torch",
           "workbench.cli", "workbench.cli.collect_cmd", "workbench.cli.analyze_cmd", "workbench.cli.generate_cmd",
           "workbench.cli.corpus_cmd", "workbench.analysis", "workbench.collect", "workbench.models",
           "workbench.models.backend_nnsight", "workbench.models.backend_tl", "workbench.data.generate",
           "test_analysis_support", "tiny"]


def _die():
    os.kill(os.getpid(), signal.SIGKILL)


def _arm(kill) -> None:
    """Install the self-kill named by ``kill`` (see the module docstring)."""
    kind = kill[0]
    if kind == "replace":  # ("replace", file name, n, "before" | "after")
        _, name, n, when = kill
        real, seen = os.replace, [0]

        def replace(src, dst, *args, **kwargs):
            if Path(dst).name != name:
                return real(src, dst, *args, **kwargs)
            seen[0] += 1
            if seen[0] == n and when == "before":
                _die()
            real(src, dst, *args, **kwargs)
            if seen[0] == n and when == "after":
                _die()

        os.replace = replace
    elif kind == "call":  # ("call", "module:Attr.path", n): killed as the n-th call starts
        _, target, n = kill
        module, _, attr = target.partition(":")
        owner = importlib.import_module(module)
        *parents, last = attr.split(".")
        for part in parents:
            owner = getattr(owner, part)
        real, seen = getattr(owner, last), [0]

        def call(*args, **kwargs):
            seen[0] += 1
            if seen[0] == n:
                _die()
            return real(*args, **kwargs)

        setattr(owner, last, call)
    elif kind == "row":  # ("row", n, fraction): generate writes that part of its n-th row, then dies
        _, n, fraction = kill
        generate, seen = importlib.import_module("workbench.data.generate"), [0]

        class Torn:
            def __init__(self, fh):
                self.fh = fh

            def __getattr__(self, name):
                return getattr(self.fh, name)

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return self.fh.__exit__(*exc)

            def write(self, data):
                seen[0] += 1
                if seen[0] == n:
                    self.fh.write(data[: int(len(data) * fraction)])
                    self.fh.flush()
                    os.fsync(self.fh.fileno())
                    _die()
                return self.fh.write(data)

        generate.open = lambda *args, **kwargs: Torn(builtins.open(*args, **kwargs))
    else:
        raise ValueError(kill)


def _child(argv, kill, log) -> None:
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    from conftest import install_socket_guard

    install_socket_guard()
    torch.set_num_threads(1)
    if kill is not None:
        _arm(kill)
    from workbench.cli import main

    code = main(list(argv))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


class Runner:
    """``runner(argv, kill=None)`` runs ``workbench ARGV`` in a fresh process: (exit code, its output)."""

    def __init__(self, ctx, logs: Path):
        self.ctx, self.logs, self.n = ctx, logs, 0

    def __call__(self, argv, kill=None, timeout: float = 300) -> tuple[int, str]:
        self.n += 1
        log = self.logs / f"run{self.n}.log"
        proc = self.ctx.Process(target=_child, args=(list(map(str, argv)), kill, str(log)))
        proc.start()
        proc.join(timeout)
        if proc.is_alive():
            proc.kill()
            proc.join()
            pytest.fail(f"workbench {argv[0]} did not finish in {timeout} s: {log.read_text()[-2000:]}")
        return proc.exitcode, log.read_text(errors="replace")


@pytest.fixture(scope="session")
def runner(tmp_path_factory):
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return Runner(ctx, tmp_path_factory.mktemp("logs"))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return write_inputs(tmp_path_factory.mktemp("inputs"))


def run_ok(runner, argv) -> str:
    code, log = runner(argv)
    assert code == 0, log[-3000:]
    return log


def run_killed(runner, argv, kill) -> None:
    code, log = runner(argv, kill)
    assert code == -signal.SIGKILL, f"expected death by SIGKILL at {kill}, got exit code {code}: {log[-3000:]}"


# ---------------------------------------------------------------- collect

COLLECT_KILLS = {
    "mid-forward (4th batch)": ("call", "workbench.models.backend_nnsight:NNsightAdapter.run_blocks", 4),
    "checkpoint: rows synced, state not": ("replace", "state.json", 3, "before"),
    "rows: a batch half written into .partial": ("call", "os:pwrite", 25),  # 2 writes a text, about 5 texts a batch
    "save: tensors renamed, texts and manifest not": ("replace", "activations.safetensors", 1, "after"),
    "save: all but the manifest renamed": ("replace", "manifest.json", 1, "before"),
}


@pytest.fixture(scope="module")
def collect_reference(runner, inputs, tmp_path_factory):
    out = tmp_path_factory.mktemp("collect") / "reference"
    run_ok(runner, collect_argv(inputs, out))
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["collect"]["info"]["n_batches"] >= 6  # enough batches for the kill points
    return out


@pytest.mark.slow
@pytest.mark.parametrize("point", sorted(COLLECT_KILLS))
def test_collect_killed_then_rerun_is_identical(point, runner, inputs, collect_reference, tmp_path):
    from workbench.collect import StoryActivations

    out = tmp_path / "run"
    argv = collect_argv(inputs, out)
    run_killed(runner, argv, COLLECT_KILLS[point])
    with pytest.raises(RunFolderError, match="did not finish"):
        StoryActivations.load(out)
    from workbench.cli import main

    assert main(["analyze", str(out), *ANALYZE_ARGS]) == 2  # the partial folder is refused
    run_ok(runner, argv)
    info = json.loads((out / "manifest.json").read_text())["collect"]["info"]
    assert info["resumed_at_batch"] >= 1  # the checkpoint was used, not thrown away
    assert_same_files(collect_reference, out)


# ---------------------------------------------------------------- analyze

ANALYZE_KILLS = {
    "vectors renamed, manifest not": ("replace", "emotion_vectors.safetensors", 1, "after"),
    "in the bootstrap": ("call", "workbench.analysis.analyze:bootstrap_pc_r", 1),
    "report: two tables renamed": ("replace", "cka_biased.csv", 1, "after"),
    "report: all but the manifest": ("replace", "manifest.json", 2, "before"),
}


@pytest.fixture(scope="module")
def analyze_reference(runner, tmp_path_factory):
    root = tmp_path_factory.mktemp("analyze")
    source = synthetic_run(root / "collected")
    reference = root / "reference"
    shutil.copytree(source, reference)
    run_ok(runner, ["analyze", reference, *ANALYZE_ARGS])
    return source, reference


@pytest.mark.slow
@pytest.mark.parametrize("point", sorted(ANALYZE_KILLS))
def test_analyze_killed_then_rerun_is_identical(point, runner, analyze_reference, tmp_path):
    from workbench.analysis import GeometryReport

    source, reference = analyze_reference
    run = tmp_path / "run"
    shutil.copytree(source, run)
    run_killed(runner, ["analyze", run, *ANALYZE_ARGS], ANALYZE_KILLS[point])
    with pytest.raises(RunFolderError, match="no 'analysis' section"):
        GeometryReport.load(run)
    run_ok(runner, ["analyze", run, *ANALYZE_ARGS])
    assert_same_files(reference, run)


# ---------------------------------------------------------------- generate

GENERATE_KILLS = {
    "first batch half written (row 2 not started)": ("row", 2, 0.0),
    "torn third row": ("row", 3, 0.5),
    "in the third call of the model": ("call", "workbench.data.generate:_Generator.__call__", 3),
    "fifth row written whole, not its newline": ("row", 5, 0.999),
}


@pytest.fixture(scope="module")
def generate_reference(runner, inputs, tmp_path_factory):
    out = tmp_path_factory.mktemp("generate") / "reference.jsonl"
    run_ok(runner, ["generate", "--model", inputs["model"], "--out", out, *GENERATE_ARGS])
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 6 and any(r["stories"] for r in rows)
    assert sum(sum(r["attempts"]) for r in rows) > 12  # some stories were asked for again
    return out


@pytest.mark.slow
@pytest.mark.parametrize("point", sorted(GENERATE_KILLS))
def test_generate_killed_then_rerun_is_identical(point, runner, inputs, generate_reference, tmp_path):
    from workbench.data.corpus import load_corpus

    out = tmp_path / "stories.jsonl"
    argv = ["generate", "--model", inputs["model"], "--out", out, *GENERATE_ARGS]
    run_killed(runner, argv, GENERATE_KILLS[point])
    left = out.read_bytes() if out.exists() else b""
    assert left.count(b"\n") < 6
    if left and not left.endswith(b"\n"):  # a torn row: the file is refused, not read short
        torn_line = left.count(b"\n") + 1
        with pytest.raises(InputError, match=rf"line {torn_line}: malformed JSON"):
            load_corpus(out)
    run_ok(runner, argv)
    assert snapshot(generate_reference.parent)[generate_reference.name] == snapshot(tmp_path)[out.name]


# ---------------------------------------------------------------- interrupted re-runs over finished folders

def _fail_rename_of(monkeypatch, name: str):
    """Make the rename onto ``name`` raise, as a crash between two renames would leave the folder."""
    real = os.replace

    def replace(src, dst, *args, **kwargs):
        if Path(dst).name == name:
            raise OSError(28, "No space left on device (simulated)")
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)


def _fail_writes_in(monkeypatch, folder: Path):
    """Make every temporary file in ``folder`` fail to be created (a read-only or full target)."""
    import tempfile

    real = tempfile.mkstemp

    def mkstemp(*args, dir=None, **kwargs):
        if dir is not None and Path(dir).resolve() == Path(folder).resolve():
            raise PermissionError(13, "Permission denied (simulated read-only folder)", str(folder))
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)


@pytest.fixture(scope="module")
def tiny_adapter():
    from workbench.models import adapter_from_hf

    tok = tiny_tokenizer()
    return adapter_from_hf(tiny_llama(len(tok), n_layers=2), tok, name="tiny", backend="nnsight")


def _collect(adapter, out, offset):
    from workbench.collect import collect

    gen = torch.Generator().manual_seed(1)
    texts = [random_text(gen, 10 + i) for i in range(8)]
    return collect(adapter, texts, token_offset=offset, max_tokens_per_batch=64, out=out, progress=False)


def test_recollect_interrupted_between_renames_is_refused_then_redone(tiny_adapter, tmp_path, monkeypatch):
    from workbench.cli import main
    from workbench.collect import StoryActivations

    out = tmp_path / "run"
    first = _collect(tiny_adapter, out, 3)
    with monkeypatch.context() as m:
        _fail_rename_of(m, "texts.jsonl")  # the new tensors are in place, the old texts and manifest remain
        with pytest.raises(OSError, match="simulated"):
            _collect(tiny_adapter, out, 4)
    with pytest.raises(RunFolderError, match=r"activations\.safetensors does not match .*manifest\.json"):
        StoryActivations.load(out)
    assert main(["analyze", str(out), *ANALYZE_ARGS]) == 2
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    again = _collect(tiny_adapter, out, 4)  # the same command again: computed anew, not "reused"
    assert again.params["token_offset"] == 4 and not torch.equal(again.means, first.means)
    loaded = StoryActivations.load(out)
    assert torch.equal(loaded.means, _collect(tiny_adapter, tmp_path / "fresh", 4).means)


def test_reanalysis_interrupted_after_the_vectors_is_refused(tmp_path, monkeypatch, capsys):
    from workbench.analysis import EmotionVectors, GeometryReport
    from workbench.cli import main

    run = synthetic_run(tmp_path / "run")
    assert main(["analyze", str(run), *ANALYZE_ARGS]) == 0
    before = GeometryReport.load(run)
    with monkeypatch.context() as m:
        _fail_rename_of(m, "manifest.json")  # new vectors in place; the manifest still describes the old ones
        assert main(["analyze", str(run), *ANALYZE_ARGS, "--neutral-variance", "0.9"]) == 2  # no traceback
        assert "manifest.json cannot be written: No space left on device (simulated)" in capsys.readouterr().err
    with pytest.raises(RunFolderError, match=r"emotion_vectors\.safetensors does not match"):
        EmotionVectors.load(run)
    with pytest.raises(RunFolderError, match="not the file this analysis was made from"):
        GeometryReport.load(run)
    capsys.readouterr()
    assert main(["compare", str(run), str(synthetic_run(tmp_path / "other", seed=1)), "--out",
                 str(tmp_path / "c.csv")]) == 2
    assert "sha256 differs" in capsys.readouterr().err
    assert main(["analyze", str(run), *ANALYZE_ARGS, "--neutral-variance", "0.9"]) == 0
    after = GeometryReport.load(run)
    assert EmotionVectors.load(run).neutral_variance == 0.9
    assert after.settings["neutral_variance"] == 0.9 != before.settings["neutral_variance"]


# ---------------------------------------------------------------- failed saves keep what was there

def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.mark.parametrize("fail", ["read-only folder", "rename of texts.jsonl", "rename of manifest.json"])
def test_failed_collect_save_keeps_or_refuses_the_previous_run(fail, tiny_adapter, tmp_path, monkeypatch):
    from workbench.collect import StoryActivations

    out = tmp_path / "run"
    first = _collect(tiny_adapter, out, 3)
    before = _files(out)
    second = _collect(tiny_adapter, tmp_path / "other", 5)
    with monkeypatch.context() as m:
        if fail == "read-only folder":
            _fail_writes_in(m, out)
        else:
            _fail_rename_of(m, fail.split()[-1])
        with pytest.raises(OSError, match="simulated"):
            second.save(out)
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    if fail == "read-only folder":  # nothing was renamed: the previous run is intact
        assert _files(out) == before
        assert torch.equal(StoryActivations.load(out).means, first.means)
    elif fail == "rename of manifest.json":  # both artefacts replaced, manifest not: refused
        with pytest.raises(RunFolderError, match="sha256 differs"):
            StoryActivations.load(out)
    else:
        with pytest.raises(RunFolderError, match=r"activations\.safetensors does not match"):
            StoryActivations.load(out)


def test_failed_vector_save_keeps_the_previous_vectors(tmp_path, monkeypatch):
    from workbench.analysis import EmotionVectors
    from workbench.cli import main

    run = synthetic_run(tmp_path / "run")
    assert main(["analyze", str(run), *ANALYZE_ARGS]) == 0
    before, vectors = _files(run), EmotionVectors.load(run)
    other = EmotionVectors.from_raw(vectors.emotions, vectors.layers, vectors.raw * 2)
    with monkeypatch.context() as m:
        _fail_writes_in(m, run)
        with pytest.raises(OSError, match="simulated"):
            other.save(run)
    assert _files(run) == before
    assert torch.equal(EmotionVectors.load(run).contrast, vectors.contrast)


def test_failed_corpus_save_keeps_the_previous_file(tmp_path, monkeypatch):
    from workbench.data.corpus import load_corpus

    inputs = write_inputs(tmp_path / "in")
    corpus = load_corpus(inputs["corpus"])
    target = tmp_path / "kept.jsonl"
    corpus.subset(["calm"]).save_jsonl(target)
    before = target.read_bytes()
    with monkeypatch.context() as m:
        _fail_rename_of(m, "kept.jsonl")
        with pytest.raises(OSError, match="simulated"):
            corpus.save_jsonl(target)
    assert target.read_bytes() == before and [p.name for p in tmp_path.iterdir() if p.is_file()] == ["kept.jsonl"]


def test_failed_report_save_never_mixes_two_analyses(tmp_path, monkeypatch):
    from workbench.analysis import EmotionVectors, GeometryReport, analyze
    from workbench.cli import main
    from workbench.data.ratings import load_ratings

    run = synthetic_run(tmp_path / "run")
    assert main(["analyze", str(run), *ANALYZE_ARGS]) == 0
    first = GeometryReport.load(run)
    report = analyze(EmotionVectors.load(run), load_ratings(), bootstrap=20, permutations=20, cka_shuffles=10,
                     seed=7, progress=False)
    with monkeypatch.context() as m:
        _fail_rename_of(m, "summary.json")  # layers.csv and the matrices are already the new ones
        with pytest.raises(OSError, match="simulated"):
            report.save(run)
    try:
        loaded = GeometryReport.load(run)
    except RunFolderError:
        return  # refused: fine
    assert loaded.settings == first.settings
    for name in ("pc1_valence_ci_low", "pc1_valence_p_perm"):  # every table still the first analysis'
        assert (loaded.conditions[0].columns[name] == first.conditions[0].columns[name]).all()


# ---------------------------------------------------------------- the offline guarantee

def test_the_suite_blocks_the_network_but_not_loopback():
    import conftest

    for family, address in ((socket.AF_INET, ("192.0.2.1", 443)), (socket.AF_INET, ("8.8.8.8", 53)),
                            (socket.AF_INET6, ("2001:db8::1", 443, 0, 0))):
        with socket.socket(family, socket.SOCK_STREAM) as s:
            with pytest.raises(conftest.NetworkBlockedError, match=re.escape(repr(address))):
                s.connect(address)
            with pytest.raises(conftest.NetworkBlockedError):
                s.connect_ex(address)
    with pytest.raises(conftest.NetworkBlockedError, match="huggingface.co"):
        socket.create_connection(("huggingface.co", 443), timeout=1)
    assert len(conftest.BLOCKED_ATTEMPTS) == 7
    conftest.BLOCKED_ATTEMPTS.clear()  # expected here: the fixture must not fail this test

    server = socket.create_server(("127.0.0.1", 0))
    try:
        port = server.getsockname()[1]
        with socket.create_connection(("localhost", port), timeout=5) as c:
            peer, _ = server.accept()
            c.sendall(b"ping")
            assert peer.recv(4) == b"ping"
            peer.close()
        with socket.socket() as c:
            assert c.connect_ex(("127.0.0.1", port)) == 0
    finally:
        server.close()
    a, b = socket.socketpair(socket.AF_UNIX)
    a.sendall(b"x")
    assert b.recv(1) == b"x"
    a.close()
    b.close()
    assert conftest.BLOCKED_ATTEMPTS == []


def test_a_hub_call_fails_loudly_when_offline_mode_is_off(monkeypatch):
    """Without HF_HUB_OFFLINE the workbench asks the hub once; in the tests that question is blocked."""
    import conftest

    from workbench import env

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "https://huggingface.co")
    env._hub_reachable.cache_clear()
    try:
        with pytest.raises(conftest.NetworkBlockedError, match="huggingface.co"):
            env._hub_reachable()
    finally:
        env._hub_reachable.cache_clear()
        conftest.BLOCKED_ATTEMPTS.clear()
