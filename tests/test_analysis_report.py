"""``analyze``: planted answers, every statistic against a naive computation, files, bad inputs."""

from __future__ import annotations

import json
import math
import statistics

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from scipy import stats as st
from sklearn.linear_model import RidgeCV
from test_analysis_support import make_acts, make_ratings, naive_bootstrap_r, naive_pc

from workbench.analysis import GeometryReport, analyze, emotion_vectors, linear_cka
from workbench.analysis.analyze import rng_streams
from workbench.analysis.report import ANALYSIS_FILES, LAYER_COLUMNS
from workbench.analysis.selection import emotion_splits, topic_splits
from workbench.analysis.stats import bootstrap_draws, permutation_draws
from workbench.analysis.valence import alpha_grid, kfold_indices
from workbench.analysis.vectors import to_numpy
from workbench.collect.activations import StoryActivations
from workbench.data.ratings import load_ratings
from workbench.errors import InputError

ISSUE_COLUMNS = ("layer, depth, neutral_projection, n_emotions, pc1_valence_r, pc1_valence_p, pc1_valence_ci_low, "
                 "pc1_valence_ci_high, pc1_valence_p_perm, pc1_valence_q, pc2_arousal_r, pc2_arousal_p, "
                 "pc2_arousal_ci_low, pc2_arousal_ci_high, pc2_arousal_q, best_arousal_pc, best_arousal_r, "
                 "valence_cv_r, pc1_explained, pc2_explained").split(", ")


def _run(ratings, seed=0, bootstrap=60, permutations=100, **kw):
    acts, neutral = make_acts(ratings, seed=seed, **kw)
    vec = emotion_vectors(acts, neutral)
    return acts, vec, analyze(vec, ratings, acts, bootstrap=bootstrap, permutations=permutations, seed=seed,
                              progress=False)


def test_planted_valence_is_recovered():
    ratings = load_ratings()
    _, _, report = _run(ratings, n_layers=3, d_model=64, stories=4, valence_signal=5.0, arousal_signal=0.5,
                        bootstrap=100, permutations=200)
    for cond in report.conditions:
        assert (cond.columns["pc1_valence_r"] > 0.95).all(), cond.columns["pc1_valence_r"]
        assert (cond.columns["valence_cv_r"] > 0.9).all(), cond.columns["valence_cv_r"]
        assert (cond.columns["pc1_valence_q"] < 0.05).all()
        assert (cond.columns["pc1_valence_ci_low"] > 0.9).all()
        assert cond.peak.r > 0.9 and cond.peak.max_stat_p < 0.01 and cond.peak.ci_low > 0.85
        assert cond.peak.ridge_heldout_r > 0.9 and cond.peak.best_pc == 1
    assert len(report.conditions) == 2 and report.conditions[1].neutral_projection


def test_pure_noise_gives_no_discovery():
    ratings = load_ratings()
    _, _, report = _run(ratings, n_layers=6, d_model=64, stories=3, valence_signal=0.0, arousal_signal=0.0,
                        style=0.0, bootstrap=30, permutations=200, seed=3)
    for cond in report.conditions:
        assert (cond.columns["pc1_valence_q"] >= 0.05).all(), cond.columns["pc1_valence_q"]
        assert (cond.columns["pc2_arousal_q"] >= 0.05).all(), cond.columns["pc2_arousal_q"]
        cv = cond.columns["valence_cv_r"]
        assert abs(cv.mean()) < 0.1 and np.abs(cv).max() < 0.3, cv


