"""The integrity of a run folder's files: checksums, damage named by file, and stale dependents.

- :func:`check_digests`: the files a manifest section records are there, regular, with that sha256.
- :func:`damaged`: a shape error while reading a file (a key missing, a list for a dict, a cell that
  is not a number) becomes a :class:`RunFolderError` naming the file.
- :func:`stamp` / :func:`stale_reason`: the identity of the stages a dependent result (steering, a
  token view) was made from, so a dependent of an earlier collect or analysis is shown as stale.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path

from workbench.errors import RunFolderError

__all__ = ["damaged", "check_digests", "stamp", "stale_reason"]

# what parsing a file of the wrong shape raises (a key missing, a list where a dict should be, a cell that
# is not a number): while reading one run folder file, each means that file is damaged or hand-edited
_SHAPE_ERRORS = (KeyError, TypeError, ValueError, AttributeError, IndexError)


@contextlib.contextmanager
def damaged(path: str | Path, remake: str):
    """Turn a shape error while reading ``path`` into a RunFolderError naming it (and ``remake``: the
    command that writes it again). Errors of the workbench's own pass through unchanged."""
    from workbench.errors import WorkbenchError

    try:
        yield
    except WorkbenchError:
        raise
    except _SHAPE_ERRORS as exc:
        raise RunFolderError(f"{path} is damaged or was edited: it does not hold what the workbench wrote "
                             f"({type(exc).__name__}: {str(exc)[:200]}); {remake}") from None


def check_digests(directory: str | Path, digests, manifest_path: str | Path, remake: str) -> None:
    """Every file named in ``digests`` (name -> sha256, as a manifest section records them) is there,
    a regular file, and has that sha256; else a RunFolderError naming the file."""
    from workbench.io import file_problem, sha256_file

    if not isinstance(digests, dict):
        raise RunFolderError(f"{manifest_path}: its checksums are not a table of files; {remake}")
    for name, expected in digests.items():
        path = Path(directory) / str(name)
        problem = file_problem(path)
        if problem:
            raise RunFolderError(f"{path} {problem}: {remake}")
        if sha256_file(path) != expected:
            raise RunFolderError(f"{path} does not match {manifest_path} (sha256 differs): it was changed or "
                                 f"damaged after it was written; {remake}")


def _digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def stamp(manifest: dict, sections=("collect", "analysis")) -> dict:
    """The identity of the manifest's ``sections`` (a hash of each), recorded by a dependent result."""
    return {name: _digest(manifest.get(name)) for name in sections if isinstance(manifest, dict)}


def stale_reason(made_from, manifest: dict, what: str, remake: str) -> str | None:
    """Why a dependent result made from ``made_from`` (its :func:`stamp`) is not current, or None."""
    if not isinstance(made_from, dict) or not made_from:
        return (f"the {what} in this folder does not record what it was made from (an older workbench): "
                f"it may be from an earlier collect or analysis; make it again with {remake}")
    changed = [name for name, value in made_from.items() if stamp(manifest, (name,)).get(name) != value]
    if changed:
        return (f"the {what} in this folder was made from an earlier {' and '.join(changed)} of the run: it is "
                f"stale; make it again with {remake}")
    return None
