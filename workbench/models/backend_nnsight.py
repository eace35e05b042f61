"""nnsight backend: the fallback for architectures TransformerLens has no adapter for.

Interventions run as real Python inside an nnsight trace; the trace stops
after the last needed block, so the LM head is never computed for reading.
nnsight's remote execution (NDIF) is the path to models larger than one
machine: see the README.
"""

from __future__ import annotations

import torch

from workbench.models.adapter import ModelAdapter, position_ids_from_mask
from workbench.models.backend_tl import shared_tokenizer
from workbench.models.cache import block_of, hook_name

__all__ = ["NNsightAdapter"]


def _hidden(output):
    return output[0] if isinstance(output, tuple) else output


class NNsightAdapter(ModelAdapter):
    backend = "nnsight"

    def __init__(self, hf_model, tokenizer, spec):
        super().__init__(hf_model, tokenizer, spec)
        from nnsight.modeling.transformers import TransformersModel

        # nnsight sets its tokenizer's padding side to left: restore ours afterwards.
        with shared_tokenizer(tokenizer) as tok:
            self._model = TransformersModel(hf_model, tokenizer=tok, task="text-generation")
        envoy = self._model
        for part in spec.block_path.split("."):
            envoy = getattr(envoy, part)
        self._blocks = envoy

    @property
    def native(self):
        return self._model

    def _set_output(self, layer: int, hidden: torch.Tensor) -> None:
        block = self._blocks[layer]
        output = block.output
        block.output = (hidden,) + tuple(output[1:]) if isinstance(output, tuple) else hidden

    def _step(self, read, wanted, last):
        """Body of a trace: visit the blocks in order, intervene, read."""
        interventions = self._interventions
        touched = {at for at, _ in interventions}
        for layer in range(last + 1):
            if layer not in wanted and layer not in touched:
                continue
            hidden = _hidden(self._blocks[layer].output)
            if layer in touched:
                hidden = self._apply_interventions(layer, hidden)
                self._set_output(layer, hidden)
            if layer in wanted:
                read(layer, hidden)

    def run_blocks(self, input_ids, attention_mask, read, layers=None):
        layers = self.check_layers(layers)
        last = max(layers + tuple(at for at, _ in self._interventions))
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask,
                  "position_ids": position_ids_from_mask(attention_mask)}
        with torch.inference_mode(), self._model.trace(inputs, use_cache=False) as tracer:
            self._step(read, set(layers), last)
            tracer.stop()

    def _run_cached(self, input_ids, attention_mask, names, return_logits):
        wanted = {b for b in map(block_of, names) if b is not None}  # names are block hooks (checked)
        values, logits = {}, None

        def read(layer, hidden):
            values[hook_name("resid_post", layer)] = hidden

        last = self.n_layers - 1 if return_logits else max(wanted | {at for at, _ in self._interventions})
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask,
                  "position_ids": position_ids_from_mask(attention_mask)}
        with torch.inference_mode(), self._model.trace(inputs, use_cache=False) as tracer:
            self._step(read, wanted, last)
            if return_logits:
                logits = self._model.lm_head.output.save()
            else:
                tracer.stop()
        return values, logits

    def generate(self, input_ids, attention_mask, **generate_kwargs):
        """Generation with the interventions applied at every step.

        nnsight 0.8 ends a trace's open-ended per-step loop by cutting the code
        after it, so generation applies the same interventions as forward hooks on
        the decoder blocks (nnsight leaves the HF modules unwrapped).
        """
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
        handles = []
        for layer, fn in self._interventions:
            def hook(module, args, output, fn=fn):
                if isinstance(output, tuple):
                    return (fn(output[0]),) + tuple(output[1:])
                return fn(output)
            handles.append(self.blocks[layer].register_forward_hook(hook))
        try:
            with torch.inference_mode():
                return self.hf_model.generate(**inputs, **generate_kwargs)
        finally:
            for handle in handles:
                handle.remove()

    def logits(self, input_ids, attention_mask):
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask,
                  "position_ids": position_ids_from_mask(attention_mask)}
        if not self._interventions:
            with torch.inference_mode():
                return self.hf_model(**inputs, use_cache=False).logits
        last = max(at for at, _ in self._interventions)
        with torch.inference_mode(), self._model.trace(inputs, use_cache=False):
            self._step(lambda *_: None, set(), last)
            logits = self._model.lm_head.output.save()
        return logits
