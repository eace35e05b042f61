"""The bad-input table of ``docs/errors.md``, run as written.

Each row of the table names a key, the command line or Python call, what must happen (exit code 2
at the command line, or the exception class) and an excerpt of the message. This file only
prepares each row's input files (``SETUP``); the command, the call, the expected outcome and the
message are read from the document, so the two cannot drift: a row without a setup here, or a
setup without a row there, fails ``test_every_row_has_a_setup``.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest
from tiny import bogus_gguf, tiny_tokenizer

import workbench.errors as errors
from workbench.cli import main

DOC = Path(__file__).resolve().parents[1] / "docs" / "errors.md"
STORY = "the old man and the child opened the door of the house at night with a cold hand and the light"
GOOD = [{"emotion": "calm", "topic": "a walk", "stories": [STORY, STORY + " and the water"]},
        {"emotion": "sad", "topic": "a letter", "stories": [STORY + " was cold"]}]
FAST = ["--bootstrap", "20", "--permutations", "20", "--cka-shuffles", "10", "--no-progress"]


@dataclass(frozen=True)
class Row:
    key: str
    what: str
    run: str  # "workbench ..." or a Python expression
    outcome: str  # "exit 2..." or an exception class name
    excerpt: str


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split(" | ")]


def doc_rows() -> list[Row]:
    text = DOC.read_text(encoding="utf-8")
    block = text.split("<!-- bad-inputs:start -->")[1].split("<!-- bad-inputs:end -->")[0]
    rows = []
    for line in block.strip().splitlines()[2:]:  # after the header and the rule
        key, what, run, outcome, excerpt = _cells(line)
        rows.append(Row(key.strip("`"), what, run.strip("`"), outcome.strip("`"), excerpt.strip("`")))
    return rows


ROWS = doc_rows()


# ---------------------------------------------------------------- builders of bad inputs

def write_rows(path: Path, rows) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def run_folder(path: Path, emotions=slice(0, 8), neutral: bool = True, edit=None) -> Path:
    """A collect run folder: 2 synthetic stories per emotion (8 emotions: 16 texts) and 6 neutral texts,
    3 layers. ``edit(means)`` changes the activations before they are saved (and checksummed)."""
    from test_analysis_support import combined, make_acts

    from workbench.data.ratings import load_ratings

    ratings = load_ratings()
    sub = ratings.subset(ratings.emotions[emotions])
    stories, neu = make_acts(sub, n_layers=3, d_model=16, stories=2, valence_signal=3.0, n_neutral=6, seed=0)
    acts = combined(stories, neu if neutral else None)
    if edit is not None:
        edit(acts.means)
    acts.save(path)
    return path


def analysed(path: Path, **kw) -> Path:
    run_folder(path, **kw)
    assert main(["analyze", str(path), *FAST]) == 0
    return path


def edit_manifest(folder: Path, fn) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    fn(manifest)
    (folder / "manifest.json").write_text(json.dumps(manifest))


def without_checksums(folder: Path) -> Path:
    """As an older collect wrote it: no sha256 of the artefacts in the manifest."""
    edit_manifest(folder, lambda m: m["collect"].pop("sha256"))
    return folder


def format_version(folder: Path, version) -> Path:
    edit_manifest(folder, lambda m: m.update(format_version=version))
    return folder


def ratings_file(path: Path, drop=(), replace=None, text=None, raw: bytes | None = None) -> Path:
    from workbench.data.ratings import DEFAULT_RATINGS

    if raw is not None:
        path.write_bytes(raw)
        return path
    lines = (text or DEFAULT_RATINGS.read_text()).splitlines()
    lines = [x for x in lines if x.split(",")[0] not in drop]
    if replace:
        lines[replace[0] - 1] = replace[1]
    path.write_text("\n".join(lines) + "\n")
    return path


def unreadable(path: Path, monkeypatch) -> None:
    """No read permission. The tests may run as root, whom chmod does not stop: then reading that
    one path raises what it raises for any other user."""
    import os

    path.chmod(0)
    if os.geteuid() == 0:
        real = Path.read_text

        def read_text(self, *args, **kwargs):
            if self == path:
                raise PermissionError(13, "Permission denied", str(self))
            return real(self, *args, **kwargs)

        monkeypatch.setattr(Path, "read_text", read_text)


def story_acts_with_nan():
    from test_analysis_support import make_acts

    from workbench.data.ratings import load_ratings

    ratings = load_ratings()
    stories, _ = make_acts(ratings.subset(ratings.emotions[:8]), n_layers=3, d_model=16, stories=2, n_neutral=6,
                           seed=0)
    stories.means[3, 1, 0] = float("nan")
    return stories


def tiny_adapter(chat: bool = False):
    from tiny import tiny_chat_tokenizer, tiny_llama

    from workbench.models import adapter_from_hf

    tok = tiny_chat_tokenizer() if chat else tiny_tokenizer()
    return adapter_from_hf(tiny_llama(len(tok), n_layers=2), tok, name="tiny", backend="nnsight")


def _set_nan(means):
    means[3, 1, 0] = float("nan")


def _set_inf_neutral(means):
    means[-1, 2, 5] = float("inf")


def _edit_texts(folder: Path, fn) -> None:
    lines = (folder / "texts.jsonl").read_text().splitlines()
    (folder / "texts.jsonl").write_text("\n".join(fn(lines)) + "\n")


def _poem(lines):
    row = json.loads(lines[0])
    row["kind"] = "poem"
    return [json.dumps(row)] + lines[1:]


def _offline_cache(ctx) -> None:
    import huggingface_hub.constants as constants

    ctx.monkeypatch.setenv("HF_HUB_CACHE", str(ctx.tmp / "hf-cache"))
    ctx.monkeypatch.setattr(constants, "HF_HUB_CACHE", str(ctx.tmp / "hf-cache"))


def _good_corpus(ctx) -> None:
    write_rows(ctx.tmp / "c.jsonl", GOOD)


def _truncate(path: Path, n_bytes: int) -> None:
    path.write_bytes(path.read_bytes()[:-n_bytes])


_LADDER = {"name": "debt", "target": "worried", "template": "I owe {value}", "values": [10, 100]}
_SCENE = {"target": "calm", "text": "the lake is still"}
BATTERY_SETUP = {
    "battery-no-target": lambda ctx: (analysed(ctx.tmp / "a"), _no_model_load(ctx), write_rows(
        ctx.tmp / "b.jsonl", [_SCENE, {"name": "debt", "template": "I owe {value}", "values": [1, 2]}])),
    "battery-unknown-target": lambda ctx: write_rows(ctx.tmp / "b.jsonl", [{**_LADDER, "target": "glad-ish"}]),
    "battery-no-placeholder": lambda ctx: write_rows(ctx.tmp / "b.jsonl", [{**_LADDER, "template": "I owe a lot"}]),
    "battery-one-value": lambda ctx: write_rows(ctx.tmp / "b.jsonl", [{**_LADDER, "values": [10]}]),
    "battery-unknown-role": lambda ctx: write_rows(ctx.tmp / "b.jsonl", [
        _SCENE, {"target": "calm", "messages": [{"role": "robot", "content": "beep"}]}]),
    "battery-names-target": lambda ctx: write_rows(ctx.tmp / "b.jsonl", [
        {"target": "sad", "text": "she looked at the empty chair sadly"}]),
    "battery-ends-with-assistant": lambda ctx: write_rows(ctx.tmp / "b.jsonl", [{"target": "calm", "messages": [
        {"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}]),
    "lens-layer-not-analysed": lambda ctx: (analysed(ctx.tmp / "a"), _no_model_load(ctx)),
}


# key -> what to prepare in ctx.tmp (and, for Python rows, the names the call uses in ctx.ns)
def _monitor_inputs(ctx) -> None:
    import torch

    from workbench.analysis import EmotionVectors

    model = tiny_adapter()
    raw = torch.randn(2, 3, model.d_model, generator=torch.Generator().manual_seed(0))
    ctx.ns.update(model=model, vectors=EmotionVectors.from_raw(("calm", "sad", "happy"), (0, 1), raw))


OWN_SETUP = {
    "corpus-unreadable": lambda ctx: unreadable(write_rows(ctx.tmp / "locked.jsonl", GOOD), ctx.monkeypatch),
    "corpus-malformed": lambda ctx: write_rows(ctx.tmp / "bad.jsonl", [
        GOOD[0], '{"emotion": "sad", "topic": "a letter", "stories": [oops]}']),
    "corpus-truncated": lambda ctx: (ctx.tmp / "cut.jsonl").write_text(
        json.dumps(GOOD[0]) + "\n" + json.dumps(GOOD[1]) + "\n" + json.dumps(GOOD[1])[:30]),
    "corpus-not-utf8": lambda ctx: (ctx.tmp / "latin1.jsonl").write_bytes(
        b'{"emotion": "calm", "topic": "caf\xe9", "stories": ["x"]}\n'),
    "corpus-lone-surrogate": lambda ctx: write_rows(ctx.tmp / "c.jsonl", [
        GOOD[0], {"emotion": "sad", "stories": ["a broken \ud83d emoji"]}]),
    "corpus-row-not-object": lambda ctx: write_rows(ctx.tmp / "list.jsonl", [["calm", STORY]]),
    "corpus-emotion-number": lambda ctx: write_rows(ctx.tmp / "c.jsonl", [{"emotion": 5, "stories": [STORY]}]),
    "corpus-stories-string": lambda ctx: write_rows(ctx.tmp / "c.jsonl", [{"emotion": "calm", "stories": STORY}]),
    "corpus-story-number": lambda ctx: write_rows(ctx.tmp / "c.jsonl", [
        GOOD[0], {"emotion": "sad", "stories": [STORY, 42]}]),
    "corpus-topic-list": lambda ctx: write_rows(ctx.tmp / "c.jsonl", [
        {"emotion": "calm", "topic": ["a", "b"], "stories": [STORY]}]),
    "corpus-empty": lambda ctx: (ctx.tmp / "empty.jsonl").write_text(""),
    "corpus-empty-folder": lambda ctx: (ctx.tmp / "stories").mkdir(),
    "story-too-short": lambda ctx: write_rows(ctx.tmp / "short.jsonl", [
        {"emotion": "calm", "topic": "a walk", "stories": [STORY, "the day"]}]),
    "neutral-without-text": lambda ctx: (_good_corpus(ctx), write_rows(ctx.tmp / "neutral.jsonl", [
        {"id": 1, "text": "the water of the house"}, {"id": 2, "txt": "the light"}])),
    "model-hf-offline": lambda ctx: (_good_corpus(ctx), _offline_cache(ctx)),
    "gguf-wrong-architecture": lambda ctx: (_good_corpus(ctx), bogus_gguf(ctx.tmp / "bogus.gguf")),
    "max-length-below-offset": lambda ctx: (_good_corpus(ctx), _no_model_load(ctx)),
    "run-partial": lambda ctx: write_rows(ctx.tmp / "run" / ".partial" / "state.json", [{"batches_done": 2}]),
    "run-older-format": lambda ctx: format_version(run_folder(ctx.tmp / "run"), 0),
    "run-newer-format": lambda ctx: format_version(run_folder(ctx.tmp / "run"), 2),
    "run-changed": lambda ctx: _edit_texts(run_folder(ctx.tmp / "run"), _poem),
    "run-torn-texts": lambda ctx: _truncate(without_checksums(run_folder(ctx.tmp / "run")) / "texts.jsonl", 20),
    "run-truncated-tensors": lambda ctx: _truncate(
        without_checksums(run_folder(ctx.tmp / "run")) / "activations.safetensors", 100),
    "run-missing-rows": lambda ctx: _edit_texts(without_checksums(run_folder(ctx.tmp / "run")), lambda x: x[:-2]),
    "text-kind-unknown": lambda ctx: _edit_texts(without_checksums(run_folder(ctx.tmp / "run")), _poem),
    "activations-nan": lambda ctx: run_folder(ctx.tmp / "run", edit=_set_nan),
    "activations-inf": lambda ctx: run_folder(ctx.tmp / "run", edit=_set_inf_neutral),
    "rating-missing": lambda ctx: (run_folder(ctx.tmp / "run"), ratings_file(ctx.tmp / "ratings.csv",
                                                                            drop=("afraid",))),
    "ratings-not-numbers": lambda ctx: (run_folder(ctx.tmp / "run"), ratings_file(
        ctx.tmp / "ratings.csv", replace=(3, "alarmed,high,0.644,nrc_vad"))),
    "ratings-missing-column": lambda ctx: (run_folder(ctx.tmp / "run"), ratings_file(
        ctx.tmp / "ratings.csv", text="emotion,valence,source\nafraid,-0.977,nrc_vad")),
    "ratings-out-of-range": lambda ctx: (run_folder(ctx.tmp / "run"), ratings_file(
        ctx.tmp / "ratings.csv", replace=(2, "afraid,3,0.352,nrc_vad"))),
    "ratings-not-utf8": lambda ctx: (run_folder(ctx.tmp / "run"), ratings_file(
        ctx.tmp / "ratings.csv", raw=b"emotion,valence,arousal,source\ncaf\xe9,0.1,0.2,x\n")),
    "report-older-analysis": lambda ctx: edit_manifest(analysed(ctx.tmp / "run"),
                                                       lambda m: m["analysis"].pop("analysis_format")),
    "compare-different-emotions": lambda ctx: (analysed(ctx.tmp / "a"),
                                               analysed(ctx.tmp / "b", emotions=slice(2, 10))),
    "compare-not-analysed": lambda ctx: (analysed(ctx.tmp / "a"), run_folder(ctx.tmp / "b")),
    "steer-not-analysed": lambda ctx: run_folder(ctx.tmp / "b"),
    "prefer-activities-bad-group": lambda ctx: (analysed(ctx.tmp / "a"), (ctx.tmp / "acts.txt").write_text(
        "pleasant | a | swim in a lake\nhappy | b | eat cake\n")),
    "monitor-unknown-role": lambda ctx: (analysed(ctx.tmp / "a"), _no_model_load(ctx), write_rows(
        ctx.tmp / "chat.jsonl", [{"role": "user", "content": "the day"}, {"role": "robot", "content": "x"}])),
    "monitor-layer-not-in-run": lambda ctx: (analysed(ctx.tmp / "a"), _no_model_load(ctx)),
    "api-monitor-empty-text": _monitor_inputs,
    "compare-older-format": lambda ctx: (analysed(ctx.tmp / "a"), format_version(analysed(ctx.tmp / "b"), 0)),
    "compare-no-projection": lambda ctx: (analysed(ctx.tmp / "a"), analysed(ctx.tmp / "b", neutral=False)),
    "compare-vectors-replaced": lambda ctx: _vectors_replaced(ctx),
    "generate-unknown-emotion": lambda ctx: _no_model_load(ctx),
    "generate-topics-missing": lambda ctx: _no_model_load(ctx),
    "generate-out-not-stories": lambda ctx: _no_model_load(ctx) or write_rows(ctx.tmp / "s.jsonl", [
        {"emotion": "calm", "topic": "x", "stories": []}, "not json"]),
    "out-not-a-run-folder": lambda ctx: _user_folder(ctx),
    "out-is-an-input": lambda ctx: write_rows(ctx.tmp / "mine" / "texts.jsonl", GOOD),
    "out-is-a-file": lambda ctx: (_good_corpus(ctx), (ctx.tmp / "notes.txt").write_text("notes")),
    "out-other-kind": lambda ctx: (analysed(ctx.tmp / "a"), run_folder(ctx.tmp / "b"), _no_model_load(ctx)),
    "run-locked": lambda ctx: _held_lock(ctx),
    "disk-full": lambda ctx: _failing_writes(ctx, 28, "No space left on device"),
    "folder-read-only": lambda ctx: _failing_writes(ctx, 13, "Permission denied"),
    "compare-figure-run-file": lambda ctx: (analysed(ctx.tmp / "a"), analysed(ctx.tmp / "b")),
    "generate-out-fifo": lambda ctx: (_fifo(ctx.tmp / "pipe"), _no_model_load(ctx)),
    "corpus-fifo": lambda ctx: _fifo(ctx.tmp / "pipe.jsonl"),
    "ratings-symlink-loop": lambda ctx: (run_folder(ctx.tmp / "run"), _loop(ctx.tmp / "loop.csv")),
    "gguf-empty": lambda ctx: (_good_corpus(ctx), (ctx.tmp / "empty.gguf").write_bytes(b"")),
    "gguf-random-bytes": lambda ctx: (_good_corpus(ctx), (ctx.tmp / "random.gguf").write_bytes(
        bytes(range(256)) * 16)),
    "gguf-truncated": lambda ctx: _cut_gguf(ctx),
    "model-config-invalid": lambda ctx: _model_folder(ctx, '{"model_type": "llama", '),
    "model-config-no-type": lambda ctx: _model_folder(ctx, "{}"),
    "device-unavailable": lambda ctx: (_good_corpus(ctx), _no_model_load(ctx)),
    "device-unknown": lambda ctx: (_good_corpus(ctx), _no_model_load(ctx)),
    "layers-empty": lambda ctx: (_good_corpus(ctx), _no_model_load(ctx)),
    "run-table-edited": lambda ctx: (analysed(ctx.tmp / "a") / "layers.csv").write_text(
        (ctx.tmp / "a" / "layers.csv").read_text().replace("true", "false", 1)),
    "run-cell-not-a-number": lambda ctx: _cell(_without_table_checksums(analysed(ctx.tmp / "a"))),
    "run-json-wrong-shape": lambda ctx: (_without_table_checksums(analysed(ctx.tmp / "a")) / "summary.json"
                                         ).write_text("[]\n"),
    "recipe-error": lambda ctx: (analysed(ctx.tmp / "a"), _no_model_load(ctx), (ctx.tmp / "bad.py").write_text(
        "import math\n\nSCALE = math.sqrt(-1)\n")),
    "recipe-name-py": lambda ctx: (analysed(ctx.tmp / "a"), _no_model_load(ctx)),
    "run-ratings-missing": lambda ctx: (_good_corpus(ctx), _no_model_load(ctx),
                                        ratings_file(ctx.tmp / "ratings.csv", drop=("calm",))),
    "api-collect-empty": lambda ctx: ctx.ns.update(model=tiny_adapter()),
    "api-collect-too-short": lambda ctx: ctx.ns.update(model=tiny_adapter()),
    "api-chat-unknown-role": lambda ctx: ctx.ns.update(model=tiny_adapter(chat=True)),
    "api-chat-no-assistant": lambda ctx: ctx.ns.update(model=tiny_adapter(chat=True)),
    "api-chat-empty-message": lambda ctx: ctx.ns.update(model=tiny_adapter(chat=True)),
    "api-vectors-nan": lambda ctx: ctx.ns.update(stories=story_acts_with_nan()),
    "api-vectors-older-format": lambda ctx: format_version(analysed(ctx.tmp / "run"), 0),
    "api-layer-out-of-range": lambda ctx: ctx.ns.update(model=tiny_adapter()),
    "vectors-missing-emotion": lambda ctx: vector_folder(ctx.tmp / "vecs", drop=(1, "afraid")),
    "vectors-wrong-shape": lambda ctx: vector_folder(ctx.tmp / "vecs", cut=(2, "amused")),
    "vectors-emotions-count": lambda ctx: vector_file(ctx.tmp / "v.npz", emotions_cut=1),
    "vectors-nan": lambda ctx: vector_file(ctx.tmp / "v.safetensors", nan=(1, "alarmed")),
    "vectors-pickle-pt": lambda ctx: vector_file(ctx.tmp / "v.pt", pickled=True),
    "vectors-pickle-npz": lambda ctx: vector_file(ctx.tmp / "v.npz", pickled=True),
    "vectors-unrated": lambda ctx: vector_file(ctx.tmp / "v.npz", rename=(0, "blorfy")),
    "vectors-no-layer-number": lambda ctx: vector_folder(ctx.tmp / "vecs", stray="middle.npz"),
    "vectors-without-out": lambda ctx: vector_file(ctx.tmp / "v.npz"),
    **BATTERY_SETUP,
    "remote-no-key": lambda ctx: (_good_corpus(ctx), _no_ndif_key(ctx)),
    "remote-host-unreachable": lambda ctx: (_good_corpus(ctx), _closed_ndif_host(ctx)),
    "shard-out-of-range": lambda ctx: (_good_corpus(ctx), _no_model_load(ctx)),
    "merge-different-plans": lambda ctx: (_shard(ctx.tmp / "a", 0, 3), _shard(ctx.tmp / "b", 1, 4)),
    "merge-shard-missing": lambda ctx: _shard(ctx.tmp / "a", 0, 3),
    "merge-not-a-shard": lambda ctx: (_shard(ctx.tmp / "a", 0, 3), run_folder(ctx.tmp / "run")),
}


def _nothing(ctx) -> None:
    """The row's input is on its command line (a missing file, an unknown name)."""


