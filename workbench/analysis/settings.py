"""The analysis settings: validated once here, and the source of the CLI's options."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from workbench.errors import InputError

__all__ = ["AnalysisSettings"]


@dataclass(frozen=True)
class AnalysisSettings:
    bootstrap: int = field(default=1000, metadata={"help": "bootstrap resamples for the confidence intervals"})
    permutations: int = field(default=1000, metadata={"help": "rating permutations for the permutation p-values"})
    seed: int = field(default=0, metadata={"help": "seed of every random draw"})
    exclude_estimated: bool = field(default=False, metadata={
        "help": "leave out the emotions whose ratings were estimated from proxy words"})
    n_pcs: int = field(default=5, metadata={"help": "principal components searched for the best arousal PC"})
    cv_folds: int = field(default=5, metadata={"help": "outer cross-validation folds of the valence ridge"})
    cka_shuffles: int = field(default=200, metadata={"help": "row shuffles for the CKA null band"})
    ci: float = field(default=0.95, metadata={"help": "confidence level of the bootstrap intervals"})

    def __post_init__(self):
        for name, low in (("bootstrap", 10), ("permutations", 10), ("n_pcs", 2), ("cv_folds", 2),
                          ("cka_shuffles", 10)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise InputError(f"analysis setting {name} must be an integer >= {low}, got {value!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise InputError(f"analysis setting seed must be a non-negative integer, got {self.seed!r}")
        if not 0.5 <= self.ci < 1.0:
            raise InputError(f"analysis setting ci must be in [0.5, 1), got {self.ci!r}")

    def to_dict(self) -> dict:
        return asdict(self)
