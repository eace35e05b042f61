"""``ActivationCache``: what :meth:`ModelAdapter.run_with_cache` returns, keyed by TransformerLens hook names.

``cache["blocks.3.hook_resid_post"]``, ``cache["resid_post", 3]`` (negative layers
count from the end) and ``cache.stack("resid_post")`` (``[layer, batch, pos,
d_model]``) read it; the tokens, the attention mask and the string tokens sit
beside the activations, so a pooled mean can be taken without a second
tokenization.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import torch
from torch import Tensor

from workbench.errors import InputError

__all__ = ["ActivationCache", "hook_name", "block_of", "SHORT_NAMES"]

# TransformerLens short names -> the hook inside block ``{l}`` (as utils.get_act_name spells them)
SHORT_NAMES = {
    **{n: "blocks.{l}.hook_" + n for n in ("resid_pre", "resid_mid", "resid_post", "attn_out", "mlp_out")},
    **{n: "blocks.{l}.attn.hook_" + n for n in ("q", "k", "v", "z", "pattern", "attn_scores", "result")},
    **{n: "blocks.{l}.mlp.hook_" + n for n in ("pre", "post")},
}
_BLOCK = re.compile(r"^blocks\.(\d+)\.")


def hook_name(name: str, layer: int | None = None, n_layers: int | None = None) -> str:
    """The full hook name of ``name`` (``"resid_post"`` and a layer, or a full name as it is)."""
    if name in SHORT_NAMES:
        if layer is None:
            raise InputError(f"hook {name!r} needs a layer: cache[{name!r}, LAYER]")
        if layer < 0 and n_layers is not None:
            layer += n_layers
        return SHORT_NAMES[name].format(l=layer)
    if layer is not None:
        raise InputError(f"hook {name!r} is a full name; it takes no layer (short names: {sorted(SHORT_NAMES)})")
    return name


def block_of(name: str) -> int | None:
    """The block index of a ``blocks.{l}.`` hook name, else ``None``."""
    match = _BLOCK.match(name)
    return int(match.group(1)) if match else None


@dataclass(frozen=True, eq=False)
class ActivationCache:
    """Activations of one batch, keyed by hook name, with its tokens.

    ``tokens`` and ``attention_mask`` are ``[batch, pos]`` (the padding side is
    ``padding_side``); ``str_tokens[i]`` are text ``i``'s real tokens (no padding);
    ``logits`` is ``[batch, pos, vocab]`` only when it was asked for.
    """

    values: Mapping[str, Tensor]
    tokens: Tensor
    attention_mask: Tensor
    str_tokens: tuple[tuple[str, ...], ...]
    n_layers: int
    padding_side: str = "right"
    logits: Tensor | None = None

    def _key(self, key) -> str:
        if isinstance(key, tuple):
            if len(key) != 2:
                raise InputError(f"cache key {key!r}: expected (name, layer)")
            return hook_name(key[0], key[1], self.n_layers)
        if isinstance(key, str):
            return key if key in self.values or key not in SHORT_NAMES else hook_name(key)
        raise InputError(f"cache key {key!r}: expected a hook name or (name, layer)")

    def __getitem__(self, key) -> Tensor:
        name = self._key(key)
        if name not in self.values:
            raise KeyError(f"{name!r} is not in this cache (it holds {len(self.values)} hooks: "
                           f"{list(self.values)[:6]}{' ...' if len(self.values) > 6 else ''}); "
                           "ask run_with_cache for it with names_filter")
        return self.values[name]

    def __contains__(self, key) -> bool:
        try:
            return self._key(key) in self.values
        except InputError:
            return False

    def __iter__(self) -> Iterator[str]:
        return iter(self.values)

    def __len__(self) -> int:
        return len(self.values)

    def keys(self):
        return self.values.keys()

    def items(self):
        return self.values.items()

    def __repr__(self) -> str:
        batch, pos = self.tokens.shape
        logits = ", with logits" if self.logits is not None else ""
        return f"ActivationCache({len(self)} hooks, batch {batch}, pos {pos}, padding {self.padding_side}{logits})"

    @property
    def layers(self) -> tuple[int, ...]:
        """The blocks that have a ``resid_post`` entry, in order."""
        return tuple(sorted(b for b in map(block_of, self.values) if b is not None
                            and hook_name("resid_post", b) in self.values))

    def stack(self, name: str = "resid_post", layers=None) -> Tensor:
        """``name`` of every cached block (or of ``layers``) stacked: ``[layer, batch, pos, ...]``."""
        if name not in SHORT_NAMES:
            raise InputError(f"stack({name!r}): expected a per-block short name, one of {sorted(SHORT_NAMES)}")
        if layers is None:
            layers = [b for b in range(self.n_layers) if hook_name(name, b) in self.values]
        if not layers:
            raise KeyError(f"no {name!r} in this cache")
        return torch.stack([self[name, layer] for layer in layers])

    stack_activation = stack  # TransformerLens's name

    def to(self, device) -> ActivationCache:
        moved = {k: v.to(device) for k, v in self.values.items()}
        logits = None if self.logits is None else self.logits.to(device)
        return ActivationCache(moved, self.tokens.to(device), self.attention_mask.to(device), self.str_tokens,
                               self.n_layers, self.padding_side, logits)
