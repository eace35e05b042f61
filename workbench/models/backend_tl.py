"""TransformerLens backend: a ``TransformerBridge`` around the HF model (hooks ``blocks.{l}.hook_resid_post``).

The bridge wraps the HF decoder blocks in place, so its hooks also fire when
the HF model (or only its decoder body) is called directly: the collect runs
the body alone and never computes the LM head. Compatibility mode stays off,
so block outputs are the raw HF ones.
"""

from __future__ import annotations

import contextlib
import json
import logging

import torch

from workbench.models.adapter import ModelAdapter, StopForward, position_ids_from_mask
from workbench.models.cache import block_of

__all__ = ["TransformerLensAdapter", "supports"]

log = logging.getLogger(__name__)


def supported_architectures() -> frozenset[str]:
    """Architectures TransformerLens has adapters for.

    Importing TransformerLens takes seconds, so the list is kept in the cache
    folder, one file per installed TransformerLens version.
    """
    from importlib.metadata import version

    from workbench.io import atomic_write_json
    from workbench.models.embedded import cache_dir

    path = cache_dir() / f"transformer-lens-{version('transformer-lens')}-architectures.json"
    if path.is_file():
        return frozenset(json.loads(path.read_text()))
    from transformer_lens.factories.architecture_adapter_factory import SUPPORTED_ARCHITECTURES

    atomic_write_json(path, sorted(SUPPORTED_ARCHITECTURES))
    return frozenset(SUPPORTED_ARCHITECTURES)


def supports(hf_model) -> bool:
    """Whether TransformerLens has an architecture adapter for this model."""
    names = list(getattr(hf_model.config, "architectures", None) or []) + [type(hf_model).__name__]
    return any(name in supported_architectures() for name in names)


@contextlib.contextmanager
def shared_tokenizer(tokenizer):
    """Lend the tokenizer to a backend that reconfigures it, and restore what it changes.

    (A deep copy of a 262k-token tokenizer costs seconds.) It is marked as adding
    BOS so TransformerLens never reloads it from a hub; the workbench itself
    always passes the padding side explicitly.
    """
    saved = {k: getattr(tokenizer, k) for k in ("padding_side", "pad_token", "eos_token")}
    tokenizer.init_kwargs.setdefault("name_or_path", getattr(tokenizer, "name_or_path", "") or "local")
    if tokenizer.bos_token is not None:
        tokenizer.init_kwargs.setdefault("add_bos_token", True)
    try:
        yield tokenizer
    finally:
        for key, value in saved.items():
            if value is not None and getattr(tokenizer, key) != value:
                setattr(tokenizer, key, value)


_BEFORE_BLOCKS = ("hook_embed", "hook_pos_embed", "embed.", "pos_embed.", "rotary_emb.")


def _last_block(names) -> int | None:
    """The last block the hooks ``names`` need (-1: none), or ``None`` when one needs the final norm or head."""
    last = -1
    for name in names:
        block = block_of(name)
        if block is None and not name.startswith(_BEFORE_BLOCKS):
            return None
        last = max(last, -1 if block is None else block)
    return last


class TransformerLensAdapter(ModelAdapter):
    backend = "transformer_lens"

    def __init__(self, hf_model, tokenizer, spec):
        super().__init__(hf_model, tokenizer, spec)
        self._bridge = None

    @property
    def native(self):
        """The ``TransformerBridge``, built on first use (importing TransformerLens takes seconds).

        Building it wraps the HF model's modules in place; values stay the raw HF ones.
        """
        if self._bridge is None:
            from transformer_lens.model_bridge import TransformerBridge

            from workbench.env import disable_transformer_lens_installs

            disable_transformer_lens_installs()
            with shared_tokenizer(self.tokenizer) as tok:
                self._bridge = TransformerBridge.boot_transformers(
                    self.spec.location, hf_model=self.hf_model, tokenizer=tok,
                    device=None if self.spec.device_map else str(self.device))
        return self._bridge

    def _hooks(self, read, layers, stop_after: int | None):
        hooks = []
        wanted = set(layers)
        for layer in sorted(wanted | {at for at, _ in self._interventions}):
            def hook(x, hook, layer=layer):
                x = self._apply_interventions(layer, x)
                if layer in wanted:
                    read(layer, x)
                if stop_after is not None and layer == stop_after:
                    raise StopForward
                return x
            hooks.append((f"blocks.{layer}.hook_resid_post", hook))
        return hooks

    def run_blocks(self, input_ids, attention_mask, read, layers=None):
        layers = self.check_layers(layers)
        last = max(layers + tuple(at for at, _ in self._interventions))
        with torch.inference_mode(), self.native.hooks(fwd_hooks=self._hooks(read, layers, last)):
            try:
                self.body(input_ids=input_ids, attention_mask=attention_mask,
                          position_ids=position_ids_from_mask(attention_mask), use_cache=False)
            except StopForward:
                pass

    def hook_names(self):
        return tuple(self.native.hook_dict)

    def _run_cached(self, input_ids, attention_mask, names, return_logits):
        """The bridge's own ``run_with_cache``, stopped after the last block needed unless logits are asked for."""
        from transformer_lens.model_bridge.exceptions import StopAtLayerException

        def stop(x, hook):
            raise StopAtLayerException(x)

        hooks = self._hooks(lambda *_: None, (), None)  # the active interventions
        last = None if return_logits else _last_block(names)
        if last is not None:
            at = f"blocks.{last + 1}.hook_in" if last + 1 < self.n_layers else "ln_final.hook_in"
            if at in self.native.hook_dict:
                hooks.append((at, stop))
        with torch.inference_mode(), self.native.hooks(fwd_hooks=hooks):
            out, cache = self.native.run_with_cache(
                input_ids, names_filter=list(names), return_cache_object=False, attention_mask=attention_mask,
                position_ids=position_ids_from_mask(attention_mask), use_cache=False)
        return cache, (out if return_logits else None)

    def generate(self, input_ids, attention_mask, **generate_kwargs):
        with torch.inference_mode(), self.native.hooks(fwd_hooks=self._hooks(lambda *_: None, (), None)):
            return self.hf_model.generate(input_ids=input_ids, attention_mask=attention_mask, **generate_kwargs)

    def logits(self, input_ids, attention_mask):
        with torch.inference_mode(), self.native.hooks(fwd_hooks=self._hooks(lambda *_: None, (), None)):
            return self.hf_model(input_ids=input_ids, attention_mask=attention_mask,
                                 position_ids=position_ids_from_mask(attention_mask), use_cache=False).logits
