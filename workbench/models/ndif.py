"""NDIF through nnsight's remote execution: readiness checks, the meta model, and two measured backends.

``remote=True`` ships a trace to NDIF (``MeasuredRemote``: nnsight's
``RemoteBackend`` that also records the job id and the bytes of the result).
``remote="local"`` runs it through :class:`SimulatedNDIF`, a stricter form of
nnsight's ``LocalSimulationBackend``: the trace is serialized as for NDIF,
deserialized with every module a server lacks unimportable, executed from the
deserialized copy as the server would, and its result goes through
``torch.save``/``torch.load`` (whose size is recorded) before it reaches the
caller. nnsight's own simulation hides ``sys.path`` entries and ``sys.modules``
only, which an editable install defeats: its import hook finds the project
again, so a trace that needs project code the server does not have would pass.

Project code a trace calls must travel by value: :func:`ship_by_value`.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import io
import linecache
import os
import socket
import sys
import time
from urllib.parse import urlparse

import torch
from nnsight.tracing.backend import Backend

from workbench.errors import InputError, WorkbenchError

__all__ = ["RemoteUnavailableError", "SimulatedNDIF", "ship_by_value", "api_key",
           "check_remote_ready", "remote_backend", "SERVER_MODULES"]

# Top-level packages an NDIF server has (nnsight's LocalSimulationBackend list, plus its dependencies).
SERVER_MODULES = frozenset({"torch", "numpy", "transformers", "accelerate", "diffusers", "einops", "peft", "nnsight",
                            "safetensors", "tokenizers", "huggingface_hub", "cloudpickle", "greenlet", "pydantic",
                            "yaml", "packaging", "regex", "tqdm", "filelock", "fsspec", "typing_extensions",
                            "sympy", "jinja2", "markupsafe", "networkx", "mpmath", "zstandard"})
# Modules whose functions run inside a trace; shipped by value (their source travels with the request).
TRACE_MODULES = ("workbench.collect.pooling", "workbench.steer.steering", "workbench.steer.spans",
                 "workbench.steer.generation")


class RemoteUnavailableError(WorkbenchError):
    """NDIF cannot be used as asked: no API key, no reachable host, or the model is not deployed."""


def ship_by_value() -> None:
    """Register the project's in-trace modules so cloudpickle sends their source, not an import."""
    import importlib

    import nnsight

    for name in TRACE_MODULES:
        nnsight.register(importlib.import_module(name))


# ---------------------------------------------------------------- the local simulation

class _ServerOnlyImports(importlib.abc.MetaPathFinder):
    """Refuses to import any top-level package an NDIF server does not have."""

    def find_spec(self, name, path=None, target=None):
        root = name.split(".")[0]
        if root in SERVER_MODULES or root in sys.stdlib_module_names or root.startswith("_"):
            return None
        raise ModuleNotFoundError(f"No module named {name!r} on the simulated NDIF server (only installed "
                                  f"packages are; ship project code by value)", name=name)


@contextlib.contextmanager
def _as_on_server():
    """Modules outside :data:`SERVER_MODULES` removed from ``sys.modules`` and unimportable, inside the block."""
    hidden = {name: sys.modules.pop(name) for name in list(sys.modules)
              if name.split(".")[0] not in SERVER_MODULES and name.split(".")[0] not in sys.stdlib_module_names
              and not name.startswith("_") and name.split(".")[0] != "builtins"}
    finder = _ServerOnlyImports()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        sys.modules.update(hidden)


class _Recording(dict):
    """A frame's locals that remember what the trace pushed back (the saved values: what NDIF returns)."""

    pushed: dict

    def update(self, other=(), **kwargs):  # type: ignore[override]  # dict.update's overloads, one body
        self.pushed = {**dict(other), **kwargs}
        super().update(other, **kwargs)


class SimulatedNDIF(Backend):
    """``remote="local"`` made strict and measured; ``request_bytes`` and ``result_bytes`` after each call."""

    def __init__(self, model):
        self.model = model  # the nnsight model (an Envoy)
        self.request_bytes: int | None = None
        self.result_bytes: int | None = None
        self.returned: dict[str, int | None] | None = None  # name -> bytes of each saved tensor that came back
        self.job_id: str | None = None

    def __call__(self, tracer) -> None:
        from nnsight.ndif import pull_env
        from nnsight.schema.request import RequestModel
        from nnsight.tracing.tracer import save
        from nnsight.tracing.util import push

        pull_env()
        blob = RequestModel.serialize(tracer, compress=False)
        self.request_bytes = len(blob)
        self.job_id = f"local-{time.time_ns()}"
        filename = tracer.info.frame.f_code.co_filename
        saved_line = linecache.cache.get(filename)
        try:
            with _as_on_server():
                restored = RequestModel.deserialize(blob, self.model._remoteable_persistent_objects(), compress=False)
        finally:
            if saved_line is not None:
                linecache.cache[filename] = saved_line
            else:
                linecache.cache.pop(filename, None)
        frame = restored.info.frame
        frame.f_locals = _Recording(frame.f_locals)
        restored.execute(restored.info.code)
        buffer = io.BytesIO()
        pushed = getattr(frame.f_locals, "pushed", {})
        self.returned = {k: v.nbytes if isinstance(v, torch.Tensor) else None for k, v in sorted(pushed.items())}
        torch.save(pushed, buffer)
        self.result_bytes = buffer.getbuffer().nbytes
        result = torch.load(io.BytesIO(buffer.getvalue()), map_location="cpu", weights_only=False)
        for value in result.values():
            save(value)
        push(tracer.info.frame, result)


