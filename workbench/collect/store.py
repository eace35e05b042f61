"""Per-text means on disk: written row by row as batches finish, read back in bounded chunks.

A collect into a run folder never holds every text's means. :class:`RowFile`
preallocates a safetensors file (``means`` fp32 ``[n, layer, d_model]``,
``token_norms`` fp32 ``[n, layer]``, and the int64 tensors known before any batch
runs: ``n_tokens`` and, for a shard, ``rows``) and writes each finished batch's
rows into it in place. The finished file is byte for byte what
``StoryActivations.save`` writes, so a run folder reads the same however it was
made (and folders written before this module existed read as they did).

:class:`MeansFile` reads rows back with plain file reads from a descriptor held
open: unlike the pages of a memory map, rows read that way do not stay in the
process's resident memory, so a pass over every story (the analysis's
emotion means) costs one chunk of memory, whatever the corpus size.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch

from workbench.io import safetensors_layout

__all__ = ["RowFile", "MeansFile", "CHUNK_BYTES"]

CHUNK_BYTES = 16 << 20  # rows read at a time by a streaming pass (16 MiB: 360 texts of 18 x 640)


def _specs(n: int, n_layers: int, d_model: int, fixed: dict) -> dict:
    specs = {"means": ("float32", (n, n_layers, d_model)), "token_norms": ("float32", (n, n_layers))}
    specs.update({name: (str(t.dtype).removeprefix("torch."), tuple(t.shape)) for name, t in fixed.items()})
    return specs


def _read_into(fd: int, view: memoryview, offset: int) -> None:
    done = 0
    while done < len(view):
        got = os.preadv(fd, [view[done:]], offset + done)
        if got == 0:
            raise OSError(f"unexpected end of file at byte {offset + done}")
        done += got


def _pread(fd: int, nbytes: int, offset: int) -> bytearray:
    buf = bytearray(nbytes)
    _read_into(fd, memoryview(buf), offset)
    return buf


class RowFile:
    """A safetensors file of ``n`` texts' means and token norms, filled in place, row by row."""

    def __init__(self, path: Path, fh, head: bytes, where: dict, shape: tuple[int, int, int]):
        self.path, self._fh, self._head, self._where, self.shape = path, fh, head, where, shape

    @classmethod
    def create(cls, path: str | Path, n_layers: int, d_model: int, fixed: dict) -> RowFile:
        """A new file (any file at ``path`` is replaced) with ``fixed`` (name -> int64 tensor of ``n`` rows)
        written and every mean 0 until written."""
        path = Path(path)
        n = len(fixed["n_tokens"])
        head, where = safetensors_layout(_specs(n, n_layers, d_model, fixed))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)  # a new inode: a finished run folder may hold a hard link to the old one
        fh = open(path, "w+b")
        fh.write(head)
        fh.truncate(max(stop for _, stop in where.values()))
        for name, t in fixed.items():
            os.pwrite(fh.fileno(), t.contiguous().numpy().tobytes(), where[name][0])
        return cls(path, fh, head, where, (n, n_layers, d_model))

    @classmethod
    def reopen(cls, path: str | Path, n_layers: int, d_model: int, fixed: dict) -> RowFile | None:
        """The file at ``path`` to go on filling, when its layout and fixed tensors are exactly those
        given (a checkpoint of the same plan); else None."""
        path = Path(path)
        n = len(fixed["n_tokens"])
        head, where = safetensors_layout(_specs(n, n_layers, d_model, fixed))
        if not path.is_file() or path.stat().st_size != max(stop for _, stop in where.values()):
            return None
        fh = open(path, "r+b")
        same = _pread(fh.fileno(), len(head), 0) == head and all(
            _pread(fh.fileno(), where[name][1] - where[name][0], where[name][0]) == t.contiguous().numpy().tobytes()
            for name, t in fixed.items())
        if not same:
            fh.close()
            return None
        return cls(path, fh, head, where, (n, n_layers, d_model))

    def write(self, rows, means: torch.Tensor, norms: torch.Tensor) -> None:
        """Rows ``rows`` (file row indices) get ``means [len(rows), layer, d_model]`` and ``norms [len(rows), layer]``."""
        fd, (_, n_layers, d_model) = self._fh.fileno(), self.shape
        m = means.detach().to(torch.float32).contiguous().numpy()
        t = norms.detach().to(torch.float32).contiguous().numpy()
        for k, row in enumerate(rows):
            os.pwrite(fd, m[k].tobytes(), self._where["means"][0] + row * n_layers * d_model * 4)
            os.pwrite(fd, t[k].tobytes(), self._where["token_norms"][0] + row * n_layers * 4)

    def sync(self) -> None:
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()