def _a_run(ctx) -> None:
    run_folder(ctx.tmp / "run")


def _an_analysed_run(ctx) -> None:  # steer-no-token-norms: synthetic acts have no token norms, like an old collect
    analysed(ctx.tmp / "a")


# the rows whose input is one common folder or file: key -> set-up
COMMON_SETUP = {key: setup for setup, keys in (
    (_nothing, (
        "corpus-missing run-missing generate-temperature-not-a-number api-ratings-unknown api-corpus-unknown "
        "api-model-unknown")),
    (_good_corpus, (
        "model-unknown model-path-missing layer-out-of-range layers-not-integers offset-not-a-number "
        "drop-flagged-onto-source remote-not-hub")),
    (_a_run, (
        "ratings-folder bootstrap-not-a-number ci-out-of-range neutral-variance-nan bootstrap-scheme-unknown "
        "peak-depth-out-of-range split-by-unknown analyze-memory api-report-not-analysed")),
    (_an_analysed_run, (
        "steer-unknown-emotion steer-bad-difference steer-layer-out-of-range steer-alphas-not-numbers "
        "steer-unknown-hook steer-prompts-missing steer-no-token-norms steer-unknown-norm "
        "prefer-activities-missing prefer-alpha-zero prefer-unknown-direction prefer-layer-out-of-range "
        "report-out-run-file report-out-folder")),
) for key in keys.split()}
SETUP = {**OWN_SETUP, **COMMON_SETUP}


