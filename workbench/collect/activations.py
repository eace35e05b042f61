"""``StoryActivations``: per-text mean ``resid_post`` at every layer, with save and load."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from workbench.collect.store import MeansFile
from workbench.errors import RunFolderError
from workbench.io import json_bytes, jsonl_lines, safetensors_writer, sha256_file, staged_writes
from workbench.runfolder import FORMAT_VERSION, MANIFEST_FILE, damaged
from workbench.runfolder.manifest import collect_section

__all__ = ["StoryActivations", "FORMAT_VERSION", "write_run_folder"]

TENSORS_FILE = "activations.safetensors"
TEXTS_FILE = "texts.jsonl"


@dataclass(frozen=True, eq=False)
class StoryActivations:
    """Mean residual stream of each text at each layer.

    ``means[i, j]`` is the fp32 mean of ``resid_post`` of block ``layers[j]``
    over the tokens of text ``i`` at positions ``>= token_offset`` (padding and
    BOS never pooled); ``n_tokens[i]`` is how many tokens that mean covers.
    ``meta[i]`` describes text ``i`` (``emotion``, ``topic``, ``story``, ``kind``:
    ``"story"`` or ``"neutral"``). ``params`` holds the collect settings and
    ``spec`` the model spec, so the numbers can be reproduced.

    ``token_norms[i, j]`` is the fp32 mean, over the same pooled tokens, of each
    token's L2 norm at ``layers[j]`` (the typical per-token norm that calibrates
    steering, METHOD.md section 6); ``None`` for a run collected before it existed.

    Loaded from a run folder, ``means`` is memory-mapped from ``activations.safetensors``
    and ``means_file`` reads the same rows without mapping them (:meth:`iter_means`), so a
    corpus larger than memory loads; selecting a contiguous range of texts (``stories`` and
    ``neutral`` of a collect) keeps it so.
    """

    means: torch.Tensor  # float32 [n_texts, n_layers, d_model]
    n_tokens: torch.Tensor  # int64 [n_texts]
    layers: tuple[int, ...]
    meta: tuple[dict, ...]
    spec: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)  # timings, versions, corpus sha256, skipped texts
    token_norms: torch.Tensor | None = None  # float32 [n_texts, n_layers]
    means_file: MeansFile | None = field(default=None, repr=False)  # the file ``means`` is mapped from

    def __post_init__(self):
        if self.means.ndim != 3:
            raise ValueError(f"means must be [n_texts, n_layers, d_model], got shape {tuple(self.means.shape)}")
        n, n_layers, _ = self.means.shape
        if self.n_tokens.shape != (n,):
            raise ValueError(f"n_tokens has shape {tuple(self.n_tokens.shape)}, expected ({n},)")
        if len(self.layers) != n_layers:
            raise ValueError(f"{len(self.layers)} layer indices for {n_layers} layers in means")
        if len(self.meta) != n:
            raise ValueError(f"{len(self.meta)} meta rows for {n} texts")
        if self.token_norms is not None and tuple(self.token_norms.shape) != (n, n_layers):
            raise ValueError(f"token_norms has shape {tuple(self.token_norms.shape)}, expected ({n}, {n_layers})")

    def _repr_html_(self) -> str:
        """A small table, shown when the object ends a Jupyter cell."""
        from workbench.display import activations_html

        return activations_html(self)

    def __len__(self) -> int:
        return self.means.shape[0]

    @property
    def d_model(self) -> int:
        return self.means.shape[2]

    @property
    def emotions(self) -> tuple[str | None, ...]:
        """The emotion of each text (``None`` for neutral texts)."""
        return tuple(m.get("emotion") for m in self.meta)

    def of_kind(self, kind: str) -> StoryActivations | None:
        """The texts whose meta ``kind`` is ``kind`` (``None`` when there are none)."""
        keep = [m.get("kind") == kind for m in self.meta]
        return self.select(keep) if any(keep) else None

    @property
    def stories(self) -> StoryActivations | None:
        return self.of_kind("story")

    @property
    def neutral(self) -> StoryActivations | None:
        return self.of_kind("neutral")

    def iter_means(self, max_bytes: int | None = None):
        """``(start, means[start:start + k])`` over every text in order, ``k`` texts of at most ``max_bytes``
        at a time: read from the run folder's file when the means are memory-mapped (rows read so do not stay
        in memory; each chunk reuses one buffer, so copy what you keep), else slices of ``means``."""
        from workbench.collect import store

        max_bytes = store.CHUNK_BYTES if max_bytes is None else max_bytes
        if self.means_file is not None and self.means_file.serves(self.means):
            yield from self.means_file.chunks(max_bytes)
            return
        step = max(1, max_bytes // max(1, 4 * self.means.shape[1] * self.means.shape[2]))
        for start in range(0, len(self), step):
            yield start, self.means[start:start + step]

    def select(self, mask) -> StoryActivations:
        """The texts where ``mask`` (a sequence of bools or indices) holds."""
        idx = torch.as_tensor(mask)
        if idx.dtype == torch.bool:
            idx = torch.nonzero(idx).flatten()
        rows = idx.tolist()
        mf = self.means_file
        if mf is not None and mf.serves(self.means) and rows and rows == list(range(rows[0], rows[-1] + 1)):
            a, b = rows[0], rows[-1] + 1  # a range of a memory-mapped run: views, nothing read
            return StoryActivations(self.means[a:b], self.n_tokens[a:b], self.layers, self.meta[a:b], self.spec,
                                    self.params, self.info, None if self.token_norms is None else self.token_norms[a:b],
                                    mf.view(a, b))
        return StoryActivations(self.means[idx], self.n_tokens[idx], self.layers,
                                tuple(self.meta[i] for i in rows), self.spec, self.params, self.info,
                                None if self.token_norms is None else self.token_norms[idx])

    # ---- persistence -------------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """Write ``activations.safetensors``, ``texts.jsonl`` and, last, ``manifest.json``."""
        from workbench.runfolder import mark_run_folder, run_lock

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        with run_lock(directory):
            mark_run_folder(directory)
            self._save(directory)
        return directory

    def _save(self, directory: Path) -> None:
        tensors = {"means": self.means, "n_tokens": self.n_tokens}
        if self.token_norms is not None:
            tensors["token_norms"] = self.token_norms
        _write_files(directory, safetensors_writer(tensors), self.meta, {
            "n_texts": len(self), "layers": list(self.layers), "d_model": self.d_model,
            "token_norms": self.token_norms is not None, "model": self.spec, "params": self.params, "info": self.info})

    @classmethod
    def load(cls, directory: str | Path) -> StoryActivations:
        directory = Path(directory)
        section = collect_section(directory)
        with damaged(directory / MANIFEST_FILE, "collect again"):
            return cls._load(directory, section)

    @classmethod
    def _load(cls, directory: Path, section: dict, verify: bool = True, meta=None) -> StoryActivations:
        """The folder's activations, the means memory-mapped; ``verify=False`` skips the sha256 checks and
        ``meta`` the reading of ``texts.jsonl`` (for the folder a collect has just written)."""
        if not isinstance(section, dict):
            raise TypeError(f"its collect section is a {type(section).__name__}")
        for name in (TENSORS_FILE, TEXTS_FILE):
            if not (directory / name).is_file():
                raise RunFolderError(f"{directory} lacks {name}; collect again")
            expected = (section.get("sha256") or {}).get(name)  # older collects recorded none
            if verify and expected is not None and sha256_file(directory / name) != expected:
                raise RunFolderError(f"{directory / name} does not match {directory / MANIFEST_FILE} (sha256 differs): "
                                     "a save was interrupted or the file was changed; collect again")
        try:
            tensors = load_file(directory / TENSORS_FILE)  # memory-mapped: pages are read as they are used
        except (SafetensorError, OSError) as exc:
            raise RunFolderError(f"{directory / TENSORS_FILE} cannot be read ({exc}); collect again") from None
        mapped = _means_file(directory / TENSORS_FILE, tensors)
        meta = _read_meta(directory / TEXTS_FILE) if meta is None else list(meta)
        return cls._checked(directory, section, tensors, meta, mapped)

    @classmethod
    def _checked(cls, directory: Path, section: dict, tensors: dict, meta: list, mapped=None) -> StoryActivations:
        where = directory / TENSORS_FILE
        if {"means", "n_tokens"} - set(tensors):
            raise RunFolderError(f"{where} lacks {sorted({'means', 'n_tokens'} - set(tensors))}; collect again")
        means, layers = tensors["means"], tuple(section.get("layers", ()))
        expected = (section.get("n_texts"), len(layers), section.get("d_model"))
        if means.ndim != 3 or tuple(means.shape) != expected or tuple(tensors["n_tokens"].shape) != expected[:1]:
            raise RunFolderError(f"{where}: means of shape {tuple(means.shape)}, but {directory / MANIFEST_FILE} "
                                 f"says {expected} (texts, layers, d_model); collect again")
        if len(meta) != expected[0]:
            raise RunFolderError(f"{directory / TEXTS_FILE}: {len(meta)} rows for {expected[0]} texts; collect again")
        norms = tensors.get("token_norms")
        if norms is not None and tuple(norms.shape) != expected[:2]:
            raise RunFolderError(f"{where}: token_norms of shape {tuple(norms.shape)}, expected {expected[:2]} "
                                 "(texts, layers); collect again")
        return cls(means, tensors["n_tokens"], layers, tuple(meta),
                   section.get("model", {}), section.get("params", {}), section.get("info", {}), norms, mapped)


def _means_file(path: Path, tensors: dict) -> MeansFile | None:
    """The rows of ``tensors["means"]`` (memory-mapped from ``path``) to stream; None for means that are not
    fp32 ``[texts, layers, d_model]`` (they are checked, and refused, by ``_checked``)."""
    if "means" not in tensors:
        return None
    try:
        return MeansFile.open(path).bind(tensors["means"])
    except (OSError, ValueError, KeyError):
        return None


def _write_files(directory: Path, tensors, meta, section: dict) -> dict:
    """Stage ``activations.safetensors`` (a writer, or the Path of a finished file), ``texts.jsonl`` and, last,
    ``manifest.json`` (its collect section: ``section`` and the files' sha256); returns that section."""
    lines = "".join(json.dumps({"index": i, **m}, ensure_ascii=False) + "\n" for i, m in enumerate(meta))
    # A new collect makes any later stage in this folder stale: the manifest holds only "collect".
    # All three files are staged before any is renamed, the manifest last; the artefacts' sha256 let
    # load() tell a save interrupted between two renames from a finished one.
    with staged_writes() as stage:
        digests = {TENSORS_FILE: stage(directory / TENSORS_FILE, tensors),
                   TEXTS_FILE: stage(directory / TEXTS_FILE, lines.encode("utf-8"))}
        section = {**section, "sha256": digests}
        stage(directory / MANIFEST_FILE, json_bytes({"format_version": FORMAT_VERSION, "collect": section}))
    return section


def write_run_folder(directory: str | Path, data_file: Path, meta, *, layers, spec: dict, params: dict,
                     info: dict) -> StoryActivations:
    """A run folder whose activations are the finished file ``data_file`` (written by
    :class:`~workbench.collect.store.RowFile`; hard-linked into place, not read into memory), and
    the result read back memory-mapped."""
    from workbench.runfolder import mark_run_folder, run_lock

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    mapped = MeansFile.open(data_file)
    n, d_model = mapped.n_rows, mapped.row_shape[1]
    with run_lock(directory):
        mark_run_folder(directory)
        section = _write_files(directory, Path(data_file), meta, {
            "n_texts": n, "layers": list(layers), "d_model": d_model, "token_norms": True, "model": spec,
            "params": params, "info": info})
    return StoryActivations._load(directory, section, verify=False, meta=meta)


def _read_meta(path: Path) -> list[dict]:
    """The rows of ``texts.jsonl`` (without their ``index``); a malformed row names the file and line."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RunFolderError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    meta = []
    for line, row in enumerate(jsonl_lines(text), start=1):
        try:
            item = json.loads(row)
        except json.JSONDecodeError as exc:
            raise RunFolderError(f"{path}, line {line}: malformed JSON ({exc.msg}); collect again") from None
        if not isinstance(item, dict) or item.pop("index", line - 1) != line - 1:
            raise RunFolderError(f"{path}, line {line}: expected the JSON object of text {line - 1} "
                                 f"(with \"index\": {line - 1}); collect again")
        meta.append(item)
    return meta