def _remote_backend_class():
    from nnsight.intervention.backends.remote import RemoteBackend

    class MeasuredRemote(RemoteBackend):
        """nnsight's blocking ``RemoteBackend`` that keeps the job id and the size of the result it downloaded."""

        request_bytes: int | None = None
        result_bytes: int | None = None
        returned: dict[str, int | None] | None = None

        def _post(self, request, blob):
            self.request_bytes = len(blob)
            response = super()._post(request, blob)
            self.job_id = response.id
            return response

        def finalize(self, content: bytes):
            self.result_bytes = len(content)
            result = super().finalize(content)
            self.returned = {k: v.nbytes if isinstance(v, torch.Tensor) else None for k, v in sorted(result.items())}
            return result

    return MeasuredRemote


# ---------------------------------------------------------------- before submitting

def api_key() -> str | None:
    """The NDIF API key: ``NDIF_API_KEY``, else nnsight's config (``nnsight login``). Never a run-folder file."""
    key = os.environ.get("NDIF_API_KEY")
    if key:
        return key
    from nnsight.schema.config import CONFIG

    return CONFIG.API.APIKEY or None


def _host() -> str:
    from nnsight.schema.config import CONFIG

    return os.environ.get("NDIF_HOST") or CONFIG.API.HOST


def _reachable(host: str, timeout: float) -> None:
    url = urlparse(host)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise InputError(f"NDIF host {host!r} is not an http(s) URL (set NDIF_HOST or nnsight's config)")
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname, port), timeout=timeout):
            pass
    except OSError as exc:
        raise RemoteUnavailableError(f"NDIF host {host} is not reachable ({exc.strerror or exc}); nothing was "
                                     "submitted. Check the network, or use remote='local' (--remote local) to "
                                     "simulate the remote run on this machine") from None


def check_remote_ready(repo_id: str, revision: str | None = None, timeout: float = 5.0) -> str:
    """Raise :class:`RemoteUnavailableError` unless a key is set, NDIF answers and ``repo_id`` is RUNNING there.

    The deployment check reads NDIF's ``/status`` (what ``nnsight.is_model_running`` reads, without its
    hub look-up of the canonical repo id). Returns the key.
    """
    key = api_key()
    if not key:
        raise RemoteUnavailableError("no NDIF API key: set NDIF_API_KEY or run `nnsight login` (keys are never "
                                     "read from a run folder); get one at https://login.ndif.us")
    host = _host()
    _reachable(host, timeout)
    import httpx

    try:
        response = httpx.get(f"{host.rstrip('/')}/status", timeout=httpx.Timeout(timeout, read=30.0))
        response.raise_for_status()
        deployments = response.json().get("deployments", {})
    except Exception as exc:  # an HTTP error or a malformed answer: NDIF cannot be used now
        raise RemoteUnavailableError(f"NDIF at {host} did not report its models ({exc})") from None
    running = sorted({d.get("repo_id", "?") for d in deployments.values() if d.get("application_state") == "RUNNING"})
    wanted = (revision or "main")
    for d in deployments.values():
        if (str(d.get("repo_id", "")).lower() == repo_id.lower() and (d.get("revision") or "main") == wanted
                and d.get("application_state") == "RUNNING"):
            return key
    raise RemoteUnavailableError(f"{repo_id} (revision {wanted}) is not deployed on NDIF at {host}; running now: "
                                 f"{running or 'none'}. Nothing was submitted")


def remote_backend(model, remote, api_key_value: str | None = None):
    """The backend of one trace: :class:`SimulatedNDIF` for ``"local"``, a ``MeasuredRemote`` for ``True``."""
    if remote == "local":
        return SimulatedNDIF(model)
    if remote is True:
        return _remote_backend_class()(model.to_model_key(), host=_host(), api_key=api_key_value, blocking=True)
    raise InputError(f"remote must be True (NDIF) or 'local' (simulated here), got {remote!r}")
