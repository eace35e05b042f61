"""Run folders that cannot be clobbered or mixed up.

- :func:`claim_output_dir`: an output folder is new, empty, or a workbench folder of the same kind
  (marked by ``.workbench-run``, written when the workbench creates or claims it); anything else is
  refused before any work, naming the files that would be replaced (``force=True`` writes anyway).
- :func:`check_output_file`: an output file is not a folder, not a special file, not an input of
  the same command and not a file of a run folder.
- :func:`run_lock`: one writer per run folder, an advisory ``flock`` on ``.workbench.lock`` (which
  names its holder) held for the whole command; a second writer is refused with the holder's pid
  and command. Re-entrant within one process, so library saves inside a locked command do not
  refuse their own command.
- :func:`stamp`, :func:`damaged`, :func:`check_digests` (from :mod:`workbench.runfolder.integrity`): what a
  dependent result was made from, and the checks that a folder's files are the ones it recorded.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
import time
from pathlib import Path

from workbench.errors import RunFolderError, SettingError
from workbench.io import special_kind as _special
from workbench.runfolder.integrity import check_digests, damaged, stale_reason, stamp

__all__ = ["MARKER_FILE", "LOCK_FILE", "COLLECT_FILES", "RUN_FILES", "folder_kind", "claim_output_dir",
           "check_output_file", "check_not_input", "writing_into", "mark_run_folder", "run_lock", "set_command", "stamp", "stale_reason",
           "same_path", "damaged", "check_digests"]

MARKER_FILE = ".workbench-run"
LOCK_FILE = ".workbench.lock"
_OWN = (MARKER_FILE, LOCK_FILE)
# what the commands write into a run folder (the files a claimed folder's owner could lose)
COLLECT_FILES = ("activations.safetensors", "texts.jsonl", "manifest.json", ".partial")
RUN_FILES = COLLECT_FILES + ("emotion_vectors.safetensors", "layers.csv", "cka_debiased.csv", "cka_biased.csv",
                             "valence_cosine.csv", "valence_directions.safetensors", "summary.json",
                             "token_view.json", "report.html")
_HELD: dict[str, int] = {}  # lock file -> nesting depth, in this process
_COMMAND = [""]  # the command line of this process, for the lock file


def set_command(command: str) -> None:
    """Record the command that runs in this process (written into the lock files it takes)."""
    _COMMAND[0] = command


def folder_kind(path: str | Path) -> str | None:
    """The kind of workbench folder ``path`` is (``"run"``, ``"steer"``...), or None when it is not one.

    Folders written before the marker existed are recognised by their manifest (a ``collect``
    section, or only a ``steer`` one) or by a collect checkpoint (``.partial/state.json``).
    """
    path = Path(path)
    marker = path / MARKER_FILE
    if marker.is_file():
        try:
            kind = json.loads(marker.read_text(encoding="utf-8")).get("kind")
        except (OSError, ValueError, AttributeError):
            kind = None
        if isinstance(kind, str):
            return kind
    manifest = path / "manifest.json"
    if manifest.is_file():
        try:
            obj = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            obj = None
        if isinstance(obj, dict) and "format_version" in obj:
            if "collect" in obj:
                return "run"
            if "steer" in obj:
                return "steer"
    if (path / ".partial" / "state.json").is_file():
        return "run"
    return None


def mark_run_folder(path: str | Path, kind: str = "run") -> None:
    """Mark ``path`` (an existing folder) as a workbench folder of ``kind``."""
    _mark(Path(path), kind)


def _mark(path: Path, kind: str) -> None:
    from workbench.io import atomic_write_json

    if folder_kind(path) != kind or not (path / MARKER_FILE).is_file():
        atomic_write_json(path / MARKER_FILE, {"kind": kind, "made_by": "workbench",
                                               "note": "a folder written by the workbench"})


def _listing(names: list[str], limit: int = 8) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def claim_output_dir(path: str | Path, kind: str = "run", *, force: bool = False, writes=(),
                     option: str = "out", create: bool = True) -> Path:
    """Make ``path`` a workbench folder of ``kind`` to write into, or refuse it before any work.

    ``path`` may be new, an empty folder, or a folder of the same kind; a folder with other
    content is refused, naming the files in ``writes`` that would be replaced (``force`` writes
    into it anyway). A file, a special file or a folder of another kind is always refused.
    ``create=False`` only checks (nothing is made or marked).
    """
    path = Path(path)
    special = _special(path)
    if special:
        raise SettingError(f"{option} {path} is {special}, not a folder", option)
    if path.exists() and not path.is_dir():
        raise SettingError(f"{option} {path} is a file, not a folder: give the folder to write into", option)
    if path.is_dir():
        found = folder_kind(path)
        if found is not None and found != kind:
            raise SettingError(f"{option} {path} is a workbench folder of another kind ({found!r}, not {kind!r}): "
                             "give another folder", option)
        if found is None:
            entries = sorted(p.name for p in path.iterdir() if p.name not in _OWN)
            if entries and not force:
                replaced = [n for n in entries if n in set(writes)]
                what = (f"writing there would replace {_listing(replaced)}" if replaced
                        else "the workbench would add its files among them")
                raise SettingError(f"{option} {path} is a folder the workbench did not make, and it is not empty "
                                 f"(it holds {_listing(entries)}; {what}): give a new or empty folder, or add "
                                 "force to write into it anyway", option, "force")
    if not create:
        return path
    try:
        path.mkdir(parents=True, exist_ok=True)
        _mark(path, kind)
    except OSError as exc:
        raise SettingError(f"{option} {path}: cannot write there ({exc.strerror or exc})", option) from None
    return path


def same_path(a: str | Path, b: str | Path) -> bool:
    """Whether ``a`` and ``b`` name the same file (hard links and symbolic links included)."""
    a, b = Path(a), Path(b)
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def check_output_file(path: str | Path, option: str, inputs=(), allowed: str | Path | None = None) -> Path:
    """Refuse an output file that is a folder, a special file, an input of the same command
    (``inputs``: ``(label, path)`` pairs; a folder input covers every file in it) or a file of a
    workbench folder; ``allowed``: the one file of a run folder this output may be (e.g. its
    ``report.html``)."""
    path = Path(path)
    special = _special(path)
    if special:
        raise SettingError(f"{option} {path} is {special}, not a regular file", option)
    if path.is_dir():
        raise SettingError(f"{option} {path} is a folder: give the path of the file to write", option)
    for label, source in inputs:
        if source is None or not Path(source).exists():
            continue
        source = Path(source)
        if same_path(path, source) or (source.is_dir() and path.resolve().is_relative_to(source.resolve())):
            raise SettingError(f"{option} {path} is {'inside ' if source.is_dir() else ''}{label} {source}, an input "
                             "of this command: writing it would destroy the input; give another path", option)
    parent = path.resolve().parent
    if folder_kind(parent) is not None and not (allowed is not None and same_path(path, allowed)):
        raise SettingError(f"{option} {path} is a file of the workbench folder {parent}: writing it would damage "
                         "that run; give a path outside run folders", option)
    return path


def check_not_input(outputs, inputs, option: str = "out") -> None:
    """Refuse when an input (``(label, path)`` pairs; None skipped) is one of ``outputs`` (the files a
    command writes) or holds one of them: ``--force`` never overrides this."""
    for label, source in inputs:
        if source is None or not Path(source).exists():
            continue
        for out in outputs:
            out = Path(out)
            if same_path(out, source) or (Path(source).is_dir() and out.resolve().is_relative_to(
                    Path(source).resolve())):
                raise SettingError(f"{option}: {out} would be written, but it is {label} {source}, an input of this "
                                 "command: writing it would destroy the input; give another output path", option)


@contextlib.contextmanager
def writing_into(path: str | Path, kind: str = "run", *, force: bool = False, writes=(), option: str = "out"):
    """Claim ``path`` (:func:`claim_output_dir`) and hold its lock for the block. A folder this call
    created is removed again when the block fails while it holds nothing but the workbench's marks."""
    path = Path(path)
    created = not path.exists()
    claim_output_dir(path, kind, force=force, writes=writes, option=option)
    try:
        with run_lock(path):
            yield path
    except BaseException:
        if created and path.is_dir() and {p.name for p in path.iterdir()} <= set(_OWN):
            for name in _OWN:
                with contextlib.suppress(OSError):
                    (path / name).unlink()
            with contextlib.suppress(OSError):
                path.rmdir()
        raise


