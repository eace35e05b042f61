"""Reading the residual stream: per-text means of ``resid_post`` at every layer.

``workbench.collect`` is both this package and the public function: importing a
submodule of a package binds the package to the parent's attribute, so
``workbench.collect`` would become a module after the first ``import
workbench.collect.run`` anywhere. The package is therefore made callable, and
``workbench.collect(model, texts, ...)`` is :func:`workbench.collect.run.collect`
whichever way it was reached. Its names are imported on first use
(:mod:`workbench._lazy`): ``CollectConfig`` is read without importing torch.
"""

from typing import TYPE_CHECKING

from workbench._lazy import LazyPackage, lazy_package

__all__ = ["collect", "StoryActivations"]


class _CallablePackage(LazyPackage):
    def __call__(self, *args, **kwargs):
        from workbench.collect.run import collect

        return collect(*args, **kwargs)


if TYPE_CHECKING:  # the public names and their modules: the lazy table (workbench._lazy)
    from workbench.collect.activations import StoryActivations
    from workbench.collect.run import collect

lazy_package(__name__, cls=_CallablePackage)
