"""``ModelSpec``: everything needed to reproduce a model load."""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["ModelSpec", "DTYPES"]

DTYPES = ("float32", "bfloat16")  # never float16: Gemma's massive activations overflow it


@dataclass(frozen=True)
class ModelSpec:
    """How a model was loaded: name asked for, what it resolved to, and the settings.

    ``source`` is one of ``embedded``, ``hub``, ``directory``, ``gguf``.
    ``weights_sha256`` is the sha256 of the local weights file when there is one.
    """

    name: str
    source: str
    location: str
    revision: str | None = None
    dtype: str = "bfloat16"
    backend: str = "transformer_lens"
    device: str = "cpu"
    device_map: str | None = None
    architecture: str = ""
    weights_sha256: str | None = None
    block_path: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ModelSpec:
        return cls(**data)
