"""The monitor: every emotion vector read token by token over a text or a chat transcript.

As with ``workbench.collect``, this package is also the public function: importing a
submodule binds the package to ``workbench.monitor``, so the package is made
callable and ``workbench.monitor(model, vectors, text, layer)`` is
:func:`workbench.monitor.core.monitor` whichever way it was reached.
"""

import sys
import types

from workbench.monitor.core import monitor, neutral_token_stats, unit_vectors
from workbench.monitor.result import MONITOR_FILE, MonitorResult, MonitorText

__all__ = ["monitor", "MonitorResult", "MonitorText", "neutral_token_stats", "unit_vectors", "MONITOR_FILE"]


class _CallablePackage(types.ModuleType):
    def __call__(self, *args, **kwargs):
        return monitor(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