def _holder(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        info = json.loads(os.read(fd, 4096).decode("utf-8") or "{}")
        return f"pid {info.get('pid')}, `{info.get('command') or '?'}`, since {info.get('since') or '?'}"
    except (OSError, ValueError, AttributeError):
        return "a process that did not say which"


@contextlib.contextmanager
def run_lock(directory: str | Path, command: str | None = None):
    """Hold the writer's lock of ``directory`` (an existing folder) for the ``with`` block.

    A second writer (another process) is refused with a :class:`RunFolderError` naming the
    holder; a folder that cannot be written (read-only) is refused too. The lock is advisory
    (``flock``): it is released when its holder ends, however it ends.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise RunFolderError(f"run folder {directory} does not exist")
    lock = directory / LOCK_FILE
    key = str(lock.resolve())
    if key in _HELD:
        _HELD[key] += 1
        try:
            yield
        finally:
            _HELD[key] -= 1
        return
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o666)
    except OSError as exc:
        raise RunFolderError(f"{directory}: cannot write there ({exc.strerror or exc}); a workbench command "
                             "writes into its run folder") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunFolderError(f"{directory} is being written by another workbench command ({_holder(fd)}): "
                                 "wait until it has finished, then run this again") from None
        text = json.dumps({"pid": os.getpid(), "command": command or _COMMAND[0] or " ".join(sys.argv),
                           "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
        os.ftruncate(fd, 0)
        os.pwrite(fd, text.encode("utf-8") + b"\n", 0)
        _HELD[key] = 1
        try:
            yield
        finally:
            del _HELD[key]
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)  # an idle lock file is empty: finished folders are byte-identical
    finally:
        os.close(fd)  # closing releases the flock
