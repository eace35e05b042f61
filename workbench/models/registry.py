"""Model aliases: short names for the models this workbench is built around."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Alias", "ALIASES", "EMBEDDED"]

EMBEDDED = "embedded:gemma-3-270m"


@dataclass(frozen=True)
class Alias:
    target: str  # an HF id, or EMBEDDED for the model shipped on PyPI
    description: str


ALIASES: dict[str, Alias] = {
    "gemma-3-270m": Alias(EMBEDDED, "Gemma 3 270M base (18 layers, d_model 640), shipped on PyPI as GGUF Q4_K_M"),
    "apertus-8b": Alias("swiss-ai/Apertus-8B-Instruct-2509", "Apertus 8B Instruct (32 layers)"),
    "gemma-4-e4b": Alias("google/gemma-4-E4B-it", "Gemma 4 E4B instruction-tuned (42 layers), text-only"),
}
