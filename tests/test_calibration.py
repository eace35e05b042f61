"""The calibration table at a small size: the simulation runs the analysis' statistics and lands in sane ranges.

The full table (400 data sets per design) is in docs/statistics.md, made by ``workbench calibrate``.
"""

from __future__ import annotations

import numpy as np
import pytest

from workbench.analysis.calibration import DESIGNS, calibration_table, format_table, simulate
from workbench.analysis.settings import AnalysisSettings
from workbench.analysis.threads import single_threaded


def test_population_r_is_what_infinitely_many_emotions_give():
    # the exact population r of the design against the sample r of PC1 on 20,000 emotions (plain SVD)
    data = DESIGNS[2].data(np.random.default_rng(3), n_emotions=20_000)
    sample = []
    for X in data.vectors:
        _, _, vt = np.linalg.svd(X, full_matrices=False)
        sample.append(abs(np.corrcoef(X @ vt[0], data.valence)[0, 1]))
    np.testing.assert_allclose(sample, data.population_r, atol=0.02)
    assert data.population_r[4] == pytest.approx(2.5 / np.sqrt(2.5**2 + 2.0**2 + 0.5**2), abs=0.03)


def test_direction_r_is_what_a_fixed_direction_gives_on_infinitely_many_emotions():
    # the truth of the held-out r: the population r of a given direction (here random, one per layer)
    rng = np.random.default_rng(4)
    data = DESIGNS[1].data(rng, n_emotions=5_000)
    axes = rng.standard_normal((data.vectors.shape[0], data.vectors.shape[2]))
    axes[4] = data.cross[4] / np.linalg.norm(data.cross[4])  # the planted axis itself at the strongest layer
    sample = [np.corrcoef(X @ a, data.valence)[0, 1] for X, a in zip(data.vectors, axes)]
    np.testing.assert_allclose(sample, data.direction_r(axes), atol=0.04)  # sampling SD about 0.014
    # along the planted axis: signal 0.4, non-valence factor 2, emotion noise 0.5, story noise 1 / sqrt(4 stories)
    # (the nuisance axis, random in 32 dimensions, adds about 2% to that variance)
    assert data.direction_r(axes)[4] == pytest.approx(0.4 / np.sqrt(0.4**2 + 2.0**2 + 0.5**2 + 0.5**2), abs=0.03)


def test_a_null_data_set_has_no_discovery_and_a_planted_one_is_found():
    settings = AnalysisSettings(bootstrap=50, permutations=50, splits=10)
    with single_threaded():
        null = simulate(DESIGNS[0], np.random.default_rng(1), settings)
        strong = simulate(DESIGNS[2], np.random.default_rng(1), settings)
    assert null["truth"] == 0 and abs(null["r"]) < 0.3 and null["low"] < 0 < null["high"]
    assert strong["max_stat_p"] == pytest.approx(1 / 51) and strong["low"] > 0.5
    assert abs(strong["r"] - strong["truth"]) < 0.15


@pytest.mark.slow
def test_calibration_table_small():
    rows = calibration_table(n_sims=12, bootstrap=50, permutations=50, splits=10, seed=1)
    by = {(r["design"], r["key"]): r["value"] for r in rows}
    null, weak, strong = (d.name for d in DESIGNS)
    assert by[(null, "maxstat")] <= 0.3 and by[(null, "heldout_excludes_0")] <= 0.3  # 5% nominal; 12 data sets
    assert abs(by[(null, "ridge_mean")]) < 0.1 and abs(by[(null, "heldout_mean")]) < 0.1
    assert by[(strong, "maxstat")] == 1.0 and by[(strong, "heldout_excludes_0")] == 1.0
    assert by[(strong, "heldout_coverage")] >= 0.6 and by[(strong, "fixed_coverage")] >= 0.6
    assert 0.5 < by[(strong, "heldout_width")] < 2.5 and by[(strong, "ridge_mean")] > 0.5
    assert by[(weak, "maxstat")] > by[(null, "maxstat")]
    assert len(rows) == 9 + 7 + 7 and "| design |" in format_table(rows)
