"""Remote collect through nnsight's remote path: the local simulation equals local collect, only sums come back,
code not shipped by value is caught, finished batches are not resubmitted, and NDIF is never contacted."""

from __future__ import annotations

import io
import socket
import time

import pytest
import torch
from test_collect import _texts
from tiny import tiny_model

from workbench.collect import collect
from workbench.errors import InputError
from workbench.models import adapter_from_hf
from workbench.models.ndif import RemoteUnavailableError, SimulatedNDIF


@pytest.fixture(scope="module")
def adapter(tokenizer):
    return adapter_from_hf(tiny_model("llama", len(tokenizer)), tokenizer, backend="nnsight", name="tiny-llama")


@pytest.mark.parametrize("side", ["right", "left"])
def test_remote_local_equals_local_collect(adapter, side):
    texts = _texts(9, seed=1)
    kw = {"token_offset": 3, "max_tokens_per_batch": 80, "padding_side": side, "progress": False}
    local = collect(adapter, texts, **kw)
    remote = collect(adapter, texts, remote="local", **kw)
    torch.testing.assert_close(remote.means, local.means, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(remote.token_norms, local.token_norms, rtol=1e-5, atol=1e-5)
    assert torch.equal(remote.means, local.means)  # same ops on the same inputs: bitwise here
    assert torch.equal(remote.n_tokens, local.n_tokens)
    info = remote.info["remote"]
    assert info["mode"] == "local" and len(info["job_ids"]) == remote.info["n_batches"] >= 4


def test_layer_subset_in_any_order(adapter):
    texts = _texts(5, seed=2)
    full = collect(adapter, texts, token_offset=2, progress=False)
    part = collect(adapter, texts, token_offset=2, layers=[2, 0], remote="local", progress=False)
    assert part.layers == (0, 2)  # layers given in any order are sorted, and the labels follow the data
    torch.testing.assert_close(part.means, full.means[:, [0, 2]], rtol=1e-5, atol=1e-5)


def _saved_size(tensors: dict) -> int:
    buffer = io.BytesIO()
    torch.save(tensors, buffer)
    return buffer.getbuffer().nbytes


def test_only_the_sums_and_counts_come_back(adapter):
    """What each request returns is a [batch, layer, d_model] fp32 tensor of sums, a [batch, layer] one of
    token-norm sums (the steering norm) and a [batch] one of counts, nothing else."""
    from workbench.collect.plan import make_batches, plan_tokens

    texts = _texts(9, seed=1)
    acts = collect(adapter, texts, token_offset=3, max_tokens_per_batch=80, remote="local", progress=False)
    plan = plan_tokens(adapter.tokenizer, texts, 3, 512)
    batches = make_batches([len(r) for r in plan.ids], 80)
    info = acts.info["remote"]
    assert info["returned"] == [{"counts": len(b) * 4, "norms": len(b) * 3 * 4, "sums": len(b) * 3 * 64 * 4}
                                for b in batches]
    # the serialized result (torch.save, as NDIF sends it) adds a fixed container, whatever the batch
    expected = [_saved_size({"counts": torch.zeros(len(b)), "norms": torch.zeros(len(b), 3),
                             "sums": torch.zeros(len(b), 3, 64)}) for b in batches]
    assert [abs(g - e) for g, e in zip(info["result_bytes"], expected)] <= [64] * len(batches)
    hidden = [len(b) * max(len(plan.ids[i]) for i in b) * 3 * 64 * 4 for b in batches]  # the full hidden states
    assert sum(info["result_bytes"]) < sum(hidden) / 2


def _trace(model, unpack, backend):
    """A trace whose block calls ``unpack`` on block 0's output and pools it with the shipped reduction."""
    import nnsight

    from workbench.collect.pooling import masked_sum

    ids = model.tokenizer(["the old man and the child"], return_tensors="pt")
    weights = torch.ones(1, ids.input_ids.shape[1])
    native = model.native
    with native.trace({"input_ids": ids.input_ids, "attention_mask": ids.attention_mask}, backend=backend) as tracer:
        value = nnsight.save(masked_sum(weights, unpack(native.model.layers[0].output)))
        tracer.stop()
    return value


def test_project_code_not_shipped_by_value_is_caught(adapter):
    """The simulated server has no workbench: a project function that travels by reference fails to load."""
    import workbench.models.backend_nnsight as backend_nnsight
    from workbench.models.ndif import ship_by_value

    ship_by_value()  # workbench.collect.pooling travels by value
    shipped = _trace(adapter, lambda out: out[0] if isinstance(out, tuple) else out, SimulatedNDIF(adapter.native))
    assert shipped.shape == (1, 64)
    with pytest.raises(ModuleNotFoundError, match="No module named 'workbench.*simulated NDIF server"):
        _trace(adapter, backend_nnsight._hidden, SimulatedNDIF(adapter.native))  # not registered by value
    assert callable(backend_nnsight._hidden)  # and the project is importable again afterwards
    torch.testing.assert_close(_trace(adapter, backend_nnsight._hidden, None), shipped)  # the same trace, run here


def test_resume_does_not_rerun_finished_batches(adapter, tmp_path, monkeypatch):
    import workbench.collect.remote as remote

    texts = _texts(9, seed=3)
    kw = {"token_offset": 3, "max_tokens_per_batch": 80, "progress": False, "remote": "local"}
    reference = collect(adapter, texts, **kw)
    real, calls = remote.trace_batch, []

    def crashing(*args, **kwargs):
        if len(calls) == 2:
            raise KeyboardInterrupt("simulated interruption after two batches")
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(remote, "trace_batch", crashing)
    with pytest.raises(KeyboardInterrupt):
        collect(adapter, texts, out=tmp_path / "run", **kw)
    jobs = (tmp_path / "run" / ".partial" / "remote" / "jobs.jsonl").read_text().splitlines()
    assert len(jobs) == 2 and all('"job_id": "local-' in line for line in jobs)
    calls.clear()
    monkeypatch.setattr(remote, "trace_batch", lambda *a, **k: (calls.append(1), real(*a, **k))[1])
    again = collect(adapter, texts, out=tmp_path / "run", **kw)
    n = again.info["n_batches"]
    assert len(calls) == n - 2 and again.info["remote"]["batches_reused"] == 2
    assert torch.equal(again.means, reference.means)
    assert not (tmp_path / "run" / ".partial").exists()


# ---------------------------------------------------------------- remote=True never reaches a network

@pytest.fixture
def hub_adapter(tokenizer):
    return adapter_from_hf(tiny_model("llama", len(tokenizer)), tokenizer, backend="nnsight", name="x/y",
                           source="hub", location="someone/tiny-llama")


def test_remote_without_a_key_is_refused(hub_adapter, monkeypatch):
    from nnsight.schema.config import CONFIG

    monkeypatch.delenv("NDIF_API_KEY", raising=False)
    monkeypatch.setattr(CONFIG.API, "APIKEY", None)
    with pytest.raises(RemoteUnavailableError, match="no NDIF API key: set NDIF_API_KEY"):
        collect(hub_adapter, _texts(2), token_offset=2, remote=True, progress=False)


def test_remote_with_no_reachable_host_fails_fast(hub_adapter, monkeypatch):
    with socket.socket() as s:  # a loopback port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("NDIF_API_KEY", "not-a-real-key")
    monkeypatch.setenv("NDIF_HOST", f"http://127.0.0.1:{port}")
    start = time.perf_counter()
    with pytest.raises(RemoteUnavailableError, match=rf"NDIF host http://127.0.0.1:{port} is not reachable"):
        collect(hub_adapter, _texts(2), token_offset=2, remote=True, progress=False)
    assert time.perf_counter() - start < 10


def test_remote_needs_a_hub_model_and_the_nnsight_backend(adapter, tokenizer):
    with pytest.raises(InputError, match="hosts Hugging Face hub models; tiny-llama is a in_memory model"):
        collect(adapter, _texts(2), token_offset=2, remote=True, progress=False)
    tl = adapter_from_hf(tiny_model("llama", len(tokenizer)), tokenizer, backend="transformer_lens", name="tl")
    with pytest.raises(InputError, match="backend='nnsight'"):
        collect(tl, _texts(2), token_offset=2, remote="local", progress=False)
    with pytest.raises(InputError, match="remote must be True"):
        collect(adapter, _texts(2), token_offset=2, remote="ndif", progress=False)


@pytest.mark.slow
def test_embedded_model_remote_local_equals_local(embedded):
    import workbench as wb

    model = adapter_from_hf(embedded.hf_model, embedded.tokenizer, backend="nnsight", name="gemma-3-270m")
    texts = list(wb.load_corpus("bundled").texts[:4])
    kw = {"token_offset": 10, "max_length": 96, "max_tokens_per_batch": 200, "progress": False}
    local = collect(model, texts, **kw)
    remote = collect(model, texts, remote="local", **kw)
    assert remote.info["n_batches"] == 2
    assert local.means.dtype == torch.float32 and len(local.layers) == 18
    torch.testing.assert_close(remote.means, local.means, rtol=1e-5, atol=1e-5)


KILL_SCRIPT = """
import sys, time
sys.path.insert(0, {tests!r})
from conftest import install_socket_guard
install_socket_guard()
from test_collect import _texts
from tiny import tiny_tokenizer, tiny_model
import workbench.collect.remote as remote
from workbench.collect import collect
from workbench.models import adapter_from_hf
tok = tiny_tokenizer()
adapter = adapter_from_hf(tiny_model("llama", len(tok)), tok, backend="nnsight", name="tiny-llama")
real, calls = remote.trace_batch, []
def counted(*args, **kwargs):
    calls.append(1)
    out = real(*args, **kwargs)
    time.sleep(float(sys.argv[2]))
    return out
remote.trace_batch = counted
acts = collect(adapter, _texts(12, seed=4), token_offset=3, max_tokens_per_batch=80, out=sys.argv[1],
               remote="local", progress=False)
print("traced", len(calls), "reused", acts.info["remote"]["batches_reused"], "batches", acts.info["n_batches"])
"""


@pytest.mark.slow
def test_kill_9_after_two_batches_then_resume(tmp_path):
    """SIGKILL once two batches are in the run folder; the rerun traces only the others, with identical means."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    from workbench.collect import StoryActivations

    script = tmp_path / "remote_collect.py"
    script.write_text(KILL_SCRIPT.format(tests=str(Path(__file__).parent)))

    def run(out, slow):
        return subprocess.Popen([sys.executable, str(script), str(out), str(slow)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    reference = run(tmp_path / "reference", 0)
    out, err = reference.communicate(timeout=300)
    assert reference.returncode == 0, err
    n_batches = int(out.split()[-1])
    assert n_batches >= 5
    proc = run(tmp_path / "resumed", 0.5)
    jobs = tmp_path / "resumed" / ".partial" / "remote" / "jobs.jsonl"
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if jobs.is_file() and jobs.read_text().count("\n") >= 2:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "resumed" / "manifest.json").exists()
    done = jobs.read_text().count("\n")
    assert done == 2
    final = run(tmp_path / "resumed", 0)
    out, err = final.communicate(timeout=300)
    assert final.returncode == 0, err
    assert out.split() == ["traced", str(n_batches - 2), "reused", "2", "batches", str(n_batches)]
    a, b = StoryActivations.load(tmp_path / "reference"), StoryActivations.load(tmp_path / "resumed")
    assert torch.equal(a.means, b.means) and torch.equal(a.n_tokens, b.n_tokens)


def test_cli_remote_local_writes_the_same_run_folder(tmp_path, tokenizer):
    import json

    from workbench.cli import main
    from workbench.collect import StoryActivations

    model_dir = tmp_path / "model"
    tiny_model("llama", len(tokenizer)).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("".join(json.dumps({"emotion": e, "topic": "t", "stories": _texts(3, seed=k)}) + "\n"
                              for k, e in enumerate(("calm", "sad"))))
    args = ["collect", "--model", str(model_dir), "--corpus", str(corpus), "--neutral", "none", "--token-offset", "3",
            "--dtype", "float32", "--max-tokens-per-batch", "80"]
    assert main([*args, "--out", str(tmp_path / "local")]) == 0
    assert main([*args, "--out", str(tmp_path / "remote"), "--remote", "local"]) == 0
    local, remote = StoryActivations.load(tmp_path / "local"), StoryActivations.load(tmp_path / "remote")
    torch.testing.assert_close(remote.means, local.means, rtol=1e-5, atol=1e-5)
    assert remote.info["remote"]["mode"] == "local" and "remote" not in local.info
    assert main([*args, "--out", str(tmp_path / "ndif"), "--remote"]) == 2  # a local folder is not on NDIF


def test_the_deployment_check_reads_ndif_status(monkeypatch):
    """A loopback stand-in for NDIF's /status: a model that is not RUNNING there is refused before submitting."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from workbench.models.ndif import check_remote_ready

    status = {"deployments": {
        "a": {"repo_id": "meta-llama/Llama-3.1-8B", "revision": "main", "application_state": "RUNNING"},
        "b": {"repo_id": "swiss-ai/Apertus-8B-Instruct-2509", "revision": "main", "application_state": "DEPLOYING"}}}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps(status).encode()
            self.send_response(200 if self.path == "/status" else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("NDIF_API_KEY", "not-a-real-key")
        monkeypatch.setenv("NDIF_HOST", f"http://127.0.0.1:{server.server_port}")
        assert check_remote_ready("meta-llama/llama-3.1-8b") == "not-a-real-key"
        with pytest.raises(RemoteUnavailableError, match=r"Apertus-8B-Instruct-2509 \(revision main\) is not "
                                                         r"deployed on NDIF .*running now: \['meta-llama/Llama-3.1-8B'\]"):
            check_remote_ready("swiss-ai/Apertus-8B-Instruct-2509")
        with pytest.raises(RemoteUnavailableError, match="revision v2"):
            check_remote_ready("meta-llama/Llama-3.1-8B", "v2")
    finally:
        server.shutdown()
        server.server_close()
