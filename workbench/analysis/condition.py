"""``ConditionResult``: the statistics of one neutral-projection setting, and the table columns they fill.

:class:`workbench.analysis.report.GeometryReport` holds one per setting (projection off, then on)
and writes them to ``layers.csv`` and ``summary.json``; :meth:`ConditionResult.from_saved` builds one
back from those files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from workbench.analysis import report_io as rio
from workbench.analysis.peak import Peak
from workbench.errors import InputError, RunFolderError

__all__ = ["ConditionResult", "STAT_COLUMNS", "LAYER_COLUMNS", "MATRICES"]

STAT_COLUMNS = (
    "pc1_valence_r", "pc1_valence_p", "pc1_valence_ci_low", "pc1_valence_ci_high", "pc1_valence_p_perm",
    "pc1_valence_q", "pc1_valence_p_maxstat", "pc1_flipped",
    "pc2_arousal_r", "pc2_arousal_p", "pc2_arousal_ci_low", "pc2_arousal_ci_high", "pc2_arousal_p_perm",
    "pc2_arousal_q", "pc2_arousal_p_maxstat", "pc2_flipped", "best_valence_pc", "best_valence_r", "best_valence_p",
    "best_arousal_pc", "best_arousal_r", "best_arousal_p",
    "valence_cv_r", "valence_alpha", "pc1_explained", "pc2_explained",
    "valence_chosen_share", "arousal_chosen_share", "neutral_k",
)
LAYER_COLUMNS = ("layer", "depth", "neutral_projection", "n_emotions") + STAT_COLUMNS
MATRICES = ("valence_cosine", "cka_debiased", "cka_biased")  # layer x layer


@dataclass(frozen=True, eq=False)
class ConditionResult:
    """Everything computed for one neutral-projection setting; per-layer arrays in ``columns``."""

    neutral_projection: bool
    columns: dict  # name in STAT_COLUMNS -> [n_layers] array
    directions: np.ndarray  # [n_layers, d_model] unit ridge directions
    valence_cosine: np.ndarray  # [n_layers, n_layers]
    cka_debiased: np.ndarray
    cka_biased: np.ndarray
    cka_null_debiased: np.ndarray  # [2, n_layers, n_layers]: low and high of the shuffled-rows band
    cka_null_biased: np.ndarray
    peak: Peak  # the headline valence layer (PC1)
    arousal_peak: Peak  # the headline arousal layer (PC2)
    baseline: dict = field(default_factory=dict)  # block 0's valence statistics (the first analysed layer)

    def __post_init__(self):
        missing = [c for c in STAT_COLUMNS if c not in self.columns]
        if missing:
            raise InputError(f"condition result lacks column(s) {missing}")

    @property
    def label(self) -> str:
        return "on" if self.neutral_projection else "off"

    def to_summary(self, with_matrices: bool) -> dict:
        out = {**self.peak.to_dict("peak_"), **self.arousal_peak.to_dict("arousal_peak_"),
               **{f"baseline_{k}": v for k, v in self.baseline.items()}}
        out["cka_null_debiased_low"], out["cka_null_debiased_high"] = rio.listify(self.cka_null_debiased)
        out["cka_null_biased_low"], out["cka_null_biased_high"] = rio.listify(self.cka_null_biased)
        if with_matrices:
            for name in MATRICES:
                out[name] = rio.listify(getattr(self, name))
        return out

    @classmethod
    def from_saved(cls, run_dir: Path, neutral_projection: bool, rows: list[dict], summary: dict,
                   directions: dict, layers: tuple[int, ...]) -> ConditionResult | None:
        """The condition as saved in ``run_dir`` (``rows`` of ``layers.csv``, ``summary.json``, the directions
        file's tensors), or None when the folder has no rows for it."""
        sub = [r for r in rows if r["neutral_projection"] == neutral_projection]
        if not sub:
            return None
        if [r["layer"] for r in sub] != list(layers):
            raise RunFolderError(f"{run_dir}/layers.csv: layers {[r['layer'] for r in sub]} differ from the "
                                 f"manifest's {list(layers)}")
        info = summary["conditions"]["on" if neutral_projection else "off"]
        if neutral_projection:  # the primary condition's matrices are CSV files, the other's in summary.json
            mats = {m: rio.matrix_from_json(info[m]) for m in MATRICES}
        else:
            mats = {m: rio.read_matrix_csv(run_dir / f"{m}.csv", layers) for m in MATRICES}
        nulls = {k: np.stack([rio.matrix_from_json(info[f"cka_null_{k}_low"]),
                              rio.matrix_from_json(info[f"cka_null_{k}_high"])]) for k in ("debiased", "biased")}
        key = "directions_projected" if neutral_projection else "directions"
        if key not in directions:
            raise RunFolderError(f"{run_dir}/valence_directions.safetensors lacks {key!r}")
        return cls(neutral_projection, {c: np.array([r[c] for r in sub]) for c in STAT_COLUMNS},
                   directions[key].double().numpy(), mats["valence_cosine"], mats["cka_debiased"],
                   mats["cka_biased"], nulls["debiased"], nulls["biased"],
                   Peak.from_dict(info, "peak_"), Peak.from_dict(info, "arousal_peak_"),
                   {k.removeprefix("baseline_"): v for k, v in info.items() if k.startswith("baseline_")})
