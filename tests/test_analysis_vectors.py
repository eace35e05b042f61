"""Emotion vectors against loops written here; save/load, arithmetic and bad inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA as SkPCA
from test_analysis_support import make_acts, make_ratings

from workbench.analysis import EmotionVectors, emotion_vectors
from workbench.collect.activations import StoryActivations
from workbench.errors import InputError, RunFolderError


def _acts(n_emotions=6, stories=3, layers=3, d=16, seed=0):
    return make_acts(make_ratings(n_emotions, seed), n_layers=layers, d_model=d, stories=stories, n_neutral=12,
                     seed=seed)


def test_vectors_match_loops():
    stories, neutral = _acts()
    # uneven story counts: drop one story of the second emotion (the mean of story means must not weigh texts)
    keep = [i for i, m in enumerate(stories.meta) if not (m["emotion"] == "emo001" and m["story"] == 0)]
    stories = stories.select(keep)
    v = emotion_vectors(stories, neutral, neutral_variance=0.5)
    means = stories.means.double().numpy()
    emotions = []
    for m in stories.meta:
        if m["emotion"] not in emotions:
            emotions.append(m["emotion"])
    assert v.emotions == tuple(emotions)
    assert v.n_stories == tuple(sum(m["emotion"] == e for m in stories.meta) for e in emotions)
    for li in range(3):
        raw = np.array([np.mean([means[i, li] for i, m in enumerate(stories.meta) if m["emotion"] == e], axis=0)
                        for e in emotions])
        np.testing.assert_allclose(v.raw[li].numpy(), raw, rtol=1e-5, atol=1e-4)
        contrast = raw - raw.mean(axis=0)
        np.testing.assert_allclose(v.contrast[li].numpy(), contrast, atol=1e-4)
        neu = neutral.means[:, li].double().numpy()
        ratio = SkPCA().fit(neu).explained_variance_ratio_
        k = int(np.argmax(np.cumsum(ratio) >= 0.5)) + 1
        assert v.neutral_k[li] == k
        basis = SkPCA(k).fit(neu).components_
        projected = contrast - contrast @ basis.T @ basis
        np.testing.assert_allclose(v.projected[li].numpy(), projected, atol=1e-4)
        assert np.abs(v.projected[li].double().numpy() @ basis.T).max() < 1e-3


def test_save_load_roundtrip_keeps_other_sections(tmp_path):
    stories, neutral = _acts()
    stories.save(tmp_path)
    v = emotion_vectors(stories, neutral)
    v.save(tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert "collect" in manifest and manifest["vectors"]["emotions"] == list(v.emotions)
    assert manifest["vectors"]["dtype"] == "float32"
    w = EmotionVectors.load(tmp_path)
    for kind in ("raw", "contrast", "projected", "neutral_basis"):
        assert torch.equal(getattr(w, kind), getattr(v, kind))
    assert (w.emotions, w.layers, w.neutral_k, w.n_stories) == (v.emotions, v.layers, v.neutral_k, v.n_stories)
    plain = emotion_vectors(stories)
    plain.save(tmp_path / "plain")
    assert EmotionVectors.load(tmp_path / "plain").projected is None
    with pytest.raises(RunFolderError, match="analyze"):
        EmotionVectors.load(tmp_path / "nowhere")


def test_arithmetic_direction_and_select():
    stories, neutral = _acts()
    v = emotion_vectors(stories, neutral)
    w = v * 2.0
    assert torch.allclose((w - v).contrast, v.contrast) and torch.allclose((v + v).raw, w.raw)
    assert torch.allclose((-v).projected, -v.projected) and torch.allclose((w / 2.0).raw, v.raw)
    d = v.direction("emo000", "emo001", layer=1)
    diff = v.contrast[1, 0] - v.contrast[1, 1]
    assert torch.allclose(d, diff / diff.norm(), atol=1e-6)
    assert v.direction("emo000", "emo001").shape == (3, 16)
    assert torch.equal(v.vector("emo002", 2, "raw"), v.raw[2, 2])
    s = v.select(["emo003", "emo000", "emo001"])
    raw = v.raw[:, [3, 0, 1]].double()
    assert torch.allclose(s.contrast.double(), raw - raw.mean(dim=1, keepdim=True), atol=1e-5)
    assert s.projected is not None and s.emotions == ("emo003", "emo000", "emo001")
    assert torch.allclose(v.normalized().contrast.norm(dim=-1), torch.ones(3, 6), atol=1e-5)
    for bad, match in ((lambda: v.vector("joy", 0), "unknown emotion"), (lambda: v.vector("emo000", 9), "layer 9"),
                       (lambda: v.vector("emo000", 0, "pca"), "kind"), (lambda: v + 1.0, None)):
        with pytest.raises((InputError, TypeError), match=match):
            bad()


def test_nan_activations_are_named():
    stories, _ = _acts()
    means = stories.means.clone()
    means[4, 2, 3] = float("nan")  # text 4 belongs to emo001, layer index 2 is block 2
    bad = StoryActivations(means, stories.n_tokens, stories.layers, stories.meta)
    with pytest.raises(InputError, match=r"layer 2, emotion 'emo001'"):
        emotion_vectors(bad)


def test_bad_inputs():
    stories, neutral = _acts()
    with pytest.raises(InputError, match="kind"):
        emotion_vectors(StoryActivations(torch.cat([stories.means, neutral.means]),
                                         torch.cat([stories.n_tokens, neutral.n_tokens]), stories.layers,
                                         stories.meta + neutral.meta))
    with pytest.raises(InputError, match="only kind 'neutral'"):
        emotion_vectors(stories, stories)
    with pytest.raises(InputError, match="at least 2"):
        emotion_vectors(stories.select([0, 1, 2]))
    with pytest.raises(InputError, match="neutral_variance"):
        emotion_vectors(stories, neutral, neutral_variance=1.5)
    with pytest.raises(InputError, match="layers"):
        emotion_vectors(stories, StoryActivations(neutral.means[:, :2], neutral.n_tokens, (0, 1), neutral.meta))
