"""Where a collect puts each finished batch: in memory (no run folder), or straight into the run folder.

With a run folder, :class:`FileSink` writes every batch's rows into
``.partial/<file>`` (a :class:`~workbench.collect.store.RowFile`, laid out as the
finished ``activations.safetensors`` or ``shard.safetensors``) as the batch
finishes, and every ``checkpoint_every`` batches syncs it and records
``.partial/state.json`` (the collect key, the layout, the batches done). A rerun
with the same key reopens the file and continues after the last recorded batch:
nothing already computed is held in memory or computed again. A checkpoint of an
older workbench (``.partial/means.safetensors``, every mean in one file) is not
resumed: the collect starts again, and says so.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from workbench.collect.store import RowFile
from workbench.errors import RunFolderError
from workbench.io import atomic_write_json, read_json

__all__ = ["MemorySink", "FileSink", "LAYOUT"]

log = logging.getLogger(__name__)
LAYOUT = "rows-v1"  # the checkpoint layout of state.json: a RowFile filled in place
STATE = "state.json"
OLD_CHECKPOINT = "means.safetensors"  # every mean in one file, rewritten at each checkpoint (before rows-v1)


class MemorySink:
    """Every text's means and token norms in memory: ``[n_texts, layer, d_model]`` and ``[n_texts, layer]``."""

    start_batch = 0

    def __init__(self, n: int, n_layers: int, d_model: int):
        self.means = torch.zeros((n, n_layers, d_model), dtype=torch.float32)
        self.token_norms = torch.zeros((n, n_layers), dtype=torch.float32)

    def write(self, texts, means: torch.Tensor, norms: torch.Tensor) -> None:
        index = torch.as_tensor(list(texts), dtype=torch.long)
        self.means[index] = means
        self.token_norms[index] = norms

    def checkpoint(self, batches_done: int) -> None:
        pass


class FileSink:
    """The rows of texts ``texts`` (text indices, in the file's row order) written into ``folder / name``.

    ``fixed`` holds the file's int64 tensors (``n_tokens`` of those texts; ``rows`` for a shard).
    With ``resume``, a checkpoint of the same ``key`` and layout is continued (``start_batch``).
    """

    def __init__(self, folder: Path, name: str, texts, fixed: dict, n_layers: int, d_model: int, key: str,
                 resume: bool = True):
        self.folder, self.name, self.key = Path(folder), name, key
        self.row_of = {t: r for r, t in enumerate(texts)}
        self.start_batch = 0
        found = self._resumed(fixed, n_layers, d_model) if resume else None
        if found is None:
            (self.folder / STATE).unlink(missing_ok=True)  # no state may point at the new, empty file
            found = RowFile.create(self.folder / name, n_layers, d_model, fixed)
        self.file = found

    @property
    def path(self) -> Path:
        return self.file.path

    def _resumed(self, fixed, n_layers, d_model) -> RowFile | None:
        state_path = self.folder / STATE
        if not state_path.is_file():
            return None
        try:
            state = read_json(state_path)
        except RunFolderError as exc:
            log.warning("not resuming from %s (%s); collecting from the start", state_path, exc)
            return None
        state = state if isinstance(state, dict) else {}
        if state.get("key") != self.key:
            log.info("ignoring a checkpoint in %s made with other settings", self.folder.parent)
            return None
        if state.get("layout") != LAYOUT:
            old = " (every mean in .partial/means.safetensors)" if (self.folder / OLD_CHECKPOINT).is_file() else ""
            log.warning("the checkpoint in %s was written by an older workbench%s and is not resumed: collecting "
                        "from the start", self.folder.parent, old)
            (self.folder / OLD_CHECKPOINT).unlink(missing_ok=True)
            return None
        found = RowFile.reopen(self.folder / self.name, n_layers, d_model, fixed) if state.get("file") == self.name \
            else None
        if found is None:
            log.info("the checkpoint in %s is of another plan or shard; collecting from the start", self.folder.parent)
            return None
        self.start_batch = int(state["batches_done"])
        log.info("resuming %s at batch %d", self.folder.parent, self.start_batch)
        return found

    def write(self, texts, means: torch.Tensor, norms: torch.Tensor) -> None:
        self.file.write([self.row_of[t] for t in texts], means, norms)

    def checkpoint(self, batches_done: int) -> None:
        """Sync the rows written so far, then record that ``batches_done`` batches are in the file."""
        self.file.sync()
        atomic_write_json(self.folder / STATE, {"key": self.key, "layout": LAYOUT, "file": self.name,
                                                "batches_done": batches_done})

    def close(self) -> None:
        self.file.close()
