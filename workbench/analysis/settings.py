"""The analysis settings: validated once here, and the source of the CLI's options."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from workbench.errors import InputError
from workbench.values import is_int

__all__ = ["AnalysisSettings", "BOOTSTRAP_SCHEMES", "SPLIT_KINDS"]

BOOTSTRAP_SCHEMES = ("emotions", "hierarchical")
SPLIT_KINDS = ("emotions", "topics")


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
    bootstrap_scheme: str = field(default="emotions", metadata={
        "help": "what the bootstrap resamples: 'emotions' (each keeping its stories; calibrated, see "
                "docs/statistics.md) or 'hierarchical' (emotions, then stories within them: counts story "
                "variance twice, intervals too wide; kept for comparison; the headline's selection-aware interval "
                "resamples emotions in both)"})
    splits: int = field(default=50, metadata={
        "help": "random halves of the emotions for the cross-fitted choice of the peak layer"})
    split_by: str = field(default="emotions", metadata={
        "help": "what the cross-fit holds out: 'emotions' (the chosen layer's r is read on the other half of the "
                "emotions) or 'topics' (also on the other half of the story topics: needs story activations "
                "whose texts carry a topic, at least 2 topics)"})
    peak_depth: float | None = field(default=None, metadata={
        "help": "fix the headline layer in advance at this fractional depth (layer / (n_layers - 1), e.g. 0.66) "
                "instead of choosing it on half the emotions"})

    def __post_init__(self):
        for name, low in (("bootstrap", 10), ("permutations", 10), ("n_pcs", 2), ("cv_folds", 2),
                          ("cka_shuffles", 10)):
            value = getattr(self, name)
            if not is_int(value) or value < low:
                raise InputError(f"analysis setting {name} must be an integer >= {low}, got {value!r}")
        if not is_int(self.seed) or self.seed < 0:
            raise InputError(f"analysis setting seed must be a non-negative integer, got {self.seed!r}")
        if self.bootstrap_scheme not in BOOTSTRAP_SCHEMES:
            raise InputError(f"analysis setting bootstrap_scheme must be one of {list(BOOTSTRAP_SCHEMES)}, got "
                             f"{self.bootstrap_scheme!r}")
        if not is_int(self.splits) or self.splits < 1:
            raise InputError(f"analysis setting splits must be an integer >= 1, got {self.splits!r}")
        if self.split_by not in SPLIT_KINDS:
            raise InputError(f"analysis setting split_by must be one of {list(SPLIT_KINDS)}, got {self.split_by!r}")
        if self.peak_depth is not None and not (isinstance(self.peak_depth, (int, float))
                                                and not isinstance(self.peak_depth, bool)
                                                and 0.0 <= self.peak_depth <= 1.0):
            raise InputError(f"analysis setting peak_depth must be a fractional depth in [0, 1], got "
                             f"{self.peak_depth!r}")
        if not 0.5 <= self.ci < 1.0:
            raise InputError(f"analysis setting ci must be in [0.5, 1), got {self.ci!r}")

    def to_dict(self) -> dict:
        return asdict(self)