def test_every_statistic_matches_a_naive_computation():
    ratings = make_ratings(40, seed=4)
    acts, vec, report = _run(ratings, n_layers=3, d_model=24, stories=4, valence_signal=1.5, arousal_signal=1.0,
                             seed=5, bootstrap=40, permutations=150)
    v, a = np.asarray(ratings.valence), np.asarray(ratings.arousal)
    n, L = 40, 3
    streams = rng_streams(5)
    perms = permutation_draws(streams["permutation"], 150, n)
    folds = kfold_indices(streams["cv"], n, 5)
    splits = emotion_splits(streams["split"], n, 50)
    units = vec.contrast.transpose(0, 1).double().numpy()  # the default bootstrap resamples emotions only
    draws = bootstrap_draws(streams["bootstrap"], 40, n, None)
    bases = [None, vec.neutral_basis.double().numpy()]
    axes = []  # the full-sample PC axes, signed as reported (r with the ratings >= 0)
    for kind in ("contrast", "projected"):
        X = to_numpy(vec.kind(kind))
        signed = np.zeros((L, 2, X.shape[2]))
        for layer in range(L):
            scores, ax, _ = naive_pc(X[layer], 2)
            for j, y in enumerate((v, a)):
                signed[layer, j] = ax[j] * np.sign(st.pearsonr(scores[:, j], y).statistic)
        axes.append(signed)
    boot = naive_bootstrap_r(units, draws, bases, axes, v, a)
    for cond, kind in zip(report.conditions, ("contrast", "projected")):
        X = to_numpy(vec.kind(kind))
        c = cond.columns
        null = np.zeros((150, L))
        pc1 = np.zeros((L, n))
        for layer in range(L):
            scores, axes, explained = naive_pc(X[layer], 5)
            r1, r2 = st.pearsonr(scores[:, 0], v), st.pearsonr(scores[:, 1], a)
            assert c["pc1_valence_r"][layer] == pytest.approx(abs(r1.statistic), abs=1e-9)
            assert c["pc1_valence_p"][layer] == pytest.approx(r1.pvalue, rel=1e-6)
            assert c["pc1_flipped"][layer] == (np.sign(axes[0][np.abs(axes[0]).argmax()]) * r1.statistic < 0)
            assert c["pc2_arousal_r"][layer] == pytest.approx(abs(r2.statistic), abs=1e-9)
            assert c["pc2_arousal_p"][layer] == pytest.approx(r2.pvalue, rel=1e-6)
            np.testing.assert_allclose([c["pc1_explained"][layer], c["pc2_explained"][layer]], explained[:2])
            pc1[layer] = scores[:, 0]
            ra = [abs(st.pearsonr(scores[:, j], a).statistic) for j in range(5)]
            assert c["best_arousal_pc"][layer] == int(np.argmax(ra)) + 1
            assert c["best_arousal_r"][layer] == pytest.approx(max(ra), abs=1e-9)
            rv = [abs(st.pearsonr(scores[:, j], v).statistic) for j in range(5)]
            assert c["best_valence_pc"][layer] == int(np.argmax(rv)) + 1
            best_null = [max(abs(st.pearsonr(scores[:, j], v[p]).statistic) for j in range(5)) for p in perms]
            assert c["best_valence_p"][layer] == pytest.approx((1 + (np.array(best_null) >= max(rv) - 1e-12).sum())
                                                               / 151)
            for j, name in enumerate(("pc1_valence", "pc2_arousal")):
                z = [math.atanh(x) for x in boot[int(cond.neutral_projection), :, layer, j]]
                half = st.norm.ppf(0.975) * statistics.stdev(z)
                centre = math.atanh(c[f"{name}_r"][layer])
                assert c[f"{name}_ci_low"][layer] == pytest.approx(math.tanh(centre - half), abs=1e-6)
                assert c[f"{name}_ci_high"][layer] == pytest.approx(math.tanh(centre + half), abs=1e-6)
            null[:, layer] = [abs(st.pearsonr(scores[:, 0], v[p]).statistic) for p in perms]
            p_perm = (1 + (null[:, layer] >= abs(r1.statistic) - 1e-12).sum()) / 151
            assert c["pc1_valence_p_perm"][layer] == pytest.approx(p_perm)
            fold_r = []
            for test in folds:
                train = np.setdiff1d(np.arange(n), test)
                model = RidgeCV(alphas=alpha_grid(X[layer:layer + 1])[0]).fit(X[layer, train], v[train])
                fold_r.append(st.pearsonr(model.predict(X[layer, test]), v[test]).statistic)
            assert c["valence_cv_r"][layer] == pytest.approx(np.mean(fold_r), abs=1e-8)
        np.testing.assert_allclose(c["pc1_valence_q"], st.false_discovery_control(c["pc1_valence_p_perm"]))
        observed = c["pc1_valence_r"]
        np.testing.assert_allclose(c["pc1_valence_p_maxstat"],
                                   [(1 + (null.max(axis=1) >= o - 1e-12).sum()) / 151 for o in observed])
        for i in range(L):
            for j in range(L):
                assert cond.cka_debiased[i, j] == pytest.approx(linear_cka(X[i], X[j]), abs=1e-10)
                assert cond.cka_biased[i, j] == pytest.approx(linear_cka(X[i], X[j], False), abs=1e-10)
        np.testing.assert_allclose(cond.valence_cosine, cond.directions @ cond.directions.T, atol=1e-12)
        # the cross-fit: chosen on half A of the emotions, r on half B signed by A, and swapped
        chosen, held = [], []
        for mask in splits:
            for sel, est in ((mask, ~mask), (~mask, mask)):
                r_sel = [st.pearsonr(pc1[layer, sel], v[sel]).statistic for layer in range(L)]
                j = int(np.argmax(np.abs(r_sel)))
                chosen.append(j)
                held.append(np.sign(r_sel[j]) * st.pearsonr(pc1[j, est], v[est]).statistic)
        peak = int(np.argmax(np.bincount(chosen, minlength=L)))
        assert cond.peak.layer == report.layers[peak]
        assert cond.peak.layer_share == pytest.approx(np.mean(np.array(chosen) == peak))
        assert cond.peak.r == pytest.approx(np.mean(held), abs=1e-9)
        # its interval: every bootstrap data set (emotions drawn with repeats) runs the whole cross-fit
        # again; its error is taken against the full-sample r of what it chose, in Fisher's z
        full_r = [np.corrcoef(pc1[layer], v)[0, 1] for layer in range(L)]
        errors = []
        for drawn in draws.emotions:
            est, target = [], []
            for mask in splits:
                for side in (True, False):
                    sel, out = drawn[mask[drawn] == side], drawn[mask[drawn] != side]
                    r_sel = [np.corrcoef(pc1[layer, sel], v[sel])[0, 1] for layer in range(L)]
                    j = int(np.argmax(np.abs(r_sel)))
                    est.append(np.sign(r_sel[j]) * np.corrcoef(pc1[j, out], v[out])[0, 1])
                    target.append(np.sign(r_sel[j]) * full_r[j])
            errors.append(math.atanh(np.mean(est)) - math.atanh(np.mean(target)))
        half = st.norm.ppf(0.975) * statistics.stdev(errors)
        assert cond.peak.ci_low == pytest.approx(math.tanh(math.atanh(np.mean(held)) - half), abs=1e-9)
        assert cond.peak.ci_high == pytest.approx(math.tanh(math.atanh(np.mean(held)) + half), abs=1e-9)
        assert cond.peak.max_stat_p == pytest.approx(c["pc1_valence_p_maxstat"][peak])
        assert cond.peak.r_in_sample == pytest.approx(c["pc1_valence_r"][peak])
        np.testing.assert_allclose(c["valence_chosen_share"], np.bincount(chosen, minlength=L) / len(chosen))