class MeansFile:
    """The ``means`` of a safetensors file, read by rows through a descriptor held open (the file as it was
    when opened, even if a later collect replaces the path). ``first``: the row this view starts at;
    ``ptr``: the address of that row in the memory-mapped tensor it stands for (see :meth:`serves`)."""

    def __init__(self, fh, offset: int, n_rows: int, row_shape: tuple[int, int], first: int = 0,
                 ptr: int | None = None):
        self._fh, self._offset, self.n_rows, self.row_shape, self.first = fh, offset, n_rows, row_shape, first
        self.ptr = ptr

    def bind(self, means: torch.Tensor) -> MeansFile:
        """This file, standing for ``means`` (the tensor memory-mapped from it)."""
        return MeansFile(self._fh, self._offset, self.n_rows, self.row_shape, self.first, means.data_ptr())

    def serves(self, means: torch.Tensor) -> bool:
        """Whether ``means`` is the tensor this file stands for (not another one put in its place)."""
        return (self.ptr is not None and means.data_ptr() == self.ptr
                and tuple(means.shape) == (self.n_rows, *self.row_shape) and means.dtype == torch.float32)

    @classmethod
    def open(cls, path: str | Path) -> MeansFile:
        fh = open(path, "rb")
        size = int.from_bytes(_pread(fh.fileno(), 8, 0), "little")
        entry = json.loads(bytes(_pread(fh.fileno(), size, 8)))["means"]
        if entry["dtype"] != "F32" or len(entry["shape"]) != 3:
            fh.close()
            raise ValueError(f"means are {entry['dtype']} of shape {entry['shape']}, not F32 [texts, layers, d_model]")
        n, n_layers, d_model = entry["shape"]
        return cls(fh, 8 + size + entry["data_offsets"][0], n, (n_layers, d_model))

    def view(self, start: int, stop: int) -> MeansFile:
        """Rows ``start:stop`` of this view."""
        ptr = None if self.ptr is None else self.ptr + start * self.row_bytes
        return MeansFile(self._fh, self._offset, stop - start, self.row_shape, self.first + start, ptr)

    @property
    def row_bytes(self) -> int:
        return self.row_shape[0] * self.row_shape[1] * 4

    def read(self, start: int, stop: int) -> torch.Tensor:
        """Rows ``start:stop`` of this view as a new fp32 tensor ``[stop - start, layer, d_model]``."""
        if not 0 <= start <= stop <= self.n_rows:
            raise IndexError(f"rows {start}:{stop} of {self.n_rows}")
        buf = _pread(self._fh.fileno(), (stop - start) * self.row_bytes,
                     self._offset + (self.first + start) * self.row_bytes)
        return torch.from_numpy(np.frombuffer(buf, dtype=np.float32).reshape(stop - start, *self.row_shape))

    def chunks(self, max_bytes: int | None = None):
        """``(start, rows start:start + k)`` over the whole view, ``k`` rows of at most ``max_bytes``.

        Every chunk is read into the same buffer (one allocation for the whole pass): a chunk is valid
        until the next one is read; copy what is kept."""
        if self.n_rows == 0:
            return
        step = min(self.n_rows, max(1, (CHUNK_BYTES if max_bytes is None else max_bytes) // self.row_bytes))
        buf = torch.empty((step, *self.row_shape), dtype=torch.float32)
        raw = memoryview(buf.numpy()).cast("B")
        for start in range(0, self.n_rows, step):
            k = min(step, self.n_rows - start)
            _read_into(self._fh.fileno(), raw[:k * self.row_bytes], self._offset + (self.first + start) * self.row_bytes)
            yield start, buf[:k]
