"""Resolve a model name and load the Hugging Face model and tokenizer, strictly.

Every weight of the model must be loaded from the checkpoint: a missing or
unexpected weight is an error, never a warning. Multimodal checkpoints with a
text-only loader in :data:`TEXT_ONLY` load their language model alone.
"""

from __future__ import annotations

import logging
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

import torch

from workbench.errors import InputError, ModelLoadError, OfflineError, SettingError
from workbench.io import sha256_file, special_kind
from workbench.models.converted import check_loading_info as _strict
from workbench.models.registry import ALIASES, EMBEDDED_PREFIX
from workbench.models.spec import DTYPES

__all__ = ["Resolved", "resolve", "load_hf", "TEXT_ONLY", "torch_dtype", "sha256_file", "check_device"]
# what transformers and its readers raise for a file that is not what it should be (truncated, empty,
# random bytes, invalid JSON, a config without model_type): each becomes a ModelLoadError naming the file
_BAD_FILE = (ValueError, KeyError, OSError, RuntimeError, TypeError, IndexError, EOFError, AttributeError)

log = logging.getLogger(__name__)
_HF_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*/[\w.\-]+$")


@dataclass(frozen=True)
class TextOnly:
    """How to load the language model of a multimodal checkpoint on its own."""

    model_class: str  # a transformers class name
    key_mapping: dict[str, str]
    ignore_unexpected: tuple[str, ...]  # regexes of checkpoint keys that belong to other modalities


# model_type of the checkpoint's config -> its text-only loader
TEXT_ONLY: dict[str, TextOnly] = {
    "gemma4": TextOnly(
        "Gemma4ForCausalLM",
        {r"^model\.language_model\.": "model."},
        (r"^model\.(vision_tower|audio_tower|embed_vision|embed_audio|multi_modal_projector)\.",),
    ),
}


@dataclass(frozen=True)
class Resolved:
    source: str  # embedded | gguf | directory | hub
    location: str
    extra: dict = field(default_factory=dict)


def torch_dtype(name: str) -> torch.dtype:
    if name == "float16":
        raise InputError("dtype 'float16' is refused: Gemma-family activations reach 6.6e4 and overflow it; "
                         "use 'bfloat16' or 'float32'")
    if name not in DTYPES:
        raise InputError(f"dtype {name!r} is not one of {list(DTYPES)}")
    return getattr(torch, name)


def check_device(device: str) -> str:
    """``device`` when torch can use it here; else a SettingError saying why (unknown, or not available)."""
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise SettingError(f"device {device!r} is not a torch device (e.g. 'cpu', 'cuda', 'cuda:1', 'mps')",
                           "device") from None
    available = {"cpu": lambda: True, "cuda": torch.cuda.is_available,
                 "mps": lambda: torch.backends.mps.is_available()}.get(parsed.type)
    if available is None or not available():
        raise SettingError(f"device {device!r} is not available on this machine"
                           f"{'' if available is None else ' (torch finds no ' + parsed.type + ' device)'}; "
                           "use 'cpu'", "device")
    if parsed.type == "cuda" and parsed.index is not None and parsed.index >= torch.cuda.device_count():
        raise SettingError(f"device {device!r}: this machine has {torch.cuda.device_count()} CUDA device(s)", "device")
    return device


def _regular(path: Path, what: str) -> None:
    """Refuse a model path that is not a regular file (a FIFO is refused, never opened and waited on)."""
    special = special_kind(path)
    if special:
        raise InputError(f"{what} {path} is {special}, not a regular file")


def resolve(name: str) -> Resolved:
    """Turn an alias, a path or an HF id into where to load from; unknown names are errors."""
    if not isinstance(name, str) or not name.strip():
        raise InputError(f"model name must be a non-empty string, got {name!r}")
    if name in ALIASES:
        target = ALIASES[name].target
        if target.startswith(EMBEDDED_PREFIX):
            return Resolved("embedded", target.removeprefix(EMBEDDED_PREFIX))
        return Resolved("hub", target)
    path = Path(name).expanduser()
    if path.suffix == ".gguf":
        _regular(path, "GGUF file")
        if path.is_dir():
            raise InputError(f"GGUF file {path} is a folder, not a file")
        if not path.is_file():
            raise InputError(f"GGUF file {path} does not exist")
        return Resolved("gguf", str(path.resolve()))
    if path.is_dir():
        _regular(path / "config.json", "model config")
        if not (path / "config.json").is_file():
            raise InputError(f"model directory {path} has no config.json (expected a save_pretrained folder)")
        return Resolved("directory", str(path.resolve()))
    looks_like_path = name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name
    if looks_like_path or path.exists():
        raise InputError(f"model path {path} does not exist")
    if _HF_ID.match(name):
        return Resolved("hub", name)
    known = ", ".join(f"{k} ({v.description})" for k, v in ALIASES.items())
    raise InputError(f"unknown model {name!r}: not an alias, a local path or an HF id (owner/name). "
                     f"Known aliases: {known}")