def test_save_writes_the_listed_files_and_loads_back(tmp_path):
    ratings = make_ratings(12, seed=6)
    acts, vec, report = _run(ratings, n_layers=3, d_model=16, stories=2, seed=7, bootstrap=20, permutations=20)
    acts.save(tmp_path)
    vec.save(tmp_path)
    report.save(tmp_path)
    names = {p.name for p in tmp_path.iterdir()}
    assert names == set(ANALYSIS_FILES) | {"manifest.json", "activations.safetensors", "texts.jsonl",
                                           "emotion_vectors.safetensors", ".workbench-run", ".workbench.lock"}
    assert (tmp_path / ".workbench.lock").read_bytes() == b""  # no holder once the saves are done
    header = (tmp_path / "layers.csv").read_text().splitlines()[0].split(",")
    assert set(ISSUE_COLUMNS) <= set(header) and tuple(header) == LAYER_COLUMNS
    assert len((tmp_path / "layers.csv").read_text().splitlines()) == 1 + 2 * 3
    for name in ("cka_debiased", "cka_biased", "valence_cosine"):
        lines = (tmp_path / f"{name}.csv").read_text().splitlines()
        assert lines[0] == "layer,0,1,2" and [x.split(",")[0] for x in lines[1:]] == ["0", "1", "2"]
    dirs = load_file(tmp_path / "valence_directions.safetensors")
    assert dirs["directions"].shape == (3, 16) and dirs["directions_projected"].shape == (3, 16)
    summary = json.loads((tmp_path / "summary.json").read_text())
    for key in ("peak_layer", "peak_r", "peak_max_stat_p", "peak_ci_low", "peak_q", "arousal_peak_layer"):
        assert key in summary
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert {"collect", "vectors", "analysis"} <= set(manifest)
    section = manifest["analysis"]
    assert section["emotions"] == list(vec.emotions) and "dtype" in section and section["seed"] == 7
    assert "emotion_vectors.safetensors sha256" in section["inputs"] and "versions" in section
    back = GeometryReport.load(tmp_path)
    assert back.emotions == report.emotions and back.layers == report.layers
    for a, b in zip(report.conditions, back.conditions):
        for name in LAYER_COLUMNS[4:]:
            np.testing.assert_allclose(np.asarray(b.columns[name], float), np.asarray(a.columns[name], float),
                                       rtol=1e-9, atol=1e-12, equal_nan=True)
        np.testing.assert_allclose(b.cka_debiased, a.cka_debiased, rtol=1e-9)
        np.testing.assert_allclose(b.cka_null_biased, a.cka_null_biased, rtol=1e-9)
        np.testing.assert_allclose(b.directions, a.directions, rtol=1e-6)
        assert b.peak == a.peak or (b.peak.layer == a.peak.layer and b.peak.r == pytest.approx(a.peak.r))
        assert b.arousal_peak.layer == a.arousal_peak.layer


