"""Load a converted cache folder (``config.json`` + one ``model.safetensors``) without ``from_pretrained``.

The workbench writes these folders itself (the embedded models' converted
copies), so their keys need none of ``from_pretrained``'s renaming machinery,
whose regexes and bookkeeping cost more than reading the weights. The model is
built with weight initialisation switched off (parameters are allocated, never
filled with random values) under the load dtype, as ``from_pretrained`` builds
it, and the file's tensors are then assigned in place of the parameters;
buffers computed by the modules themselves (rotary frequencies, embedding
scales) are computed as usual. The result is bitwise the model
``from_pretrained`` returns (``tests/test_converted_load.py``).
"""

from __future__ import annotations

from pathlib import Path

from workbench.errors import ModelLoadError

__all__ = ["load_converted", "check_loading_info"]


def load_converted(folder: str | Path, dtype, attn_implementation: str = "eager"):
    """The causal LM saved in ``folder`` (a converted copy: weights under the model's own key names), in eval mode.

    Every parameter must come from the file, apart from weights tied to another one
    (``lm_head.weight`` with tied embeddings); anything missing or unexpected is a
    :class:`ModelLoadError`.
    """
    from safetensors.torch import load_file
    from transformers import AutoConfig, AutoModelForCausalLM
    from transformers import initialization as init
    from transformers.modeling_utils import local_torch_dtype

    folder = Path(folder)
    config = AutoConfig.from_pretrained(str(folder), attn_implementation=attn_implementation)
    config.dtype = dtype
    cls = AutoModelForCausalLM._model_mapping[type(config)]
    with local_torch_dtype(dtype, cls.__name__), init.no_init_weights(), init.no_tie_weights():
        model = cls(config)
    state = load_file(folder / "model.safetensors")
    wrong = sorted(k for k, v in state.items() if v.dtype != dtype)
    if wrong:
        raise ModelLoadError(f"{folder}/model.safetensors holds {len(wrong)} tensor(s) not in {dtype} "
                             f"(e.g. {wrong[:3]})")
    result = model.load_state_dict(state, strict=False, assign=True)
    tied = set(model.all_tied_weights_keys) if hasattr(model, "all_tied_weights_keys") else set()
    missing = sorted(set(result.missing_keys) - tied)
    if missing or result.unexpected_keys:
        raise ModelLoadError(f"weights of {folder} do not match the model: missing {missing[:5]}, "
                             f"unexpected {sorted(result.unexpected_keys)[:5]}")
    model.tie_weights()
    model.config.name_or_path = str(folder)
    if model.can_generate():  # as from_pretrained: the folder's generation config, else one made from config.json
        from transformers import GenerationConfig

        if (folder / "generation_config.json").is_file():
            model.generation_config = GenerationConfig.from_pretrained(str(folder))
        else:
            model.generation_config = GenerationConfig.from_pretrained(
                str(folder), config_file_name="config.json", _from_model_config=True)
    return model.eval()


def check_loading_info(info: dict, where: str, ignore_unexpected: tuple[str, ...] = ()) -> None:
    """``from_pretrained``'s loading info: any missing, unexpected (unless matched by ``ignore_unexpected``)
    or mismatched weight is a :class:`ModelLoadError` naming ``where``."""
    import re

    missing = list(info.get("missing_keys") or [])
    unexpected = [k for k in info.get("unexpected_keys") or []
                  if not any(re.search(p, k) for p in ignore_unexpected)]
    mismatched = list(info.get("mismatched_keys") or [])
    if missing or unexpected or mismatched:
        parts = []
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("mismatched", mismatched)):
            if keys:
                parts.append(f"{len(keys)} {label} (e.g. {sorted(map(str, keys))[:5]})")
        raise ModelLoadError(f"weights of {where} do not match the model: " + "; ".join(parts))