def _check_hub_available(repo_id: str, revision: str | None) -> None:
    from huggingface_hub import try_to_load_from_cache

    from workbench.env import ensure_offline_if_unreachable

    if not ensure_offline_if_unreachable():
        return
    cached = try_to_load_from_cache(repo_id, "config.json", revision=revision)
    if not isinstance(cached, str):
        raise OfflineError(
            f"model {repo_id!r} is not available offline: no hub is reachable and it is not in the "
            f"Hugging Face cache. Download it once on a machine with hub access "
            f"(`huggingface-cli download {repo_id}`), or save it with save_pretrained and pass the folder path.")


def _check_gguf_architecture(path: Path) -> str:
    from gguf import GGUFReader
    from transformers.modeling_gguf_pytorch_utils import GGUF_SUPPORTED_ARCHITECTURES

    if path.stat().st_size == 0:
        raise ModelLoadError(f"GGUF file {path} is empty")
    try:
        reader = GGUFReader(str(path))
    except (*_BAD_FILE, struct.error) as exc:
        raise ModelLoadError(f"GGUF file {path} cannot be read as GGUF (truncated or not a GGUF file: "
                             f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''})") from None
    arch_field = reader.fields.get("general.architecture")
    if arch_field is None:
        raise ModelLoadError(f"GGUF file {path} has no general.architecture field")
    arch = bytes(arch_field.parts[arch_field.data[0]]).decode("utf-8")
    if arch not in GGUF_SUPPORTED_ARCHITECTURES:
        raise ModelLoadError(f"GGUF file {path} has architecture {arch!r}, which transformers cannot load "
                             f"from GGUF; supported: {sorted(GGUF_SUPPORTED_ARCHITECTURES)}")
    return arch


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0][:300]}" if text else type(exc).__name__


def load_hf(resolved: Resolved, dtype: torch.dtype, device: str = "cpu", device_map=None,
            revision: str | None = None):
    """Load ``(hf_model, tokenizer, info)`` strictly; ``info`` holds architecture and weights sha256."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    if resolved.source == "embedded":
        from workbench.models.embedded import load_embedded

        return load_embedded(resolved.location, dtype=dtype, device=device, device_map=device_map)
    common = {"dtype": dtype, "attn_implementation": "eager"}
    if device_map is not None:
        common["device_map"] = device_map
    loc = resolved.location
    if resolved.source == "gguf":
        path = Path(loc)
        arch = _check_gguf_architecture(path)
        try:
            tok = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
            model, info = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name,
                                                               output_loading_info=True, **common)
        except _BAD_FILE as exc:  # transformers' GGUF reader: incomplete file
            raise ModelLoadError(f"{path}: a {arch} GGUF file that transformers cannot load "
                                 f"({type(exc).__name__}: {str(exc).splitlines()[0][:300]})") from exc
        _strict(info, str(path))
        model.config.architectures = [type(model).__name__]
        extra = {"gguf_architecture": arch, "weights_sha256": sha256_file(path)}
    else:
        if resolved.source == "hub":
            _check_hub_available(loc, revision)
        kw = {"revision": revision} if revision else {}
        what = f"model folder {loc}" if resolved.source == "directory" else f"model {loc!r}"
        try:
            config = AutoConfig.from_pretrained(loc, **kw)
        except _BAD_FILE as exc:
            raise ModelLoadError(f"{what}: its config.json cannot be used ({_first_line(exc)})") from None
        text_only = TEXT_ONLY.get(config.model_type)
        try:
            tok = AutoTokenizer.from_pretrained(loc, **kw)
        except _BAD_FILE as exc:
            raise ModelLoadError(f"{what}: no usable tokenizer ({_first_line(exc)})") from None
        if text_only is not None:
            import transformers

            cls = getattr(transformers, text_only.model_class)
            model, info = cls.from_pretrained(loc, config=config.get_text_config(), key_mapping=text_only.key_mapping,
                                              output_loading_info=True, **common, **kw)
            _strict(info, loc, text_only.ignore_unexpected)
        else:
            try:
                model, info = AutoModelForCausalLM.from_pretrained(loc, output_loading_info=True, **common, **kw)
            except _BAD_FILE as exc:
                raise ModelLoadError(f"{what}: its weights cannot be loaded ({_first_line(exc)})") from None
            _strict(info, loc)
        extra = {}
        weights = sorted(Path(loc).glob("*.safetensors")) if resolved.source == "directory" else []
        if len(weights) == 1:
            extra["weights_sha256"] = sha256_file(weights[0])
    if device_map is None:
        model.to(device)
    model.eval()
    if not model.config.architectures:
        model.config.architectures = [type(model).__name__]
    return model, tok, {"architecture": type(model).__name__, **extra}
