"""Reading the residual stream: per-text means of ``resid_post`` at every layer.

``workbench.collect`` is both this package and the public function: importing a
submodule of a package binds the package to the parent's attribute, so
``workbench.collect`` would become a module after the first ``import
workbench.collect.run`` anywhere. The package is therefore made callable, and
``workbench.collect(model, texts, ...)`` is :func:`workbench.collect.run.collect`
whichever way it was reached.
"""

import sys
import types

from workbench.collect.activations import StoryActivations
from workbench.collect.run import collect

__all__ = ["collect", "StoryActivations"]


class _CallablePackage(types.ModuleType):
    def __call__(self, *args, **kwargs):
        return collect(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
