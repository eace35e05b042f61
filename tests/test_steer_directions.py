"""Direction names, random controls, the layer norm and the read-back layer, from an analysed run folder."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_steer_support import make_run

from workbench.analysis import EmotionVectors, GeometryReport
from workbench.collect.activations import StoryActivations
from workbench.errors import InputError, RunFolderError
from workbench.steer import SteerSettings, prepare_steering, random_directions, resolve_direction
from workbench.steer.directions import activation_norm, default_readback_layer, parse_direction, token_norm
from workbench.steer.prompts import load_prompts

EMOTIONS = ("happy", "sad", "self-conscious", "self", "conscious-happy", "at ease")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("run"), tmp_path_factory.mktemp("no-model"))


@pytest.mark.parametrize("name, parts", [
    ("valence", ("valence",)), ("happy", ("happy",)), ("self-conscious", ("self-conscious",)),
    ("happy-sad", ("happy", "sad")), ("self-conscious-sad", ("self-conscious", "sad")),
    ("at ease-sad", ("at ease", "sad")), (" sad - happy ", ("sad", "happy")),
])
def test_parse_direction(name, parts):
    assert parse_direction(name, EMOTIONS) == parts


@pytest.mark.parametrize("name, message", [
    ("joyous", r"unknown direction 'joyous': \['joyous'\] is not an emotion"),
    ("happy-joyous", r"\['joyous'\] is not an emotion"),
    ("happy-happy", "both sides are 'happy'"),
    ("self-conscious-happy", "ambiguous"),  # self | conscious-happy, or self-conscious | happy
])
def test_bad_direction_names(name, message):
    with pytest.raises(InputError, match=message):
        parse_direction(name, EMOTIONS)


def test_resolved_directions_are_the_run_vectors(run):
    report, vectors = GeometryReport.load(run), EmotionVectors.load(run)
    v = resolve_direction("valence", 2, report)
    ridge = torch.as_tensor(report.condition(False).directions[2]).float()
    torch.testing.assert_close(v.vector, ridge / ridge.norm())
    a, b = vectors.emotions[0], vectors.emotions[5]
    e = resolve_direction(a, 1, report, vectors)
    c = vectors.contrast[1, 0]
    torch.testing.assert_close(e.vector, c / c.norm())
    ab = resolve_direction(f"{a}-{b}", 1, report, vectors)
    diff = vectors.contrast[1, 0] - vectors.contrast[1, 5]
    torch.testing.assert_close(ab.vector, diff / diff.norm())
    assert (v.name, e.name, ab.name, ab.kind) == ("valence", a, f"{a}-{b}", "direction")
    # the planted valence axis: the direction points from negative to positive emotions
    from workbench.data.ratings import load_ratings

    valence = load_ratings().subset(vectors.emotions).valence
    assert np.corrcoef((vectors.contrast[2] @ v.vector).numpy(), valence)[0, 1] > 0.5


def test_random_controls_are_seeded_unit_vectors():
    a = random_directions(64, 3, seed=5, layer=1)
    b = random_directions(64, 3, seed=5, layer=1)
    c = random_directions(64, 3, seed=6, layer=1)
    assert [d.name for d in a] == ["random0", "random1", "random2"] and {d.kind for d in a} == {"control"}
    for x, y, z in zip(a, b, c):
        assert torch.equal(x.vector, y.vector) and not torch.equal(x.vector, z.vector)
        assert float(x.vector.norm()) == pytest.approx(1.0, abs=1e-6)
    g = torch.Generator().manual_seed(5)
    raw = torch.randn(3, 64, generator=g, dtype=torch.float64)
    torch.testing.assert_close(a[2].vector, (raw[2] / raw[2].norm()).float())
    gram = torch.stack([d.vector for d in a]) @ torch.stack([d.vector for d in a]).T
    assert gram.fill_diagonal_(0).abs().max() < 0.5  # random directions in 64 dims are far from parallel


def test_activation_norm_and_readback_layer(run):
    acts = StoryActivations.load(run)
    naive = np.mean([np.linalg.norm(acts.means[i, 1].double().numpy()) for i in range(len(acts))])
    assert activation_norm(acts, 1) == pytest.approx(naive, rel=1e-12)
    report = GeometryReport.load(run)
    cv = report.condition(False).columns["valence_cv_r"]
    assert default_readback_layer(report, 0) == 1 + int(np.argmax(cv[1:]))
    assert default_readback_layer(report, 1) == 2
    with pytest.raises(InputError, match="no analysed layer after layer 2"):
        default_readback_layer(report, 2)
    with pytest.raises(InputError, match="layer 7 was not collected"):
        activation_norm(acts, 7)


def test_token_norm_is_the_token_weighted_mean_over_story_texts(run):
    acts = StoryActivations.load(run)
    story = [i for i, m in enumerate(acts.meta) if m["kind"] == "story"]
    assert 0 < len(story) < len(acts)  # the neutral texts are left out
    n = acts.n_tokens[story].double().numpy()
    naive = float((acts.token_norms[story, 2].double().numpy() * n).sum() / n.sum())
    assert token_norm(acts, 2) == pytest.approx(naive, rel=1e-12)
    assert token_norm(acts, 2) > 1.9 * activation_norm(acts, 2)
    with pytest.raises(InputError, match="no story text"):
        token_norm(acts.neutral, 2)


def test_steering_a_run_without_token_norms_is_refused_unless_text_mean(tmp_path):
    old = make_run(tmp_path / "old", tmp_path / "no-model", token_norms=False)
    with pytest.raises(RunFolderError, match=r"old: the run folder was collected before per-token norms.*--norm "
                                             r"text-mean"):
        prepare_steering(old, SteerSettings(layer=1))
    plan = prepare_steering(old, SteerSettings(layer=1, norm="text-mean"))
    assert plan.norm == pytest.approx(activation_norm(StoryActivations.load(old), 1))
    with pytest.raises(InputError, match="^norm must be one of"):  # the field; the CLI says --norm
        SteerSettings(layer=1, norm="max")


def test_prepare_resolves_everything_before_a_model_is_loaded(run):
    plan = prepare_steering(run, SteerSettings(layer=-2, random_controls=2, seed=3))
    assert plan.direction.layer == 1 and plan.readback_layer == 2
    assert [d.name for d in plan.directions] == ["valence", "random0", "random1"]
    torch.testing.assert_close(plan.directions[2].vector, random_directions(64, 2, 3, 1)[1].vector)
    assert plan.norm == pytest.approx(token_norm(StoryActivations.load(run), 1)) and plan.settings.norm == "token-mean"
    assert plan.prompts == load_prompts() and len(plan.prompts) >= 12
    assert plan.model["dtype"] == "float32"


def test_the_default_prompts_are_neutral():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    from workbench.data.ratings import load_ratings

    prompts = load_prompts()
    assert 12 <= len(prompts) <= 20
    analyzer = SentimentIntensityAnalyzer()
    assert all(analyzer.polarity_scores(p)["compound"] == 0.0 for p in prompts)
    words = {w.strip(".,").lower() for p in prompts for w in p.split()}
    assert not words & set(load_ratings().emotions)


def test_bad_prompt_files(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_prompts(tmp_path / "none.txt")
    (tmp_path / "empty.txt").write_text("# only a comment\n\n")
    with pytest.raises(InputError, match="has no prompt"):
        load_prompts(tmp_path / "empty.txt")
    (tmp_path / "twice.txt").write_text("a b\nc d\na b\n")
    with pytest.raises(InputError, match="'a b' is listed twice"):
        load_prompts(tmp_path / "twice.txt")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8"):
        load_prompts(tmp_path / "latin1.txt")