def _vector_data():
    """8 rated emotions x 3 layers x 16 dims of random vectors."""
    import numpy as np

    from workbench.data.ratings import load_ratings

    return list(load_ratings().emotions[:8]), np.random.default_rng(0).normal(size=(3, 8, 16)).astype(np.float32)


def vector_folder(folder: Path, drop=None, cut=None, stray=None) -> Path:
    """Per-layer files L0.npz, L1.npz, L2.npz keyed by emotion; ``drop=(layer, emotion)`` leaves one out,
    ``cut=(layer, emotion)`` shortens one vector, ``stray`` adds a file without a layer number."""
    import numpy as np

    emotions, vectors = _vector_data()
    folder.mkdir(parents=True)
    for layer in range(3):
        named = {e: vectors[layer, j] for j, e in enumerate(emotions)}
        if drop and drop[0] == layer:
            named.pop(drop[1])
        if cut and cut[0] == layer:
            named[cut[1]] = named[cut[1]][:-1]
        np.savez(folder / f"L{layer}.npz", **named)
    if stray:
        np.savez(folder / stray, **{emotions[0]: vectors[0, 0]})
    return folder


def vector_file(path: Path, emotions_cut=0, nan=None, pickled=False, rename=None) -> Path:
    """One file with ``vectors`` [3, 8, 16] and ``emotions``; the options break it one way each."""
    import argparse

    import numpy as np
    import torch

    emotions, vectors = _vector_data()
    if nan:
        vectors[nan[0], emotions.index(nan[1]), 3] = np.nan
    if rename:
        emotions[rename[0]] = rename[1]
    emotions = emotions[:len(emotions) - emotions_cut]
    if path.suffix == ".pt":
        payload = {"vectors": torch.from_numpy(vectors), "emotions": emotions}
        if pickled:
            payload["settings"] = argparse.Namespace(seed=0)  # any Python object: weights_only refuses it
        torch.save(payload, path)
    elif path.suffix == ".npz":
        extra = {"notes": np.array([{"seed": 0}], dtype=object)} if pickled else {}
        np.savez(path, vectors=vectors, emotions=np.array(emotions), **extra)
    else:
        from safetensors.numpy import save_file

        save_file({"vectors": vectors}, str(path), metadata={"emotions": json.dumps(emotions)})
    return path


