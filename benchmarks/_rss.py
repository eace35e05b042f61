"""Peak resident memory of this process while a block of code runs (sampled from /proc)."""

from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager

_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * _PAGE / 2**20


@contextmanager
def peak_rss(interval: float = 0.005):
    """Yields a dict whose ``peak_mb`` is the highest RSS seen while the block ran."""
    result = {"start_mb": rss_mb(), "peak_mb": rss_mb()}
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            result["peak_mb"] = max(result["peak_mb"], rss_mb())
            time.sleep(interval)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield result
    finally:
        stop.set()
        thread.join()
        result["peak_mb"] = max(result["peak_mb"], rss_mb())
