"""Load a model into a hookable adapter: ``load_model(name, backend="auto", ...)``."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from workbench.errors import InputError
from workbench.models.registry import ALIASES
from workbench.models.spec import ModelSpec

if TYPE_CHECKING:
    from workbench.models.adapter import ModelAdapter

__all__ = ["load_model", "ModelAdapter", "ModelSpec", "ALIASES", "BACKENDS", "adapter_from_hf"]

log = logging.getLogger(__name__)


def __getattr__(name: str):
    if name == "ModelAdapter":  # imports torch: only when asked for
        from workbench.models.adapter import ModelAdapter

        return ModelAdapter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _tl():
    from workbench.models.backend_tl import TransformerLensAdapter

    return TransformerLensAdapter


def _nnsight():
    from workbench.models.backend_nnsight import NNsightAdapter

    return NNsightAdapter


# backend name -> factory of its adapter class (imported only when used)
BACKENDS = {"transformer_lens": _tl, "nnsight": _nnsight}


def _choose_backend(backend: str, hf_model) -> str:
    if backend == "auto":
        from workbench.models.backend_tl import supports

        return "transformer_lens" if supports(hf_model) else "nnsight"
    if backend not in BACKENDS:
        raise InputError(f"backend {backend!r} is not one of {['auto', *BACKENDS]}")
    return backend


def adapter_from_hf(hf_model, tokenizer, *, name: str = "local", backend: str = "auto",
                    block_path: str | None = None, **spec_fields) -> ModelAdapter:
    """Wrap an already loaded HF causal LM (for models built in code, e.g. in tests)."""
    from workbench.models.blocks import find_block_path

    chosen = _choose_backend(backend, hf_model)
    path = find_block_path(hf_model, int(hf_model.config.get_text_config().num_hidden_layers), block_path)
    dtype = str(next(hf_model.parameters()).dtype).removeprefix("torch.")
    spec_fields.setdefault("source", "in_memory")
    spec_fields.setdefault("location", name)
    spec_fields.setdefault("architecture", type(hf_model).__name__)
    spec = ModelSpec(name=name, dtype=dtype, backend=chosen, block_path=path, **spec_fields)
    return BACKENDS[chosen]()(hf_model, tokenizer, spec)


def load_model(name: str, backend: str = "auto", dtype: str = "bfloat16", device: str = "cpu",
               device_map: str | dict | None = None, revision: str | None = None,
               block_path: str | None = None) -> ModelAdapter:
    """Load a model by alias, HF id, local folder or ``.gguf`` file, into a hookable adapter.

    Args:
        name: an alias (``gemma-3-270m`` is the embedded model; see ``ALIASES``), an HF id
            (``owner/name``), a folder written by ``save_pretrained``, or a ``.gguf`` file.
        backend: ``"auto"`` (TransformerLens where it has an adapter for the architecture,
            else nnsight), ``"transformer_lens"`` or ``"nnsight"``.
        dtype: ``"bfloat16"`` (default; means are accumulated in fp32) or ``"float32"``.
        device: torch device when ``device_map`` is not given.
        device_map: passed to accelerate (``"auto"``, a dict) to shard a model over devices.
        revision: the hub revision (branch, tag or commit) for HF ids.
        block_path: dotted path of the decoder block list, for architectures where it is ambiguous.
    """
    from workbench.models.stack import import_model_stack

    import_model_stack()  # before anything imports torch: the collector is paused for the import
    from workbench.env import ensure_offline_if_unreachable
    from workbench.models.hf import check_device, load_hf, resolve, torch_dtype

    if device_map is None:
        check_device(device)
    if backend != "auto" and backend not in BACKENDS:
        raise InputError(f"backend {backend!r} is not one of {['auto', *BACKENDS]}")
    torch_dt = torch_dtype(dtype)
    resolved = resolve(name)
    ensure_offline_if_unreachable()
    hf_model, tokenizer, info = load_hf(resolved, torch_dt, device=device, device_map=device_map,
                                        revision=revision)
    location = info.pop("location", resolved.location)
    dm = device_map if device_map is None or isinstance(device_map, str) else "custom"
    return adapter_from_hf(hf_model, tokenizer, name=name, backend=backend, block_path=block_path,
                           source=resolved.source, location=location, revision=revision, device=device,
                           device_map=dm, architecture=info.get("architecture", ""),
                           weights_sha256=info.get("weights_sha256"))
