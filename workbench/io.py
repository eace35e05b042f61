"""Atomic file writes: an artefact is written under a temporary name and renamed.

A run folder's ``manifest.json`` is written last and records the sha256 of the
artefacts it describes, so a folder without one (or whose artefacts do not
match it: a save interrupted between two renames) is never read as complete.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import stat
import tempfile
from pathlib import Path

__all__ = ["atomic_write_bytes", "atomic_write_text", "atomic_write_json", "staged_writes", "safetensors_writer",
           "safetensors_layout", "json_bytes", "read_json", "read_text", "iter_jsonl",
           "iter_json_objects", "text_field", "jsonl_lines", "file_problem", "special_kind", "sha256_file",
           "sha256_of_file"]


def _file_mode() -> int:
    """The mode a plainly created file gets (0o666 less the umask); mkstemp's own is 0o600."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def _write_error(path: Path, exc: OSError):
    from workbench.errors import WriteError

    return WriteError(f"{path} cannot be written: {exc.strerror or exc} (a full disk, a read-only folder or "
                      "no permission?); the file that was there, if any, is unchanged")


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    path = Path(path)
    try:
        return _atomic_write_bytes(path, data)
    except OSError as exc:
        raise _write_error(path, exc) from exc


def _atomic_write_bytes(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, _file_mode())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


@contextlib.contextmanager
def staged_writes():
    """Write several files as one step, as far as a file system allows.

    Yields ``stage(path, data)``: ``data`` (bytes, a function that writes to an open binary file
    and returns the sha256 of what it wrote, or the :class:`~pathlib.Path` of a finished file, which
    is hard-linked, or copied where links are not allowed) goes to a temporary name next to ``path``
    and is fsynced; ``stage`` returns its sha256. When the block ends without error, the files are
    renamed onto their paths in the order they were staged (stage the manifest last); when it
    fails, the temporary files are removed, so a failure while writing (a full disk, a read-only
    folder) leaves every previous file intact.
    """
    staged: list[tuple[str, Path]] = []

    def stage(path: str | Path, data) -> str:
        path = Path(path)
        try:
            return _stage(path, data)
        except OSError as exc:
            raise _write_error(path, exc) from exc

    def _stage(path: Path, data) -> str:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.chmod(tmp, _file_mode())
        staged.append((tmp, path))
        if isinstance(data, Path):
            os.close(fd)
            _link_or_copy(data, Path(tmp))
            return sha256_file(tmp)
        with os.fdopen(fd, "wb") as fh:
            if callable(data):
                digest = data(fh)
            else:
                fh.write(data)
                digest = hashlib.sha256(data).hexdigest()
            fh.flush()
            os.fsync(fh.fileno())
        return digest

    try:
        yield stage
        while staged:
            tmp, path = staged[0]
            try:
                os.replace(tmp, path)
            except OSError as exc:
                raise _write_error(path, exc) from exc
            staged.pop(0)
    finally:
        for tmp, _ in staged:
            Path(tmp).unlink(missing_ok=True)


def _link_or_copy(source: Path, target: Path) -> None:
    """``target`` (an existing temporary file, replaced) becomes a hard link to ``source``, or a copy of it."""
    import shutil

    target.unlink()
    try:
        os.link(source, target)
    except OSError:  # a file system without hard links: copy, 1 MiB at a time
        shutil.copyfile(source, target)
        os.chmod(target, _file_mode())
        with open(target, "rb+") as fh:
            os.fsync(fh.fileno())


_SAFETENSORS_DTYPES = {"float64": "F64", "float32": "F32", "bfloat16": "BF16", "float16": "F16", "int64": "I64",
                       "int32": "I32", "int16": "I16", "int8": "I8", "uint8": "U8", "bool": "BOOL"}
