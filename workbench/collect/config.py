"""``CollectConfig``: the settings of a collect, validated once, and the source of the CLI options."""

from __future__ import annotations

from dataclasses import dataclass, field

from workbench.errors import SettingError
from workbench.models.spec import DTYPES

__all__ = ["CollectConfig", "parse_layers"]


def parse_layers(text: str):
    """``"all"`` or a comma list of block indices (``"0,5,-1"``)."""
    if text.strip() == "all":
        return "all"
    try:
        return [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise SettingError(f"layers must be 'all' or comma-separated integers, got {text!r}", "layers") from None


@dataclass(frozen=True)
class CollectConfig:
    model: str = field(default="gemma-3-270m", metadata={"help": "alias, HF id, folder or .gguf file"})
    corpus: str = field(default="bundled", metadata={"help": "JSONL file, folder, hf:OWNER/NAME[@split] or 'bundled'"})
    neutral: str = field(default="bundled", metadata={"help": "neutral texts: 'bundled', a JSONL path, or 'none'"})
    emotions: int | None = field(default=None, metadata={"help": "only the first N emotions of the corpus"})
    layers: str = field(default="all", metadata={"help": "'all' or comma-separated block indices"})
    token_offset: int = field(default=50, metadata={"help": "first pooled position (the BOS token is position 0)"})
    max_length: int = field(default=512, metadata={"help": "texts are cut to this many tokens"})
    max_tokens_per_batch: int = field(default=4096, metadata={"help": "padded tokens per forward pass"})
    dtype: str = field(default="bfloat16", metadata={"help": f"one of {DTYPES}"})
    backend: str = field(default="nnsight", metadata={
        "help": "auto, transformer_lens or nnsight. Collect defaults to nnsight: it reads block outputs at the "
                "bare forward's speed, while TransformerLens's bridge wraps every module (about 0.8x); both "
                "give the same means"})
    device: str = field(default="cpu", metadata={"help": "torch device"})
    on_short: str = field(default="error", metadata={"help": "'error' or 'skip' for texts shorter than the offset"})
    checkpoint_every: int = field(default=10, metadata={"help": "batches between checkpoints"})
    read_as: str = field(default="raw", metadata={
        "help": "'raw' (the texts as they are) or 'assistant' (each story and neutral text placed as the "
                "assistant's reply to a user asking for a story, under the model's chat template, and pooled "
                "over that reply; --token-offset then counts the reply's tokens)"})
    drop_flagged: bool = field(default=False, metadata={
        "help": "leave out stories that `workbench corpus check` flags (naming their emotion, duplicates, "
                "empty); what was dropped is recorded in the manifest"})

    def __post_init__(self):
        if self.emotions is not None and self.emotions < 1:
            raise SettingError(f"emotions must be >= 1, got {self.emotions}", "emotions")
        if self.dtype not in DTYPES:
            raise SettingError(f"dtype must be one of {list(DTYPES)}, got {self.dtype!r}", "dtype")
        if self.read_as not in ("raw", "assistant"):
            raise SettingError(f"read_as must be 'raw' or 'assistant', got {self.read_as!r}", "read_as")
        if self.on_short not in ("error", "skip"):
            raise SettingError(f"on_short must be 'error' or 'skip', got {self.on_short!r}", "on_short")
        for name in ("token_offset", "max_length", "max_tokens_per_batch", "checkpoint_every"):
            value = getattr(self, name)
            if value < (0 if name == "token_offset" else 1):
                raise SettingError(f"{name} must be positive, got {value}", name)
        if self.max_length <= self.token_offset:  # checked here, before a model is loaded
            raise SettingError(f"max_length ({self.max_length}) must exceed token_offset ({self.token_offset}): "
                               "no token would be pooled", "max_length", "token_offset")
        if parse_layers(self.layers) == []:
            raise SettingError(f"layers {self.layers!r} names no layer: give 'all' or block indices", "layers")
        if self.device != "cpu":  # the CPU is always there: the common case asks nothing of torch
            from workbench.models.hf import check_device

            check_device(self.device)  # before the corpus is read or a model loaded