def test_exclude_estimated_drops_the_seven_estimates():
    ratings = load_ratings()
    acts, neutral = make_acts(ratings, n_layers=2, d_model=16, stories=2, seed=8)
    vec = emotion_vectors(acts)
    report = analyze(vec, ratings, acts, bootstrap=10, permutations=10, exclude_estimated=True, progress=False)
    estimated = {e for e, est in zip(ratings.emotions, ratings.is_estimated) if est}
    assert len(estimated) == 7 and set(report.excluded) == estimated
    assert len(report.emotions) == 164 and not estimated & set(report.emotions)
    assert report.layers_table()[0]["n_emotions"] == 164
    assert any("no neutral texts" in note for note in report.notes) and len(report.conditions) == 1


def test_bad_inputs_are_clear_errors():
    ratings = make_ratings(8, seed=9)
    acts, _ = make_acts(ratings, n_layers=2, d_model=8, stories=2, seed=9)
    vec = emotion_vectors(acts)
    other = make_ratings(6, seed=9)
    with pytest.raises(InputError, match=r"have no rating: \['emo006', 'emo007'\]"):
        analyze(vec, other, progress=False)
    one = acts.select([i for i, m in enumerate(acts.meta) if not (m["emotion"] == "emo003" and m["story"] == 1)])
    with pytest.raises(InputError, match="emo003"):
        analyze(emotion_vectors(one), ratings, one, bootstrap=10, permutations=10, progress=False)
    means = acts.means.clone()
    means[5, 1, 0] = float("inf")
    bad = StoryActivations(means, acts.n_tokens, acts.layers, acts.meta)
    with pytest.raises(InputError, match=r"layer 1, emotion 'emo002'"):
        analyze(vec, ratings, bad, bootstrap=10, permutations=10, progress=False)
    few = acts.select([i for i, m in enumerate(acts.meta) if m["emotion"] in ("emo000", "emo001", "emo002")])
    with pytest.raises(InputError, match="at least 4 emotions"):
        analyze(emotion_vectors(few), ratings, progress=False)
    with pytest.raises(InputError, match="bootstrap"):
        analyze(vec, ratings, bootstrap=3, progress=False)
    with pytest.raises(InputError, match="not the means of these stories"):
        analyze(vec * 2.0, ratings, acts, bootstrap=10, permutations=10, progress=False)
    nan_vec = type(vec)(vec.emotions, vec.layers, vec.raw, vec.contrast.clone().index_fill_(1, torch.tensor([4]),
                                                                                              float("nan")))
    with pytest.raises(InputError, match=r"\(layer, emotion\) \[\(0, 'emo004'\), \(1, 'emo004'\)\]"):
        analyze(nan_vec, ratings, progress=False)


