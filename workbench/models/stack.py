"""Import torch and transformers' model-loading code once per process, with the cyclic collector paused.

The import creates about 600,000 objects that live as long as the process
(modules, classes, functions, caches). With the cyclic garbage collector on,
every collection during the import walks all of those created so far: 0.6-0.7 s
of CPU over the import on the 2-core machine, and the collection at interpreter
exit walks them once more. :func:`import_model_stack` pauses the collector for
the import, frees the import's own garbage with one collection, and moves what
survives to the permanent generation (``gc.freeze``), so later collections
(during a collect, and at exit) skip it. ``benchmarks/load_time.py`` measures it.

The freeze applies to every object alive at that moment, the caller's too: an
object alive then that later becomes cyclic garbage is not collected (its
memory stays until exit). This happens once per process, on the first model
load, when little else is alive; ``WORKBENCH_GC_FREEZE=0`` leaves the
collector alone.
"""

from __future__ import annotations

import gc
import os
import sys

__all__ = ["import_model_stack"]

# imported by every load_model path (the Gemma 3 / Llama modeling code comes with the model's class)
_MODULES = ("torch", "transformers", "transformers.modeling_utils", "transformers.tokenization_utils_tokenizers")


def import_model_stack() -> None:
    """Import torch and transformers' model-loading modules (see the module docstring).

    Does nothing beyond a plain import when they are already imported, when the collector is
    off, or when ``WORKBENCH_GC_FREEZE`` is ``0``.
    """
    import importlib

    if (all(m in sys.modules for m in _MODULES) or not gc.isenabled()
            or os.environ.get("WORKBENCH_GC_FREEZE", "1") == "0"):
        for m in _MODULES:
            importlib.import_module(m)
        return
    gc.collect()  # the caller's garbage first, so that only live objects are frozen (cheap before torch)
    gc.disable()
    try:
        for m in _MODULES:
            importlib.import_module(m)
    finally:
        gc.collect()
        gc.freeze()
        gc.enable()
