"""Several runs (model x corpus) side by side at matching fractional depth, with CKA between them.

Depth is ``layer / (n_model_layers - 1)``. The grid is the depths of the run with
the fewest layers; every other run contributes its layer nearest to each grid
depth. CKA (debiased) between two runs at a grid depth compares the two runs'
vectors of the same emotions at their matched layers (their widths may differ).
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from workbench.analysis.cka import linear_cka
from workbench.analysis.vectors import to_numpy
from workbench.errors import InputError

__all__ = ["compare_runs", "COMPARE_STATS"]

COMPARE_STATS = ("pc1_valence_r", "pc1_valence_ci_low", "pc1_valence_ci_high", "pc1_valence_q",
                 "pc2_arousal_r", "pc2_arousal_q", "best_arousal_pc", "best_arousal_r", "valence_cv_r")


def _check_emotions(labels, reports) -> tuple[str, ...]:
    first = reports[0].emotions
    problems = []
    for label, report in zip(labels[1:], reports[1:]):
        missing = sorted(set(first) - set(report.emotions))
        extra = sorted(set(report.emotions) - set(first))
        if missing or extra:
            problems.append(f"{label}: lacks {missing[:10]}{'...' if len(missing) > 10 else ''}, "
                            f"has in addition {extra[:10]}{'...' if len(extra) > 10 else ''}")
    if problems:
        raise InputError(f"the runs analysed different emotions (compared with {labels[0]}): " + "; ".join(problems)
                         + ". Analyze them with the same emotions (and the same exclude_estimated setting)")
    return first


def compare_runs(labels, reports, vectors, neutral_projection: bool = False) -> tuple[list[str], list[dict]]:
    """One row per grid depth: each run's matched layer and statistics, and CKA between runs.

    ``labels``, ``reports`` (:class:`GeometryReport`) and ``vectors`` (:class:`EmotionVectors`)
    are parallel sequences, one entry per run. Returns (column names, rows).
    """
    labels = list(labels)
    if len(labels) != len(set(labels)):
        raise InputError(f"run labels must be unique, got {labels}")
    if not len(labels) == len(reports) == len(vectors) or len(labels) < 2:
        raise InputError("compare needs at least two runs, each with its report and its vectors")
    emotions = _check_emotions(labels, reports)
    kind = "projected" if neutral_projection else "contrast"
    matrices, conditions = [], []
    for label, report, vec in zip(labels, reports, vectors):
        if neutral_projection and not vec.has_projection:
            raise InputError(f"{label}: no neutral-projected vectors (it was collected without neutral texts)")
        conditions.append(report.condition(neutral_projection))
        matrices.append(to_numpy(vec.select(emotions).kind(kind)))
        if tuple(vec.layers) != tuple(report.layers):
            raise InputError(f"{label}: the vectors' layers differ from the analysis'; analyze the run again")
    grid_run = int(np.argmin([len(r.layers) for r in reports]))
    grid = np.asarray(reports[grid_run].depth, dtype=np.float64)
    columns = ["depth"]
    for label in labels:
        columns += [f"{label}:layer", f"{label}:depth"] + [f"{label}:{s}" for s in COMPARE_STATS]
    pairs = list(combinations(range(len(labels)), 2))
    columns += [f"cka_debiased:{labels[a]}~{labels[b]}" for a, b in pairs]
    rows = []
    for g in grid:
        row: dict = {"depth": float(g)}
        picks = []
        for label, report, cond in zip(labels, reports, conditions):
            j = int(np.argmin(np.abs(np.asarray(report.depth) - g)))
            picks.append(j)
            row[f"{label}:layer"] = int(report.layers[j])
            row[f"{label}:depth"] = float(report.depth[j])
            for s in COMPARE_STATS:
                row[f"{label}:{s}"] = cond.columns[s][j].item()
        for a, b in pairs:
            row[f"cka_debiased:{labels[a]}~{labels[b]}"] = linear_cka(matrices[a][picks[a]], matrices[b][picks[b]])
        rows.append(row)
    return columns, rows