def _no_ndif_key(ctx) -> None:
    from nnsight.schema.config import CONFIG

    ctx.monkeypatch.delenv("NDIF_API_KEY", raising=False)
    ctx.monkeypatch.setattr(CONFIG.API, "APIKEY", None)


def _closed_ndif_host(ctx) -> None:
    import socket

    with socket.socket() as s:  # a loopback port nobody listens on: refused at once, no network
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctx.monkeypatch.setenv("NDIF_API_KEY", "not-a-real-key")
    ctx.monkeypatch.setenv("NDIF_HOST", f"http://127.0.0.1:{port}")


def _shard(folder: Path, i: int, offset: int) -> None:
    """Shard i of 2 of a collect of the GOOD stories on the tiny model."""
    from workbench.collect import collect

    texts = [story for row in GOOD for story in row["stories"]]
    collect(tiny_adapter(), texts, token_offset=offset, max_tokens_per_batch=20, shard=(i, 2), out=folder,
            progress=False)
def _user_folder(ctx) -> None:
    _good_corpus(ctx)
    (ctx.tmp / "mine").mkdir()
    (ctx.tmp / "mine" / "manifest.json").write_text('{"my": "own manifest"}\n')
    (ctx.tmp / "mine" / "notes.txt").write_text("notes")


