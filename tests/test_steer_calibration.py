"""The steering calibration simulation (workbench.steer.calibration): its pieces against scipy, and a small run
of the calibration table (slow) whose figures must be those of a calibrated statistic."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from workbench.steer.calibration import (
    Design,
    calibration_rows,
    markdown_table,
    pooled_rho,
    population_value,
    simulate,
)

DESIGN = Design(n_prompts=8, n_samples=4, sd_intercept=0.2, sd_slope=1.0, sd_noise=0.1)
WORKBENCH = "within-prompt rho, bootstrap over prompts (expanded percentile) [workbench]"
OLD = "pooled rho, two-stage bootstrap (prompts, then samples) [old]"


def test_simulated_data_have_the_planted_structure():
    cubes = simulate(DESIGN.planted(1.0), 3000, np.random.default_rng(0))
    assert cubes.shape == (3000, 8, 4, 5)
    a = np.asarray(DESIGN.alphas)
    slopes = (cubes * (a - a.mean())).sum(-1) / ((a - a.mean()) ** 2).sum()  # per-text OLS slope [n, P, S]
    prompt_slopes = slopes.mean(-1)
    assert prompt_slopes.mean() == pytest.approx(1.0, abs=0.03)
    # the prompts' slopes vary by sd_slope (plus the noise of a slope over 4 samples x 5 alphas)
    noise_var = 0.1**2 / ((a - a.mean()) ** 2).sum() / 4
    assert prompt_slopes.var() == pytest.approx(1.0 + noise_var, rel=0.05)
    assert pooled_rho(cubes[0], a) == pytest.approx(
        stats.spearmanr(np.broadcast_to(a, (8, 4, 5)).reshape(-1), cubes[0].reshape(-1)).statistic, abs=1e-12)


@pytest.mark.slow  # 10,000 scipy calls
def test_the_population_value_equals_a_naive_simulation():
    planted = DESIGN.planted(1.0)
    truth = population_value(planted, "within", np.random.default_rng(1), scale=0.25)
    cube = simulate(planted, 1, np.random.default_rng(5), n_prompts=10_000)[0]
    x = np.tile(planted.alphas, planted.n_samples)
    naive = np.mean([stats.spearmanr(x, c.reshape(-1)).statistic for c in cube])
    assert truth == pytest.approx(naive, abs=0.02) and 0.3 < truth < 0.6  # the naive mean's standard error: 0.0044
    assert population_value(DESIGN, "within", np.random.default_rng(1)) == 0.0


@pytest.mark.slow
def test_a_small_calibration_run_is_calibrated_and_the_old_statistic_is_diluted():
    rows = calibration_rows([DESIGN, DESIGN.planted(1.0)], n_sets=200, n_boot=400, seed=3,
                            methods=[WORKBENCH, OLD])
    by = {(r["method"], r["design"].beta): r for r in rows}
    null, planted = by[(WORKBENCH, 0.0)], by[(WORKBENCH, 1.0)]
    assert null["n_sets"] == planted["n_sets"] == 200 and null["undefined"] == planted["undefined"] == 0
    assert null["excludes_0"] <= 0.08 and 0.9 <= planted["coverage"] <= 0.99
    assert planted["width_ratio"] <= 1.3 and null["width_ratio"] <= 1.3 and planted["excludes_0"] > 0.4
    assert by[(OLD, 1.0)]["truth"] < planted["truth"] - 0.1  # pooling dilutes the within-prompt effect
    table = markdown_table(rows)
    assert table.count("\n") == 2 + 4 and "(FPR)" in table and "(power)" in table
