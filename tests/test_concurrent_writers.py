"""Two ``workbench analyze`` of one run folder at once, with different seeds, 10 times with random delays
between their starts: the second writer is refused every time (exit 2, naming the holder), and the
folder always holds one whole analysis, that of the writer that ran: every checksum verified, and its
tables byte-identical to those of the same analysis run alone. The delays are drawn from [0, T/2],
T the time one analysis takes alone here, so that the two always overlap."""

from __future__ import annotations

import json
import random
import shutil
import time

import pytest
from test_faults import PRELOAD, _child, synthetic_run

ARGS = ["--bootstrap", "1000", "--permutations", "1000", "--cka-shuffles", "100", "--no-progress"]
TABLES = ("layers.csv", "cka_debiased.csv", "cka_biased.csv", "valence_cosine.csv", "valence_directions.safetensors",
          "emotion_vectors.safetensors")


def _start(ctx, argv, log):
    proc = ctx.Process(target=_child, args=([str(a) for a in argv], None, str(log)))
    proc.start()
    return proc


@pytest.mark.slow
def test_a_second_analyze_is_refused_and_the_folder_holds_one_analysis(tmp_path):
    import multiprocessing

    from workbench.analysis import EmotionVectors, GeometryReport
    from workbench.analysis.manifest import sha256_file
    from workbench.cli import main

    source = synthetic_run(tmp_path / "source", n_emotions=16)
    reference = {}
    t0 = time.perf_counter()
    for seed in (1, 2):  # each analysis alone
        folder = tmp_path / f"alone{seed}"
        shutil.copytree(source, folder)
        assert main(["analyze", str(folder), *ARGS, "--seed", str(seed)]) == 0
        reference[seed] = {name: (folder / name).read_bytes() for name in TABLES}
    alone = (time.perf_counter() - t0) / 2
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    rng = random.Random(13)
    figures = []
    for rep in range(10):
        run = tmp_path / f"run{rep}"
        shutil.copytree(source, run)
        delay = rng.uniform(0.0, alone / 2)  # the second starts while the first still runs
        first = _start(ctx, ["analyze", run, *ARGS, "--seed", "1"], tmp_path / f"{rep}-1.log")
        time.sleep(delay)
        second = _start(ctx, ["analyze", run, *ARGS, "--seed", "2"], tmp_path / f"{rep}-2.log")
        for proc in (first, second):
            proc.join(300)
        codes = {1: first.exitcode, 2: second.exitcode}
        logs = {s: (tmp_path / f"{rep}-{s}.log").read_text() for s in (1, 2)}
        assert sorted(codes.values()) == [0, 2], (codes, logs)
        winner = 1 if codes[1] == 0 else 2
        loser = 3 - winner
        assert "is being written by another workbench command (pid" in logs[loser], logs[loser]
        assert "Traceback" not in logs[loser]
        manifest = json.loads((run / "manifest.json").read_text())
        assert manifest["analysis"]["settings"]["seed"] == winner
        assert manifest["vectors"]["sha256"] == sha256_file(run / "emotion_vectors.safetensors")
        assert manifest["analysis"]["inputs"]["emotion_vectors.safetensors sha256"] == manifest["vectors"]["sha256"]
        assert manifest["analysis"]["inputs"]["activations.safetensors sha256"] == sha256_file(
            run / "activations.safetensors")
        report = GeometryReport.load(run)  # every table checked against its recorded sha256
        EmotionVectors.load(run)
        assert report.settings["seed"] == winner
        assert {name: (run / name).read_bytes() for name in TABLES} == reference[winner]
        figures.append((round(delay, 3), winner))
    print(f"analysis alone: {alone:.1f} s; (delay s, writer that ran): {figures}")
