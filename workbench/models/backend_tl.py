"""TransformerLens backend: a ``TransformerBridge`` around the HF model (hooks ``blocks.{l}.hook_resid_post``).

The bridge wraps the HF decoder blocks in place, so its hooks also fire when
the HF model (or only its decoder body) is called directly: the collect runs
the body alone and never computes the LM head. Compatibility mode stays off,
so block outputs are the raw HF ones.
"""

from __future__ import annotations

import contextlib
import logging

import torch

from workbench.models.adapter import ModelAdapter, StopForward, position_ids_from_mask

__all__ = ["TransformerLensAdapter", "supports"]

log = logging.getLogger(__name__)


def supports(hf_model) -> bool:
    """Whether TransformerLens has an architecture adapter for this model."""
    from transformer_lens.factories.architecture_adapter_factory import SUPPORTED_ARCHITECTURES

    names = list(getattr(hf_model.config, "architectures", None) or []) + [type(hf_model).__name__]
    return any(name in SUPPORTED_ARCHITECTURES for name in names)


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


class TransformerLensAdapter(ModelAdapter):
    backend = "transformer_lens"

    def __init__(self, hf_model, tokenizer, spec):
        super().__init__(hf_model, tokenizer, spec)
        from transformer_lens.model_bridge import TransformerBridge

        from workbench.env import disable_transformer_lens_installs

        disable_transformer_lens_installs()
        with shared_tokenizer(tokenizer) as tok:
            self._bridge = TransformerBridge.boot_transformers(
                spec.location, hf_model=hf_model, tokenizer=tok,
                device=None if spec.device_map else str(self.device))
        if self._bridge.tokenizer is not tokenizer:
            log.debug("TransformerLens replaced the tokenizer; the workbench keeps its own")

    @property
    def native(self):
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
        with torch.inference_mode(), self._bridge.hooks(fwd_hooks=self._hooks(read, layers, last)):
            try:
                self.body(input_ids=input_ids, attention_mask=attention_mask,
                          position_ids=position_ids_from_mask(attention_mask), use_cache=False)
            except StopForward:
                pass

    def generate(self, input_ids, attention_mask, **generate_kwargs):
        with torch.inference_mode(), self._bridge.hooks(fwd_hooks=self._hooks(lambda *_: None, (), None)):
            return self.hf_model.generate(input_ids=input_ids, attention_mask=attention_mask, **generate_kwargs)

    def logits(self, input_ids, attention_mask):
        with torch.inference_mode(), self._bridge.hooks(fwd_hooks=self._hooks(lambda *_: None, (), None)):
            return self.hf_model(input_ids=input_ids, attention_mask=attention_mask,
                                 position_ids=position_ids_from_mask(attention_mask), use_cache=False).logits