def _held_lock(ctx) -> None:
    """The run folder's writer lock, held (as another process would hold it) until the test ends."""
    import fcntl

    run_folder(ctx.tmp / "run")
    held = open(ctx.tmp / "run" / ".workbench.lock", "a+")  # noqa: SIM115 (closed by the test's end)
    fcntl.flock(held.fileno(), fcntl.LOCK_EX)
    held.write(json.dumps({"pid": 4242, "command": "workbench analyze run", "since": "now"}))
    held.flush()
    ctx.ns["held"] = held


def _failing_writes(ctx, errno_, text) -> None:
    """Every new file under the run folder fails as on a full disk or a read-only folder."""
    import tempfile

    run = run_folder(ctx.tmp / "run")
    real = tempfile.mkstemp

    def mkstemp(*args, dir=None, **kwargs):
        if dir is not None and Path(dir).resolve() == run.resolve():
            raise OSError(errno_, text)
        return real(*args, dir=dir, **kwargs)

    ctx.monkeypatch.setattr(tempfile, "mkstemp", mkstemp)


def _fifo(path: Path) -> None:
    import os

    os.mkfifo(path)


def _loop(path: Path) -> None:
    path.symlink_to(path.name)


def _model_folder(ctx, config: str) -> None:
    _good_corpus(ctx)
    (ctx.tmp / "m").mkdir()
    (ctx.tmp / "m" / "config.json").write_text(config)


