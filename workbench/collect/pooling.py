"""The masked reduction of collect, one function for local hooks and for remote (NDIF) traces.

This module imports nothing from the workbench: a remote trace ships it by value
(:func:`workbench.models.ndif.ship_by_value`), and on the server only torch is
installed. Later reductions that follow the same ``(weights, hidden) -> sums``
shape belong here too.
"""

from __future__ import annotations

import torch

__all__ = ["masked_sum", "masked_norm_sum"]


def masked_sum(weights: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
    """fp32 ``[batch, d_model]`` sums of ``hidden [batch, seq, d_model]`` weighted by ``weights [batch, seq]``."""
    w = weights.to(device=hidden.device, dtype=torch.float32)
    return torch.bmm(w.unsqueeze(1), hidden.float()).squeeze(1)


def masked_norm_sum(weights: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
    """fp32 ``[batch]`` sums of the tokens' L2 norms of ``hidden [batch, seq, d_model]`` weighted by ``weights``."""
    w = weights.to(device=hidden.device, dtype=torch.float32)
    return (w * hidden.float().norm(dim=-1)).sum(1)
