"""``PreferSettings``: the settings of a preference experiment, validated once, and the source of the CLI options."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from workbench.errors import SettingError
from workbench.values import check_ints, parse_number_list

__all__ = ["PreferSettings", "DEFAULT_ALPHAS"]

DEFAULT_ALPHAS = (-0.4, 0.4)


def _alphas(value) -> tuple[float, ...]:
    values = parse_number_list(value, "alphas") if isinstance(value, str) else list(value)
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise SettingError(f"alphas: {v!r} is not a finite number", "alphas")
        out.append(float(v))
    if not out or any(a == 0 for a in out) or len(set(out)) != len(out):
        raise SettingError(f"alphas: give distinct non-zero steering strengths (alpha 0 is the unsteered "
                           f"tournament, always run), got {out}", "alphas")
    return tuple(sorted(out))


def _one_of(value, name: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        choices = ", ".join(map(repr, allowed[:-1])) + f" or {allowed[-1]!r}"
        raise SettingError(f"{name} must be {choices}, got {value!r}", name)


@dataclass(frozen=True)
class PreferSettings:
    layer: int = field(metadata={"help": "block of the valence projection, the steering and the ablation"})
    activities: str | None = field(default=None, metadata={
        "help": "activities file (GROUP | CATEGORY | ACTIVITY per line); None: the bundled data/activities.txt"})
    alphas: tuple[float, ...] | str = field(default=DEFAULT_ALPHAS, metadata={
        "help": "comma-separated non-zero steering strengths, fractions of the layer's per-token norm; write "
                "--alphas=-0.4,0.4 (with '=', as the list starts with a minus sign)"})
    directions: str = field(default="valence,happy,afraid", metadata={
        "help": "comma-separated steered directions: 'valence', EMOTION or EMOTION_A-EMOTION_B"})
    random_controls: int = field(default=2, metadata={"help": "random unit directions steered the same way"})
    pairs: int = field(default=120, metadata={
        "help": "unordered pairs of activities per tournament, each asked in both orders (0: every pair); a "
                "balanced design: every activity is in about the same number of pairs"})
    positions: str = field(default="all", metadata={
        "help": "steered positions: 'all' or 'assistant' (only the answer turn: the chat template's generation "
                "prompt, or the plain format's answer line)"})
    format: str = field(default="auto", metadata={
        "help": "'chat' (the question as a user message under the chat template), 'plain' (plain text, for "
                "base models) or 'auto' (chat when the tokenizer has a chat template)"})
    ablate: bool = field(default=False, metadata={
        "help": "also ablate the valence direction (at --layer, and at every layer from it on) beside random "
                "directions, with the perplexity of neutral texts"})
    ablation_control: str = field(default="random", metadata={
        "help": "the ablation's control directions: 'random' (random unit directions) or 'orthogonal' (random "
                "unit directions orthogonal to the layer's mean residual over the run's texts: a random "
                "direction's component along the mean, in Gemma the massive-activation dimensions, otherwise "
                "dominates what ablating it removes)"})
    neutral_texts: int = field(default=12, metadata={"help": "neutral texts for the ablation's perplexity"})
    bootstrap: int = field(default=500, metadata={"help": "bootstrap resamples (pairs; and activities for r)"})
    permutations: int = field(default=10000, metadata={"help": "permutations for the Elo-valence p"})
    seed: int = field(default=0, metadata={"help": "seed of the pair design, the controls and the resampling"})
    batch_size: int = field(default=32, metadata={"help": "prompts per forward pass"})

    def __post_init__(self):
        object.__setattr__(self, "alphas", _alphas(self.alphas))
        check_ints(self, {"layer": None, "random_controls": 0, "pairs": 0, "neutral_texts": 1, "bootstrap": 100,
                          "permutations": 100, "seed": 0, "batch_size": 1})
        _one_of(self.positions, "positions", ("all", "assistant"))
        _one_of(self.ablation_control, "ablation_control", ("random", "orthogonal"))
        _one_of(self.format, "format", ("auto", "chat", "plain"))
        names = [d.strip() for d in self.directions.split(",")]
        if not all(names) or len(set(names)) != len(names):
            raise SettingError(f"directions: expected distinct comma-separated names, got {self.directions!r}",
                               "directions")

    @property
    def direction_names(self) -> tuple[str, ...]:
        return tuple(d.strip() for d in self.directions.split(","))

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}
