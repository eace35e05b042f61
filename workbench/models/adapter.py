"""``ModelAdapter``: one interface over the hookable backends.

Every backend exposes the output of each decoder block (``resid_post``) through
:meth:`ModelAdapter.run_blocks`, and applies the interventions pushed with
:meth:`ModelAdapter.intervene` to every forward pass and generation it runs.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from typing import ClassVar

import torch
import torch.nn as nn

from workbench.errors import InputError, ModelLoadError
from workbench.models.blocks import get_module
from workbench.models.cache import SHORT_NAMES, ActivationCache, block_of, hook_name
from workbench.models.spec import ModelSpec
from workbench.models.tokens import encode, str_tokens
from workbench.values import is_int

__all__ = ["ModelAdapter", "Reader", "Intervention"]

Reader = Callable[[int, torch.Tensor], None]  # (layer, block output [batch, seq, d_model])
Intervention = Callable[[torch.Tensor], torch.Tensor]  # block output -> new block output

_FINAL_NORM_NAMES = ("norm", "final_layernorm", "ln_f", "final_norm")


class ModelAdapter(ABC):
    """A loaded model with hooks on its decoder blocks.

    Attributes: ``name``, ``spec`` (:class:`ModelSpec`), ``hf_model``,
    ``tokenizer``, ``n_layers``, ``d_model``, ``native`` (the backend object:
    a TransformerLens ``TransformerBridge`` or an nnsight model).
    """

    backend: ClassVar[str]

    def __init__(self, hf_model: nn.Module, tokenizer, spec: ModelSpec):
        self.hf_model = hf_model
        self.tokenizer = tokenizer
        self.spec = spec
        config = hf_model.config.get_text_config()
        self.n_layers: int = int(config.num_hidden_layers)
        self.d_model: int = int(config.hidden_size)
        self._interventions: list[tuple[int, Intervention]] = []

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(name={self.name!r}, n_layers={self.n_layers}, d_model={self.d_model}, "
                f"dtype={self.spec.dtype}, backend={self.backend!r})")

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    @abstractmethod
    def native(self):
        """The backend's own model object."""

    @property
    def device(self) -> torch.device:
        return next(self.hf_model.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.hf_model.parameters()).dtype

    @property
    def body(self) -> nn.Module:
        """The decoder stack without the LM head (embeddings, blocks, final norm)."""
        return self.hf_model.base_model

    @property
    def blocks(self) -> nn.ModuleList:
        return get_module(self.hf_model, self.spec.block_path)

    @property
    def final_norm(self) -> nn.Module:
        for name in _FINAL_NORM_NAMES:
            module = getattr(self.body, name, None)
            if isinstance(module, nn.Module):
                return module
        raise ModelLoadError(f"no final norm ({'/'.join(_FINAL_NORM_NAMES)}) in {type(self.body).__name__}")

    def check_layers(self, layers: Iterable[int] | str | int | None) -> tuple[int, ...]:
        """Validate layer indices (``"all"`` or ``None`` means every block; negatives count from the end)."""
        if layers is None or layers == "all":
            return tuple(range(self.n_layers))
        if isinstance(layers, int):
            layers = [layers]
        out = []
        for layer in layers:
            if not is_int(layer):
                raise InputError(f"layer {layer!r} is not an integer")
            if not -self.n_layers <= layer < self.n_layers:
                raise InputError(f"layer {layer} is out of range: {self.name} has {self.n_layers} blocks "
                                 f"(0..{self.n_layers - 1})")
            out.append(layer % self.n_layers)
        if len(set(out)) != len(out):
            raise InputError(f"layers listed twice: {list(layers)}")
        if not out:
            raise InputError("no layers given: name at least one block, or 'all'")
        return tuple(sorted(out))  # results are labelled, stored and compared in block order

    @contextlib.contextmanager
    def intervene(self, layer: int, fn: Intervention) -> Iterator[None]:
        """Apply ``fn`` to the output of block ``layer`` in every forward pass inside the context."""
        (layer,) = self.check_layers([layer])
        entry = (layer, fn)
        self._interventions.append(entry)
        try:
            yield
        finally:
            self._interventions.remove(entry)

    @property
    def active_interventions(self) -> tuple[tuple[int, Intervention], ...]:
        return tuple(self._interventions)

    def _apply_interventions(self, layer: int, hidden: torch.Tensor) -> torch.Tensor:
        for at, fn in self._interventions:
            if at == layer:
                hidden = fn(hidden)
        return hidden

    @abstractmethod
    def run_blocks(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, read: Reader,
                   layers: Iterable[int] | None = None) -> None:
        """Run the decoder body (never the LM head) and call ``read(layer, output)`` per block in ``layers``.

        Blocks past the last needed one are not run. Position ids are computed from
        ``attention_mask``, so a row gives the same values whatever its padding side.
        """

    # ---- TransformerLens-style reading -------------------------------------------------------
    def to_tokens(self, texts, padding_side: str = "right") -> torch.Tensor:
        """Token ids ``[batch, pos]`` of a text or texts, as ``collect`` tokenizes them (BOS added)."""
        return encode(self.tokenizer, texts, padding_side)[0]

    def to_str_tokens(self, inputs) -> list:
        """The tokens of a text (or of each text in a list, or of token ids) as strings."""
        single = isinstance(inputs, str) or (isinstance(inputs, torch.Tensor) and inputs.ndim == 1)
        ids, mask = encode(self.tokenizer, inputs)
        rows = [list(r) for r in str_tokens(self.tokenizer, ids, mask)]
        return rows[0] if single else rows

    def hook_names(self) -> tuple[str, ...]:
        """The hook names :meth:`run_with_cache` can keep on this backend."""
        return tuple(hook_name("resid_post", layer) for layer in range(self.n_layers))

    def run_with_cache(self, inputs, names_filter=None, layers="all", return_logits: bool = False,
                       padding_side: str = "right", attention_mask: torch.Tensor | None = None) -> ActivationCache:
        """Run texts (or token ids) and keep the activations of the requested hooks.

        Args:
            inputs: a text, a list of texts, or token ids (``[batch, pos]``, with ``attention_mask``).
            names_filter: ``None`` (``resid_post`` of every block in ``layers``), a hook name or a
                TransformerLens short name (``"resid_post"``: that hook of every block in ``layers``),
                a list of them, or a predicate on the names of :meth:`hook_names`.
            layers: ``"all"`` or the blocks whose hooks short names and predicates select.
            return_logits: also run the final norm and the LM head (``cache.logits``); otherwise the
                forward stops after the last block needed.
            padding_side: ``"right"`` or ``"left"``; real tokens get the same values either way.
        Only the requested hooks are kept; the active interventions apply.
        """
        names = self._cache_names(names_filter, self.check_layers(layers))
        ids, mask = encode(self.tokenizer, inputs, padding_side, attention_mask)
        ids, mask = ids.to(self.device), mask.to(self.device)
        values, logits = self._run_cached(ids, mask, names, return_logits)
        silent = [n for n in names if values.get(n) is None]
        if silent:
            raise InputError(f"hook(s) {silent[:5]} did not fire in this forward pass of {self.name}")
        return ActivationCache({n: values[n] for n in names}, ids, mask, str_tokens(self.tokenizer, ids, mask),
                               self.n_layers, padding_side, logits)

    def _cache_names(self, names_filter, layer_ids) -> tuple[str, ...]:
        available = self.hook_names()
        if names_filter is None:
            names_filter = "resid_post"
        if callable(names_filter):
            wanted = [n for n in available if names_filter(n) and block_of(n) in (None, *layer_ids)]
        else:
            items = [names_filter] if isinstance(names_filter, str) else list(names_filter)
            wanted = []
            for item in items:
                wanted += [hook_name(item, layer) for layer in layer_ids] if item in SHORT_NAMES else [item]
        known = set(available)
        unknown = [n for n in wanted if n not in known]
        if unknown:
            raise InputError(f"hook(s) {unknown[:5]} are not served by the {self.backend} backend of {self.name} "
                             f"(it serves {len(available)} hooks, e.g. {list(available[:3])}; see hook_names())")
        if not wanted:
            raise InputError(f"names_filter {names_filter!r} selects no hook of {self.name}")
        return tuple(dict.fromkeys(wanted))

    @abstractmethod
    def _run_cached(self, input_ids, attention_mask, names, return_logits):
        """``({name: tensor}, logits or None)`` for the hooks ``names`` (validated)."""

    @abstractmethod
    def generate(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **generate_kwargs) -> torch.Tensor:
        """``hf_model.generate`` with the active interventions applied at every step."""

    @abstractmethod
    def logits(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Full forward pass (with the active interventions); returns the logits."""


def position_ids_from_mask(attention_mask: torch.Tensor) -> torch.Tensor:
    """Positions counted from each row's first real token, so left and right padding agree."""
    return (attention_mask.long().cumsum(-1) - 1).clamp(min=0)


class StopForward(Exception):
    """Raised inside a hook to end a forward pass once the needed blocks have run."""
