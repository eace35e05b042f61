"""Find a model's decoder blocks from its structure (with an explicit override)."""

from __future__ import annotations

import torch.nn as nn

from workbench.errors import ModelLoadError

__all__ = ["find_block_path", "get_module"]


def get_module(root: nn.Module, path: str) -> nn.Module:
    module = root
    for part in path.split("."):
        module = getattr(module, part)
    return module


def find_block_path(model: nn.Module, n_layers: int, override: str | None = None) -> str:
    """The dotted path of the ``ModuleList`` that holds the ``n_layers`` decoder blocks.

    Among all module lists of exactly ``n_layers`` modules, the shallowest one
    wins; ties are an error asking for ``override`` (``block_path=...``).
    """
    if override:
        try:
            blocks = get_module(model, override)
        except AttributeError:
            raise ModelLoadError(f"block_path {override!r} does not exist in {type(model).__name__}") from None
        if not isinstance(blocks, nn.ModuleList) or len(blocks) != n_layers:
            raise ModelLoadError(f"block_path {override!r} is not a list of {n_layers} blocks")
        return override
    found = [name for name, mod in model.named_modules()
             if isinstance(mod, nn.ModuleList) and len(mod) == n_layers and name]
    if not found:
        raise ModelLoadError(f"no list of {n_layers} decoder blocks found in {type(model).__name__}; "
                             "pass block_path='...' to load_model")
    depth = min(name.count(".") for name in found)
    shallowest = [name for name in found if name.count(".") == depth]
    if len(shallowest) > 1:
        raise ModelLoadError(f"several candidate block lists in {type(model).__name__}: {shallowest}; "
                             "pass block_path='...' to load_model")
    return shallowest[0]
