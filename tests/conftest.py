"""Test set-up: offline hub, a shared cache for the embedded model, tiny models built from real configs."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).parent))

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
GEMMA_CORPUS = SHARED / "corpora" / "gemma4-e4b-stories.jsonl"


@pytest.fixture(scope="session")
def tokenizer():
    from tiny import tiny_tokenizer

    return tiny_tokenizer()


@pytest.fixture(scope="session")
def embedded():
    """The embedded Gemma 3 270M in float32 (slow tests only)."""
    import workbench as wb

    return wb.load_model("gemma-3-270m", dtype="float32")


@pytest.fixture(scope="session")
def smollm2():
    """The embedded SmolLM2-135M-Instruct in float32 (slow tests only)."""
    import workbench as wb

    return wb.load_model("smollm2-135m-instruct", dtype="float32")


@pytest.fixture(scope="session")
def gemma_corpus_path():
    if not GEMMA_CORPUS.is_file():
        pytest.skip(f"the published Gemma story corpus is not at {GEMMA_CORPUS} (only in the project's workplace)")
    return GEMMA_CORPUS


# ---------------------------------------------------------------- offline guarantee: no network but loopback

class NetworkBlockedError(RuntimeError):
    """A test tried to reach a host outside loopback. Not an OSError on purpose: code that treats
    OSError as "hub unreachable" must not swallow it and carry on as if offline."""


BLOCKED_ATTEMPTS: list[str] = []  # every blocked attempt, even one some library caught and swallowed


def _loopback_host(host) -> bool:
    import ipaddress

    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host).strip("[]").split("%")[0]  # "[::1]" and scoped addresses
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False  # a name other than localhost: resolving it is already a network call
    mapped = getattr(ip, "ipv4_mapped", None)
    return ip.is_loopback or bool(mapped and mapped.is_loopback)


def _allowed(family, address) -> bool:
    import socket

    if family == getattr(socket, "AF_UNIX", None):
        return True
    if family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple) and address:
        return _loopback_host(address[0])
    return False


def install_socket_guard():
    """Make every socket connect outside loopback (127.0.0.0/8, ::1) and AF_UNIX raise, and every
    name lookup other than localhost too. Returns a function that undoes it. Subprocesses started by
    tests can call it too (``from conftest import install_socket_guard``)."""
    import socket

    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def refuse(what: str):
        BLOCKED_ATTEMPTS.append(what)
        raise NetworkBlockedError(f"network access is blocked in the tests: {what}")

    def connect(self, address):
        if not _allowed(self.family, address):
            refuse(f"connect to {address!r}")
        return real_connect(self, address)

    def connect_ex(self, address):
        if not _allowed(self.family, address):
            refuse(f"connect_ex to {address!r}")
        return real_connect_ex(self, address)

    def getaddrinfo(host, *args, **kwargs):
        if host not in (None, "", b"") and not _loopback_host(host):
            refuse(f"name lookup of {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo = connect, connect_ex, getaddrinfo

    def undo():
        socket.socket.connect, socket.socket.connect_ex = real_connect, real_connect_ex
        socket.getaddrinfo = real_getaddrinfo

    return undo


@pytest.fixture(autouse=True, scope="session")
def no_network():
    """Session-wide: the suite runs with the network blocked (a hub call anywhere fails loudly)."""
    undo = install_socket_guard()
    yield
    undo()


@pytest.fixture(autouse=True)
def no_swallowed_network_attempt(no_network):
    """Fail a test whose code tried the network even if some library caught the error."""
    BLOCKED_ATTEMPTS.clear()
    yield
    attempts, BLOCKED_ATTEMPTS[:] = list(BLOCKED_ATTEMPTS), []
    if attempts:
        pytest.fail(f"the test tried to reach the network ({len(attempts)} blocked): {attempts[:5]}")
