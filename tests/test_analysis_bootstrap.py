"""The batched bootstrap of PC-rating correlations against a plain loop over resamples."""

from __future__ import annotations

import numpy as np
import pytest
from test_analysis_support import make_acts, make_ratings, naive_bootstrap_r
from threadpoolctl import threadpool_limits

from workbench.analysis import emotion_vectors
from workbench.analysis.analyze import pc_stats
from workbench.analysis.bootstrap import SMALL_D, Condition, bootstrap_pc_r
from workbench.analysis.headline import draw_counts
from workbench.analysis.prepare import prepare
from workbench.analysis.selection import weighted_r
from workbench.analysis.stats import bootstrap_draws
from workbench.analysis.vectors import to_numpy


@pytest.mark.parametrize("stories,d_model", [(3, 120), (None, 120), (3, 40)])
def test_bootstrap_matches_a_loop(stories, d_model):
    # 120 emotions (about 76 distinct per resample): with d_model 120 the Krylov solver is used, not the
    # exact one; with 40 (<= SMALL_D) the exact d x d covariance problem
    ratings = make_ratings(120, seed=1)
    acts, neutral = make_acts(ratings, n_layers=2, d_model=d_model, stories=stories or 2, valence_signal=3.0,
                              arousal_signal=1.5, decay=1.0, n_neutral=20, seed=2)
    vec = emotion_vectors(acts, neutral)
    data = prepare(vec, ratings, acts if stories else None)
    setups = [None, to_numpy(vec.neutral_basis)]
    conds, axes = [], []
    for X, basis in ((to_numpy(vec.contrast), None), (to_numpy(vec.projected), setups[1])):
        P, _ = pc_stats(X, data.valence, data.arousal, 5)
        conds.append(Condition(basis, P.axes[:, :2], P.eigvecs[:, :, :3]))
        axes.append(P.axes[:, :2])
    draws = bootstrap_draws(np.random.default_rng(5), 12, 120, data.counts)
    units = data.units if stories else vec.contrast.transpose(0, 1)
    fast, n_exact, scores = bootstrap_pc_r(units, draws, data.valence, data.arousal, conds, chunk=5, workers=2,
                                           keep_scores=True)
    if d_model > SMALL_D:
        assert n_exact < fast.shape[0] * fast.shape[1] * fast.shape[2]
    # the kept scores, weighted by the draw counts, give the same r
    w = draw_counts(draws.emotions, 120)
    for c in range(2):
        for j, y in enumerate((data.valence, data.arousal)):
            r = weighted_r(scores[c, :, :, :, j], y, w[:, None, :])[:, 0, :]
            np.testing.assert_allclose(r, fast[c, :, :, j], atol=2e-4)
    with threadpool_limits(1):  # many small SVDs: BLAS threads only contend on a shared machine
        slow = naive_bootstrap_r(units.double().numpy(), draws, setups, axes, data.valence, data.arousal)
    np.testing.assert_allclose(fast, slow, atol=2e-4)