def _cut_gguf(ctx) -> None:
    _good_corpus(ctx)
    bogus_gguf(ctx.tmp / "full.gguf", arch="llama")
    (ctx.tmp / "cut.gguf").write_bytes((ctx.tmp / "full.gguf").read_bytes()[:40])


def _without_table_checksums(folder: Path) -> Path:
    edit_manifest(folder, lambda m: m["analysis"].pop("sha256"))
    return folder


def _cell(folder: Path) -> None:
    lines = (folder / "cka_biased.csv").read_text().splitlines()
    lines[2] = lines[2].rsplit(",", 1)[0] + ",high"
    (folder / "cka_biased.csv").write_text("\n".join(lines) + "\n")


def _vectors_replaced(ctx) -> None:
    """An analysed folder whose vectors were then replaced by a re-analysis that died before its manifest."""
    import os

    from workbench.analysis import EmotionVectors

    analysed(ctx.tmp / "a")
    b = analysed(ctx.tmp / "b")
    vectors = EmotionVectors.load(b)
    other = EmotionVectors.from_raw(vectors.emotions, vectors.layers, vectors.raw * 2)
    real = os.replace

    def replace(src, dst, *args, **kwargs):
        if Path(dst).name == "manifest.json":
            raise OSError(28, "No space left on device (simulated)")
        return real(src, dst, *args, **kwargs)

    with pytest.MonkeyPatch.context() as m:
        m.setattr(os, "replace", replace)
        with pytest.raises(OSError):
            other.save(b)


