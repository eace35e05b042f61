"""Preference statistics: both orders averaged, position bias, the pair design, the Elo-valence r."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.prefer.bt import ELO_SCALE, fit_bradley_terry, wins_matrix
from workbench.prefer.stats import elo_valence, group_gap, order_pairs, pair_design, position_bias, unordered


def _gaps(theta, ordered, bias=0.0):
    return np.array([theta[a] - theta[b] + bias for a, b in ordered])


def test_pair_design_is_balanced_and_distinct():
    pairs = pair_design(40, 120, seed=0)
    assert len(pairs) == len(set(pairs)) == 120 and all(i < j for i, j in pairs)
    counts = np.bincount(np.array(pairs).ravel(), minlength=40)
    assert counts.min() == counts.max() == 6  # 6 rounds of perfect matchings
    assert len(pair_design(5, 0, seed=0)) == 10 and len(pair_design(5, 99, seed=0)) == 10


def test_unbiased_logit_gaps_give_the_planted_elo():
    theta = np.array([1.0, 0.5, 0.0, -0.3, -1.2])
    ordered = order_pairs(pair_design(5, 0, seed=0))
    i, j, p1, p2 = unordered(ordered, _gaps(theta, ordered))
    np.testing.assert_allclose(p1, p2)
    fit = fit_bradley_terry(wins_matrix(i, j, (p1 + p2) / 2, 5))
    np.testing.assert_allclose(fit.elo, 1000 + ELO_SCALE * (theta - theta.mean()), atol=1e-6)


def test_a_constant_pull_to_a_flips_answers_and_averaging_removes_it():
    theta = np.linspace(1, -1, 8)
    ordered = order_pairs(pair_design(8, 0, seed=0))
    gaps = _gaps(theta, ordered, bias=3.0)  # answers A almost always
    pb = position_bias(ordered, gaps)
    assert pb["p_answer_a"] > 0.8
    # a pair flips when its true gap is below the pull: |theta_i - theta_j| < 3, i.e. every pair here
    assert pb["flip_share_raw"] == 1.0
    assert pb["flip_share_centred"] == 0.0
    i, j, p1, p2 = unordered(ordered, gaps)
    elo = fit_bradley_terry(wins_matrix(i, j, (p1 + p2) / 2, 8)).elo
    assert np.all(np.diff(elo) < 0)  # the order of the planted strengths survives the pull
    assert group_gap(elo, ["pleasant"] * 4 + ["unpleasant"] * 4) > 0


def test_elo_valence_finds_a_planted_r_and_is_calibrated_under_the_null():
    rng = np.random.default_rng(0)
    n = 40
    x = rng.normal(size=n)
    elo = 1000 + 100 * x + 60 * rng.normal(size=n)
    boot = elo[None] + rng.normal(0, 5, size=(300, n))
    out = elo_valence(elo, x, boot, n_perm=2000, seed=1)
    assert out["r"] == pytest.approx(np.corrcoef(elo, x)[0, 1])
    assert out["ci_low"] < out["r"] < out["ci_high"] and out["ci_low"] > 0.5
    assert out["p_perm"] < 0.001 and out["n"] == n
    # null: independent Elo and projections; the permutation p rejects at about the nominal rate,
    # and the interval covers 0 about 95% of the time
    rejects, covers, sims = 0, 0, 200
    for s in range(sims):
        e, p = rng.normal(size=n), rng.normal(size=n)
        got = elo_valence(e, p, np.broadcast_to(e, (200, n)), n_perm=200, seed=s)
        rejects += got["p_perm"] < 0.05
        covers += got["ci_low"] <= 0 <= got["ci_high"]
    assert 2 <= rejects <= 20, rejects  # binomial(200, 0.05): 10 expected
    assert covers >= 180, covers


def test_summary_of_planted_gaps():
    from prefer_support import planted_result

    s = planted_result(push=0.5).summary
    shifts = {c["name"]: c for c in s["conditions"]}
    # pleasant strengths + 0.5 in logits = + 0.5 x 400/ln 10 Elo for each pleasant activity; the unpleasant
    # ones lose a share of the mean shift (mean Elo 1000): the gap grows by 0.5 x ELO_SCALE
    assert shifts["valence +1"]["shift"] == pytest.approx(0.5 * ELO_SCALE, rel=0.05)
    assert shifts["valence -1"]["shift"] == pytest.approx(-0.5 * ELO_SCALE, rel=0.05)
    assert shifts["valence +1"]["ci_low"] > 0 > shifts["valence -1"]["ci_high"]
    assert abs(shifts["random0 +1"]["shift"]) < 10 and shifts["random0 +1"]["ci_low"] < 0 < shifts["random0 +1"]["ci_high"]
    assert s["elo_valence"]["r"] > 0.95 and s["elo_valence"]["p_perm"] < 0.05
    assert s["position_bias"]["unsteered"]["p_answer_a"] > 0.6  # the planted pull of 0.7 to A
    across = s["across_directions"]
    assert across["n"] == 2 and across["directions"][0]["shift_per_alpha"] == pytest.approx(0.5 * ELO_SCALE, rel=0.05)


def test_steered_shift_against_the_controls():
    from prefer_support import planted_result

    s = planted_result(push=0.5).summary
    vs = next(c for c in s["conditions"] if c["name"] == "valence +1")["vs_controls"]
    assert vs["difference"] == pytest.approx(0.5 * ELO_SCALE, rel=0.1) and vs["ci_low"] > 0
    assert vs["outside_controls"] is True and len(vs["control_shifts"]) == 1
