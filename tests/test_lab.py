"""``make lab``: JupyterLab starts on the project, serves /lab and lists the notebooks; then it is stopped.

The command is the Makefile's (``WORKBENCH_LAB_CMD``, set by ``make test-lab``; else the same command
with this Python), started headless on a free loopback port with a token. Skipped when JupyterLab is
not installed, unless ``WORKBENCH_REQUIRE_LAB=1`` (then it fails).
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CMD = f"{shlex.quote(sys.executable)} -m jupyterlab --ServerApp.root_dir=. --ServerApp.default_url=/lab/tree/notebooks"


def _have_lab() -> bool:
    import importlib.util

    return importlib.util.find_spec("jupyterlab") is not None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 10.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture
def lab(tmp_path):
    if not _have_lab():
        if os.environ.get("WORKBENCH_REQUIRE_LAB") == "1":
            pytest.fail("JupyterLab is not installed (make lab-install installs the [lab] extra)")
        pytest.skip("JupyterLab is not installed (pip install -e '.[lab]', or make lab-install)")
    port, token = _free_port(), secrets.token_hex(16)
    cmd = shlex.split(os.environ.get("WORKBENCH_LAB_CMD") or DEFAULT_CMD) + [
        "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly"]
    if os.geteuid() == 0 and "--allow-root" not in cmd:  # containers run as root; the Makefile adds it too
        cmd.append("--allow-root")
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"), HF_HUB_OFFLINE="1",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    log = open(tmp_path / "lab.log", "wb")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(f"JupyterLab exited with {proc.returncode}: {(tmp_path / 'lab.log').read_text()[-2000:]}")
            try:
                if _get(f"{base}/api/status?token={token}", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not answer in 90 s: {(tmp_path / 'lab.log').read_text()[-2000:]}")
            time.sleep(0.5)
        yield base, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_lab_serves_the_notebooks(lab):
    base, token = lab
    status, page = _get(f"{base}/lab?token={token}")
    assert status == 200 and b"<title>JupyterLab</title>" in page
    assert _get(f"{base}/api/contents/notebooks")[0] == 403  # nothing without the token
    status, body = _get(f"{base}/api/contents/notebooks?token={token}")
    assert status == 200
    listed = {item["name"] for item in json.loads(body)["content"]}
    expected = {p.name for p in (ROOT / "notebooks").glob("*.ipynb")}
    assert len(expected) >= 3 and expected <= listed
    status, body = _get(f"{base}/api/kernelspecs?token={token}")
    specs = json.loads(body)
    assert status == 200 and specs["default"] in specs["kernelspecs"]