def _no_model_load(ctx) -> None:
    """The row must fail before any model is loaded."""
    import workbench
    import workbench.models

    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded before the inputs were checked")

    for module in (workbench, workbench.models):
        ctx.monkeypatch.setattr(module, "load_model", refuse, raising=False)


def python_namespace() -> dict:
    from workbench.analysis import EmotionVectors, GeometryReport, emotion_vectors
    from workbench.battery import load_battery
    from workbench.collect import collect
    from workbench.data.corpus import load_corpus
    from workbench.data.ratings import load_ratings
    from workbench.models import load_model
    from workbench.monitor import monitor

    return {"collect": collect, "monitor": monitor, "load_ratings": load_ratings, "load_corpus": load_corpus,
            "emotion_vectors": emotion_vectors, "EmotionVectors": EmotionVectors, "GeometryReport": GeometryReport,
            "load_model": load_model, "load_battery": load_battery}


# ---------------------------------------------------------------- the table

@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    from tiny import model_folder, tiny_llama

    tok = tiny_tokenizer()
    return model_folder(tmp_path_factory.mktemp("tiny-llama"), tiny_llama(len(tok), n_layers=2), tok)


def test_the_table_has_enough_distinct_rows():
    keys = [r.key for r in ROWS]
    assert len(keys) >= 25 and len(set(keys)) == len(keys)
    assert all(r.outcome.startswith("exit 2") or hasattr(errors, r.outcome) for r in ROWS)
    assert all(r.run.startswith("workbench ") == r.outcome.startswith("exit 2") for r in ROWS)