def test_a_layer_of_zeros_gives_nan_statistics_and_a_warning_naming_it():
    ratings = make_ratings(60, seed=1)
    acts, neutral = make_acts(ratings, n_layers=3, d_model=40, stories=3, valence_signal=2.0, seed=2)
    means = acts.means.clone()
    means[:, 1] = 0.0
    acts = StoryActivations(means, acts.n_tokens, acts.layers, acts.meta, acts.spec, acts.params)
    vec = emotion_vectors(acts, neutral)
    with pytest.warns(RuntimeWarning, match=r"layer\(s\) \[1\]"):
        report = analyze(vec, ratings, acts, bootstrap=20, permutations=30, cka_shuffles=10, progress=False)
    for cond in report.conditions:
        c = cond.columns
        for name in ("pc1_valence_r", "pc1_valence_p_perm", "pc1_valence_q", "pc1_valence_p_maxstat",
                     "pc1_valence_ci_low", "pc2_arousal_p_perm", "best_valence_p", "valence_cv_r"):
            assert np.isnan(c[name][1]), name
        assert np.isfinite(c["pc1_valence_q"][[0, 2]]).all() and c["valence_chosen_share"][1] == 0
        assert cond.peak.layer != 1 and np.isfinite(cond.peak.r)


def _with_topics(acts: StoryActivations, topic_of) -> StoryActivations:
    meta = tuple({**m, "topic": topic_of(i, m)} for i, m in enumerate(acts.meta))
    return StoryActivations(acts.means, acts.n_tokens, acts.layers, meta, acts.spec, acts.params)


