"""Running the analysis' many small kernels single-threaded.

torch (OpenMP) and numpy (OpenBLAS) parallelize each kernel over spinning
threads. On a shared machine whose cores are partly taken, a small kernel then
waits for a descheduled thread: measured here, a batch of 171 x 171 ``eigh``
took 0.4 s in one call and 28 s in the next. The analysis parallelizes over
layers itself (:mod:`workbench.analysis.bootstrap`) and runs every library with
one thread inside this context manager, which restores the previous settings.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
from threadpoolctl import threadpool_limits

__all__ = ["single_threaded"]


@contextmanager
def single_threaded():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            yield
    finally:
        torch.set_num_threads(old)
