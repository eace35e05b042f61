"""The story file ``workbench generate`` appends to: only a file it wrote is continued, never another.

:func:`check_out_file` reads an existing ``--out`` without changing it: every complete line must be
a row generate writes, and an unterminated last line counts as a torn row only when it begins as
those rows do. :func:`read_done` then, holding the file's lock, cuts off such a torn row (what a
kill mid-write leaves) or gives a whole last row its missing newline. :func:`append_row` appends a
row durably; a failed write is a user error naming the file.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from workbench.errors import InputError, SettingError
from workbench.io import jsonl_lines

__all__ = ["check_out_file", "read_done", "append_row"]

log = logging.getLogger("workbench.data.generate")

_OWN_KEYS = ("emotion", "topic", "stories", "attempts", "sampling")  # in every row generate writes
_ROW_START = b'{"emotion": '  # how every row generate writes begins (json.dumps of the row dict)


def _not_ours(path: Path, line: int, why: str) -> InputError:
    return InputError(f"{path}, line {line}: not a story row written by `workbench generate` ({why}); generate "
                      "only continues a file it wrote itself and never edits another: write to a new file")


def _own_row(text: str, path: Path, line: int) -> tuple[str, str]:
    try:
        row = json.loads(text)
    except json.JSONDecodeError:
        raise _not_ours(path, line, "malformed JSON") from None
    if not isinstance(row, dict):
        raise _not_ours(path, line, f"a JSON {type(row).__name__}, not an object")
    missing = [k for k in _OWN_KEYS if k not in row]
    if missing or not isinstance(row["emotion"], str) or not isinstance(row["topic"], str):
        raise _not_ours(path, line, f"no {missing}" if missing else "emotion and topic are not strings")
    return row["emotion"], row["topic"]


def check_out_file(path: str | Path, inputs=()) -> tuple[set[tuple[str, str]], int | None]:
    """The (emotion, topic) of the rows of an existing ``--out`` file, and where a torn last row begins.

    Only a file generate wrote is accepted: every complete line must be one of its rows, and an
    unterminated last line is a torn row only when it begins as generate's rows do (it is then cut
    off by :func:`_read_done`; a last row that is whole but lacks its newline gets one). Anything
    else (a note, a corpus written by another tool, a special file) is refused, and the file is
    not touched. Nothing is written here. ``inputs``: ``(label, path)`` of the command's inputs.
    """
    from workbench.runfolder import check_output_file

    path = Path(path)
    check_output_file(path, "out", inputs)
    if not path.exists():
        return set(), None
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SettingError(f"out {path} cannot be read ({exc.strerror or exc})", "out") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SettingError(f"out {path} is not UTF-8 text (at byte {exc.start}): not a file generate wrote; "
                           "give a new one", "out") from None
    lines = jsonl_lines(text)
    torn = None
    if raw and not raw.endswith(b"\n"):
        last = lines.pop()
        try:
            json.loads(last)
            lines.append(last)  # whole, only its newline missing: checked below, then kept
        except json.JSONDecodeError:
            head = last.encode("utf-8")
            begins = head.startswith(_ROW_START) if len(head) >= len(_ROW_START) else _ROW_START.startswith(head)
            if not begins or (not lines and len(head) < len(_ROW_START)):
                raise _not_ours(path, len(lines) + 1, "an unfinished line that is not the start of a row") from None
            torn = raw.rfind(b"\n") + 1
    done = set()
    for line, row in enumerate(lines, start=1):
        if row.strip():
            done.add(_own_row(row, path, line))
    return done, torn


def read_done(path: Path, fh) -> set[tuple[str, str]]:
    """(emotion, topic) of the rows of ``path`` (open for appending, as ``fh``); a torn last row that
    generate itself left (killed mid-write) is cut off, a whole last row without its newline gets one."""
    done, torn = check_out_file(path)
    raw_size = path.stat().st_size
    if torn is not None:
        log.warning("%s: removing an unfinished last line (%d bytes) left by an interrupted run", path,
                    raw_size - torn)
        fh.truncate(torn)
    elif raw_size and not path.read_bytes().endswith(b"\n"):
        fh.write(b"\n")
        fh.flush()
        os.fsync(fh.fileno())
    return done



def append_row(fh, path: Path, line: bytes) -> None:
    """Append one row and make it durable; a failed write (a full disk) is a user error naming the file
    (the rows before it are kept; a torn row is repaired on rerun)."""
    try:
        fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())
    except OSError as exc:
        from workbench.errors import WriteError

        raise WriteError(f"{path} cannot be written: {exc.strerror or exc} (a full disk?); the rows written "
                         "before are kept, and rerunning the same command continues from them") from exc