def test_topic_held_out_splits_match_a_naive_computation():
    ratings = make_ratings(60, seed=8)
    acts, neutral = make_acts(ratings, n_layers=3, d_model=20, stories=4, valence_signal=1.5, seed=9)
    # each emotion's stories on 2 of 6 topics: with halves of 3 topics, some emotions have no story in a half
    acts = _with_topics(acts, lambda i, m: f"t{((i // 4) * 5 + (i % 4) // 2) % 6}")
    vec = emotion_vectors(acts, neutral)
    report = analyze(vec, ratings, acts, bootstrap=30, permutations=30, seed=3, splits=10, split_by="topics",
                     progress=False)
    v = np.asarray(ratings.valence)
    n, L = 60, 3
    streams = rng_streams(3)
    draws = bootstrap_draws(streams["bootstrap"], 30, n, None)
    rng = streams["split"]
    splits = emotion_splits(rng, n, 10)
    topics = sorted({m["topic"] for m in acts.meta})
    halves = topic_splits(rng, len(topics), 10)
    story_topic = np.array([topics.index(m["topic"]) for m in acts.meta])
    story_emotion = np.array([vec.emotions.index(m["emotion"]) for m in acts.meta])
    raw = acts.means.double().numpy()  # [stories, L, d]
    absent = 0
    for cond, kind in zip(report.conditions, ("contrast", "projected")):
        X = to_numpy(vec.kind(kind))
        centre = vec.raw.double().numpy().mean(axis=1)
        axes = []
        for layer in range(L):
            scores, ax, _ = naive_pc(X[layer], 1)
            axes.append(ax[0] * np.sign(st.pearsonr(scores[:, 0], v).statistic))
        tables = []  # per split: {topic half: {emotion: [score per layer]}} over the emotions with a story there
        for topic0 in halves:
            table = {}
            for half in (True, False):
                table[half] = {}
                for e in range(n):
                    own = (story_emotion == e) & (topic0[story_topic] == half)
                    if own.any():
                        table[half][e] = [float(np.mean((raw[own, layer] - centre[layer]) @ axes[layer]))
                                          for layer in range(L)]
            tables.append(table)
            absent += 2 * n - len(table[True]) - len(table[False])

        def r(table, emotions, layer):
            return np.corrcoef([table[e][layer] for e in emotions], v[emotions])[0, 1]

        def crossfit(drawn, tables=tables):
            """(held-out r, the full-sample r of what was chosen) over every split, both ways."""
            held, target, chosen = [], [], []
            for mask, table in zip(splits, tables):
                # emotions of half A through topic half 0 choose, B through topic half 1 is scored; and swapped
                for side, sel_half, est_half in ((True, True, False), (False, False, True)):
                    sel = [e for e in drawn if mask[e] == side and e in table[sel_half]]
                    est = [e for e in drawn if mask[e] != side and e in table[est_half]]
                    r_sel = np.array([r(table[sel_half], sel, layer) for layer in range(L)])
                    if np.isnan(r_sel).all():  # no r on the choosing side (too few distinct emotions drawn)
                        continue
                    j = int(np.nanargmax(np.abs(r_sel)))
                    chosen.append(j)
                    h = np.sign(r_sel[j]) * r(table[est_half], est, j)
                    held.append(h)
                    target.append(np.nan if np.isnan(h) else np.sign(r_sel[j]) * r(table[est_half], list(table[est_half]), j))
            return np.nanmean(held), np.nanmean(target), chosen

        estimate, _, chosen = crossfit(list(range(n)))
        assert cond.peak.r == pytest.approx(estimate, abs=1e-9)
        assert cond.peak.layer == int(np.argmax(np.bincount(chosen, minlength=L)))
        assert "story topics" in cond.peak.selection
        errors = []
        with np.errstate(invalid="ignore"):  # a side with one distinct emotion has no r: left out, as the code does
            for drawn in draws.emotions:
                held, target, _ = crossfit(list(drawn))
                errors.append(math.atanh(held) - math.atanh(target))
        half = st.norm.ppf(0.975) * statistics.stdev(errors)
        assert cond.peak.ci_low == pytest.approx(math.tanh(math.atanh(estimate) - half), abs=1e-9)
        assert cond.peak.ci_high == pytest.approx(math.tanh(math.atanh(estimate) + half), abs=1e-9)
    assert absent > 0  # the path of an emotion without a story in its half was taken


def test_topic_held_out_splits_need_topics_and_stories():
    ratings = make_ratings(12, seed=8)
    acts, neutral = make_acts(ratings, n_layers=2, d_model=8, stories=2, seed=9)
    vec = emotion_vectors(acts, neutral)
    with pytest.raises(InputError, match="split_by 'topics' needs the story activations"):
        analyze(vec, ratings, None, bootstrap=10, permutations=10, split_by="topics", progress=False)
    one = _with_topics(acts, lambda i, m: "same")
    with pytest.raises(InputError, match="1 distinct topic"):
        analyze(vec, ratings, one, bootstrap=10, permutations=10, split_by="topics", progress=False)
    with pytest.raises(InputError, match="split_by must be one of"):
        analyze(vec, ratings, acts, bootstrap=10, permutations=10, split_by="stories", progress=False)