def test_every_row_has_a_setup():
    assert not set(OWN_SETUP) & set(COMMON_SETUP)
    assert sorted(SETUP) == sorted(r.key for r in ROWS)


@pytest.mark.parametrize("row", ROWS, ids=[r.key for r in ROWS])
def test_bad_input(row, tmp_path, model_dir, monkeypatch, capsys):
    ctx = SimpleNamespace(tmp=tmp_path, model=model_dir, monkeypatch=monkeypatch, ns=python_namespace())
    SETUP[row.key](ctx)
    capsys.readouterr()

    def placeholders(text: str) -> str:
        return text.replace("<model>", str(model_dir)).replace("<tmp>", str(tmp_path))

    if row.run.startswith("workbench "):
        argv = [placeholders(a) for a in shlex.split(row.run)[1:]]
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse refuses a value before any command runs
            code = exc.code
        out, err = capsys.readouterr()
        assert code == 2, f"exit code {code}; stderr: {err[-2000:]}"
        assert "Traceback" not in err
        assert re.search(rf"^workbench {argv[0]}[\w ]*: error: ", err, re.MULTILINE), err
        message = err
        if "nothing written" in row.outcome:
            assert not [p for p in tmp_path.rglob("*") if p.name in ("emotion_vectors.safetensors", "layers.csv")]
            assert argv[0] != "collect" or not (tmp_path / "run" / "manifest.json").exists()
    else:
        expected = getattr(errors, row.outcome)
        with pytest.raises(expected) as info:
            eval(placeholders(row.run), ctx.ns)  # the call exactly as the table shows it
        message = str(info.value)
    message = " ".join(message.split())  # argparse wraps long lines
    message = message.replace(str(model_dir), "<model>").replace(str(tmp_path), "<tmp>")
    assert row.excerpt in message, f"{row.key}: {row.excerpt!r} not in {message!r}"


# ---------------------------------------------------------------- also covered (see docs/errors.md)

def test_incomplete_gguf_of_a_supported_architecture(tmp_path, capsys):
    path = tmp_path / "llama.gguf"
    bogus_gguf(path, arch="llama")
    write_rows(tmp_path / "c.jsonl", GOOD)
    assert main(["collect", "--model", str(path), "--corpus", str(tmp_path / "c.jsonl"), "--out",
                 str(tmp_path / "run"), "--neutral", "none"]) == 2
    assert str(path) in capsys.readouterr().err
