"""Steered generation as an nnsight trace, for NDIF (``remote=True``) or its local simulation (``"local"``).

The active interventions of the model (what :func:`~workbench.steer.steering.steering`
pushed: the add / ablate / clamp recipes, restricted to the chosen positions)
are applied inside a ``model.generate`` trace at every decoding step, as the
local backends apply them with forward hooks. The paired-seed design is kept by
sampling on the server: the per-row seeded sampler
(:class:`~workbench.steer.generation.RowSampler`) travels with the request, so a
row's draws depend on its own seed only, wherever it runs; with ``top_k=1`` the
generation is greedy.
"""

from __future__ import annotations

import warnings

import torch

from workbench.errors import InputError

__all__ = ["RemoteGeneration", "generate_remote"]


def _steps(model) -> list[tuple[int, list]]:
    """The active interventions grouped by block, blocks in order (a trace visits them in order)."""
    from workbench.steer.steering import shippable

    by_layer: dict[int, list] = {}
    for layer, fn in model.active_interventions:
        by_layer.setdefault(layer, []).append(shippable(fn))
    return sorted(by_layer.items())


def _blocks(model):
    envoy = model.native
    for part in model.spec.block_path.split("."):
        envoy = getattr(envoy, part)
    return envoy


def generate_remote(model, input_ids: torch.Tensor, attention_mask: torch.Tensor, remote, **generate_kwargs):
    """``[batch, prompt + new]`` token ids of ``hf_model.generate``, run as a trace with the steering inside."""
    import nnsight

    from workbench.models.ndif import remote_backend, ship_by_value

    if getattr(model, "backend", None) != "nnsight":
        raise InputError(f"remote steering runs nnsight traces: load {model.name} with backend='nnsight'")
    key = None
    if remote is True:
        from workbench.models.ndif import check_remote_ready

        if model.spec.source != "hub":
            raise InputError(f"remote=True runs on NDIF, which hosts Hugging Face hub models; {model.name} is a "
                             f"{model.spec.source} model. Use remote='local' to simulate it here")
        key = check_remote_ready(model.spec.location, model.spec.revision)
    ship_by_value()
    native, blocks, steps = model.native, _blocks(model), _steps(model)
    inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
    backend = remote_backend(native, remote, key)
    if not steps:
        with torch.inference_mode(), native.generate(inputs, backend=backend, **generate_kwargs) as tracer:
            ids = nnsight.save(tracer.result)
        return ids
    with warnings.catch_warnings():  # the open loop below ends by being cut short, by design: not news
        warnings.filterwarnings("ignore", message=".*was never reached: the loop asked for a step")
        with torch.inference_mode(), native.generate(backend=backend, **generate_kwargs) as tracer:
            with tracer.invoke(inputs):
                for _ in tracer.iter[:]:  # every decoding step, until generation ends
                    for layer, fns in steps:
                        output = blocks[layer].output
                        hidden = output[0] if isinstance(output, tuple) else output
                        for fn in fns:
                            hidden = fn(hidden)
                        blocks[layer].output = (hidden,) + tuple(output[1:]) if isinstance(output, tuple) else hidden
            with tracer.invoke():  # what follows an open loop needs its own worker
                ids = nnsight.save(tracer.result)
    return ids


class RemoteGeneration:
    """``model`` with ``generate`` run by :func:`generate_remote`; everything else (scoring) is the model's own."""

    def __init__(self, model, remote):
        if remote not in (True, "local"):
            raise InputError(f"remote must be True (NDIF) or 'local' (simulated here), got {remote!r}")
        self._model, self.remote = model, remote

    def __getattr__(self, name):
        return getattr(self._model, name)

    def __repr__(self) -> str:
        return f"RemoteGeneration({self._model!r}, remote={self.remote!r})"

    def generate(self, input_ids, attention_mask, **generate_kwargs):
        return generate_remote(self._model, input_ids, attention_mask, self.remote, **generate_kwargs)
