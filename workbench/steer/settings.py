"""``SteerSettings``: the settings of a steering experiment, validated once, and the source of the CLI options."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from workbench.errors import SettingError
from workbench.steer.names import NORM_DEFINITIONS, POSITIONS
from workbench.values import check_int, check_ints, parse_number_list

__all__ = ["SteerSettings", "DEFAULT_ALPHAS"]

DEFAULT_ALPHAS = (-0.4, -0.2, 0.0, 0.2, 0.4)


def _alphas(value) -> tuple[float, ...]:
    if isinstance(value, str):
        values = parse_number_list(value, "alphas")
    else:
        try:
            values = list(value)
        except TypeError:
            raise SettingError(f"alphas: expected numbers, got {value!r}", "alphas") from None
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise SettingError(f"alphas: {v!r} is not a finite number", "alphas")
        out.append(float(v))
    if len(out) < 2:
        raise SettingError(f"alphas: a dose-response curve needs at least 2 alphas, got {out}", "alphas")
    if len(set(out)) != len(out):
        raise SettingError(f"alphas: values listed twice in {out}", "alphas")
    return tuple(sorted(out))


@dataclass(frozen=True)
class SteerSettings:
    layer: int = field(metadata={"help": "block whose output is steered"})
    alphas: tuple[float, ...] | str = field(default=DEFAULT_ALPHAS, metadata={
        "help": "comma-separated fractions of the layer's norm (--norm); write --alphas=-0.4,-0.2,0,0.2,0.4 "
                "(with '=', as the list starts with a minus sign)"})
    direction: str = field(default="valence", metadata={
        "help": "'valence' (the analysis' ridge valence axis), an EMOTION, or EMOTION_A-EMOTION_B"})
    prompts: str | None = field(default=None, metadata={
        "help": "text file of prompts, one per line; None: the project's data/steer_prompts.txt"})
    samples: int = field(default=8, metadata={"help": "sampled continuations per prompt and alpha"})
    seed: int = field(default=0, metadata={"help": "seed of the sampling (per prompt and sample) and of the controls"})
    random_controls: int = field(default=3, metadata={"help": "random unit directions steered the same way"})
    max_new_tokens: int = field(default=40, metadata={"help": "tokens generated per continuation"})
    top_k: int = field(default=50, metadata={"help": "sample among the top-k tokens"})
    temperature: float = field(default=1.0, metadata={"help": "sampling temperature"})
    norm: str = field(default="token-mean", metadata={
        "help": "the layer norm alpha is a fraction of: 'token-mean' (mean per-token resid_post norm over the "
                "run's story tokens) or 'text-mean' (mean norm of the texts' mean resid_post, the old definition)"})
    hook: str = field(default="add_direction", metadata={"help": "recipe name in hooks/, or the path of a recipe file (./my_recipe.py). A recipe is "
                     "Python code: it runs with your rights, like any script you run"})
    positions: str = field(default="all", metadata={"help": "'all', 'last' (the last position of each forward pass) or 'generated' (only the generated tokens)"})
    readback_layer: int | None = field(default=None, metadata={
        "help": "layer of the read-back; None: the later analysed layer whose valence axis has the best "
                "held-out r (valence_cv_r)"})
    batch_size: int = field(default=64, metadata={"help": "continuations per generate call"})
    bootstrap: int = field(default=2000, metadata={"help": "bootstrap resamples of the prompts"})
    share_unsteered: bool = field(default=True, metadata={
        "help": "generate alpha 0 once for all directions (steering with alpha 0 is the identity)"})

    def __post_init__(self):
        object.__setattr__(self, "alphas", _alphas(self.alphas))
        check_ints(self, {"layer": None, "samples": 1, "seed": 0, "random_controls": 0, "max_new_tokens": 1,
                          "top_k": 1, "batch_size": 1, "bootstrap": None})
        if self.bootstrap < 100:
            raise SettingError(f"bootstrap must be >= 100 for a 95% interval, got {self.bootstrap}", "bootstrap")
        if not (isinstance(self.temperature, (int, float)) and math.isfinite(self.temperature)
                and self.temperature > 0):
            raise SettingError(f"temperature must be a positive number, got {self.temperature!r}", "temperature")
        usable = [p for p in POSITIONS if p != "assistant"]  # the assistant's turn needs chat prompts
        if self.positions not in usable:
            raise SettingError(f"positions must be one of {usable}, got {self.positions!r}", "positions")
        if self.readback_layer is not None:
            check_int(self.readback_layer, "readback_layer")
        if self.norm not in NORM_DEFINITIONS:
            raise SettingError(f"norm must be one of {sorted(NORM_DEFINITIONS)}, got {self.norm!r}", "norm")
        if not self.direction.strip():
            raise SettingError("direction is empty", "direction")

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}
