"""Per-emotion array fields of frozen results (ratings, a monitor's neutral statistics): coerced and checked once."""

from __future__ import annotations

import numpy as np

from workbench.errors import InputError

__all__ = ["set_per_emotion"]


def set_per_emotion(obj, names, what: str, finite: bool = False) -> None:
    """Set each field ``names`` of the frozen dataclass ``obj`` to a read-only float64 copy holding one value
    per ``obj.emotions``; else an InputError naming ``what`` and the field: its shape, or (with ``finite``)
    the emotions whose value is not finite."""
    n = len(obj.emotions)
    for name in names:
        arr = np.array(getattr(obj, name), dtype=np.float64)
        if arr.shape != (n,):
            raise InputError(f"{what}: {name} has shape {arr.shape}, expected ({n},)")
        if finite and not np.all(np.isfinite(arr)):
            bad = [e for e, v in zip(obj.emotions, arr) if not np.isfinite(v)]
            raise InputError(f"{what}: {name} is not finite for {bad}")
        arr.setflags(write=False)
        object.__setattr__(obj, name, arr)
