"""Memory the resampling draws of an analysis need, checked against what is available before any work."""

from __future__ import annotations

import os
from collections import Counter

from workbench.errors import SettingError

__all__ = ["draws_bytes", "available_bytes", "check_memory", "max_stories"]


def max_stories(story_acts) -> int:
    """The most stories of one emotion in ``story_acts`` (1 without story activations)."""
    if story_acts is None:
        return 1
    counts = Counter(m.get("emotion") for m in story_acts.meta)
    return max(counts.values(), default=1)


def draws_bytes(n_emotions: int, stories: int, n_layers: int, bootstrap: int, permutations: int) -> int:
    """A lower bound on the bytes the draws hold at once: the bootstrap's emotion and story draws
    (int64 indices, float64 weights and uniforms: ``B x n x (8 + 24 k)``) and the permutation null
    (``P x n`` indices and three float64 ``P x L x n`` temporaries of the correlations)."""
    return bootstrap * n_emotions * (8 + 24 * max(stories, 1)) + permutations * n_emotions * (8 + 24 * n_layers)


def available_bytes() -> int | None:
    """The memory available to a new allocation (``MemAvailable`` on Linux), or None when unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(n_emotions: int, stories: int, n_layers: int, bootstrap: int, permutations: int) -> None:
    """Refuse resampling counts whose draws alone would not fit in the memory available."""
    need, have = draws_bytes(n_emotions, stories, n_layers, bootstrap, permutations), available_bytes()
    if have is not None and need > have:
        raise SettingError(f"bootstrap {bootstrap} and permutations {permutations} (for {n_emotions} emotions with "
                           f"up to {stories} stories each, {n_layers} layers) need at least {need / 2**30:.1f} GiB "
                           f"for their draws: too large for the memory available ({have / 2**30:.1f} GiB); use "
                           "fewer resamples", "bootstrap", "permutations")
