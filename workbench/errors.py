"""Error types. A user error names the input and what is wrong with it.

The CLI turns any :class:`WorkbenchError` into a one-paragraph message and exit
code 2, with no traceback; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

__all__ = ["WorkbenchError", "InputError", "SettingError", "ModelLoadError", "OfflineError", "RunFolderError",
           "RecipeError", "WriteError"]


class WorkbenchError(Exception):
    """Base class of the errors a user can fix by changing an input."""


class InputError(WorkbenchError, ValueError):
    """An input (file, argument, value) is missing, malformed or inconsistent."""


class SettingError(InputError):
    """A setting has a wrong value. The message names the settings fields in ``fields`` by their field
    names (``max_length``); the CLI says its options instead (``--max-length``)."""

    def __init__(self, message: str, *fields: str):
        super().__init__(message)
        self.fields = fields


class ModelLoadError(WorkbenchError):
    """A model cannot be loaded as asked (unknown name, unsupported architecture, bad weights)."""


class OfflineError(ModelLoadError):
    """Something needs the model or dataset hub, and no hub is reachable."""


class RunFolderError(WorkbenchError):
    """A run folder lacks an artefact, or holds an incomplete or older-format one."""


class RecipeError(WorkbenchError):
    """A user's hook recipe (their own Python code) raised an error; the message holds its traceback."""


class WriteError(WorkbenchError, OSError):
    """A file cannot be written (a full disk, a read-only folder, no permission); what was there is kept."""