# safetensors stores tensors by dtype, in the reverse of this order (its Dtype enum), then by name
_SAFETENSORS_ORDER = ("BOOL", "U8", "I8", "I16", "F16", "BF16", "I32", "F32", "F64", "I64")
_ITEMSIZE = {"F64": 8, "F32": 4, "BF16": 2, "F16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}


def safetensors_layout(specs, metadata: dict | None = None) -> tuple[bytes, dict[str, tuple[int, int]]]:
    """The safetensors header of tensors ``specs`` (``{name: (dtype name, shape)}``, e.g.
    ``("float32", (n, 18, 640))``) and where each tensor's data lies in the file:
    ``(8-byte length + header, {name: (start, stop)})``, offsets counted from the file's start."""
    items = sorted(specs.items(), key=lambda item: (-_SAFETENSORS_ORDER.index(_SAFETENSORS_DTYPES[item[1][0]]),
                                                    item[0]))
    header: dict = {"__metadata__": metadata} if metadata else {}
    offset = 0
    sizes = {}
    for name, (dtype, shape) in items:
        count = 1
        for n in shape:
            count *= int(n)
        size = count * _ITEMSIZE[_SAFETENSORS_DTYPES[dtype]]
        header[name] = {"dtype": _SAFETENSORS_DTYPES[dtype], "shape": [int(n) for n in shape],
                        "data_offsets": [offset, offset + size]}
        sizes[name] = (offset, offset + size)
        offset += size
    head = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    head += b" " * (-len(head) % 8)
    head = len(head).to_bytes(8, "little") + head
    return head, {name: (len(head) + a, len(head) + b) for name, (a, b) in sizes.items()}


def safetensors_writer(tensors: dict, metadata: dict | None = None):
    """A function that writes ``tensors`` (CPU torch tensors) in the safetensors format to an open
    binary file and returns the sha256 of what it wrote, for :func:`staged_writes`.

    The bytes are those of ``safetensors.torch.save``, but the data goes to the file straight from
    the tensors' memory: ``save`` builds the file in memory first and holds two copies of the data
    at its peak, which for the activations of a large corpus is the largest allocation of a collect.
    """
    import torch

    tensors = {name: t.detach().contiguous() for name, t in tensors.items()}
    head, where = safetensors_layout({name: (str(t.dtype).removeprefix("torch."), tuple(t.shape))
                                      for name, t in tensors.items()}, metadata)
    order = sorted(where, key=lambda name: where[name][0])

    def write(fh) -> str:
        digest = hashlib.sha256()
        fh.write(head)
        digest.update(head)
        for name in order:
            t = tensors[name]
            if t.numel():
                view = memoryview(t.reshape(-1).view(torch.uint8).numpy())
                fh.write(view)
                digest.update(view)
        return digest.hexdigest()

    return write


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def json_bytes(obj) -> bytes:
    """``obj`` as the JSON a run folder holds (indented, sorted keys, UTF-8)."""
    return (json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n").encode("utf-8")


def atomic_write_json(path: str | Path, obj) -> Path:
    return atomic_write_bytes(path, json_bytes(obj))


def read_json(path: str | Path):
    from workbench.errors import RunFolderError

    path = Path(path)
    problem = file_problem(path)
    if problem:
        raise RunFolderError(f"{path} {problem}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise RunFolderError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except UnicodeDecodeError as exc:
        raise RunFolderError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise RunFolderError(f"{path} cannot be read ({exc.strerror or exc})") from None


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """The sha256 of a file's bytes (hex), read in blocks of ``chunk`` bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()




sha256_of_file = sha256_file  # the name it had before (kept for scripts that import it)


def special_kind(path: str | Path) -> str | None:
    """What ``path`` is when it is neither a regular file, a folder nor absent (else None)."""
    from workbench.errors import RunFolderError

    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "a symbolic link to nothing" if os.path.islink(path) else None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symbolic link loop"
        raise RunFolderError(f"{path} cannot be examined ({exc.strerror})") from None
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    kind = ("a named pipe (FIFO)" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode)
            else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a special file")
    return kind


def file_problem(path: str | Path) -> str | None:
    """Why ``path`` cannot be read as a regular file, said as what is true ("does not exist", "is a
    folder, not a file", "is a named pipe (FIFO), not a regular file", "is a symbolic link loop"), or
    None when it is one. Nothing is opened: a FIFO is never waited on."""
    path = Path(path)
    special = special_kind(path)
    if special:
        return f"is {special}, not a regular file"
    if path.is_dir():
        return "is a folder, not a file"
    if not path.exists():
        return "does not exist"
    return None


def jsonl_lines(text: str) -> list[str]:
    """The lines of JSONL text: split at ``\\n`` only. ``str.splitlines`` would also split at U+2028,
    U+0085 and other separators that JSON strings may hold unescaped (a model's stories can)."""
    lines = text.split("\n")
    return lines[:-1] if lines and lines[-1] == "" else lines


def read_text(path: str | Path, label: str | None = None, error: type[Exception] | None = None,
              remake: str = "") -> str:
    """The UTF-8 text of the regular file ``path``; else ``error`` (default InputError) naming ``label``
    (default the path) and what is wrong: not a regular file, not UTF-8, unreadable. ``remake``: what
    makes the file again, added to the message."""
    from workbench.errors import InputError

    error = error or InputError
    path = Path(path)
    label = label or str(path)
    hint = f"; {remake}" if remake else ""
    problem = file_problem(path)
    if problem:
        raise error(f"{label} {problem}{hint}")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{label}: not UTF-8 text ({exc.reason} at byte {exc.start}){hint}") from None
    except OSError as exc:
        raise error(f"{label}: cannot be read ({exc.strerror or exc}){hint}") from None


def iter_json_objects(path: str | Path, label: str | None = None):
    """:func:`iter_jsonl` for a file whose every row must be a JSON object (else an InputError naming the line)."""
    from workbench.errors import InputError

    for line, row, where in iter_jsonl(path, label):
        if not isinstance(row, dict):
            raise InputError(f"{where}: expected a JSON object, got {type(row).__name__}")
        yield line, row, where


def text_field(row: dict, key: str, where: str, what: str = "") -> str:
    """``row[key]`` when it is a non-empty string; else an InputError naming ``where`` (and ``what`` it is for)."""
    from workbench.errors import InputError

    value = row.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{where}: missing or empty {key!r} ({what or f'keys: {sorted(row)}'})")
    return value


def iter_jsonl(path: str | Path, label: str | None = None):
    """Yield ``(line_number, row, where)`` for each non-blank line of a JSONL file.

    ``where`` is ``"<label>, line N"`` for error messages; a file that is not
    UTF-8 or a malformed line raises an InputError naming the file and line.
    """
    from workbench.errors import InputError

    label = label or str(path)
    text = read_text(path, label)
    for line, raw in enumerate(jsonl_lines(text), start=1):
        if not raw.strip():
            continue
        where = f"{label}, line {line}"
        try:
            row = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InputError(f"{where}: malformed JSON ({exc.msg} at column {exc.colno})") from None
        if "\\u" in raw:  # an escape may decode to a lone surrogate, which is not text (nor UTF-8)
            try:
                json.dumps(row, ensure_ascii=False).encode("utf-8")
            except UnicodeEncodeError as exc:
                raise InputError(f"{where}: a string holds a lone surrogate ({exc.object[exc.start]!r}), "
                                 "which is not text") from None
        yield line, row, where
