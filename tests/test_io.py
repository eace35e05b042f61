"""Files written atomically get the permissions of a plainly created file, not mkstemp's 0o600."""

from __future__ import annotations

import os
import stat

from workbench.io import atomic_write_bytes, staged_writes


def test_atomic_and_staged_writes_respect_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        plain = tmp_path / "plain.txt"
        plain.write_bytes(b"x")  # what open() gives under this umask
        atomic_write_bytes(tmp_path / "report.html", b"<html></html>")
        with staged_writes() as stage:
            stage(tmp_path / "a.csv", b"1\n")
            stage(tmp_path / "manifest.json", b"{}\n")
    finally:
        os.umask(old)
    want = stat.S_IMODE(plain.stat().st_mode)
    assert want == 0o640
    for name in ("report.html", "a.csv", "manifest.json"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == want, name
    assert (tmp_path / "report.html").read_bytes() == b"<html></html>"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
