"""Steering from memory: ``Direction.apply`` as a context manager, ``prepare_steering`` on in-memory results
(identical to the run-folder form), and the result's HTML table."""

from __future__ import annotations

import json
import re

import pytest
import torch
from test_steer_support import TINY_PROMPTS, make_model_dir, make_results, prompts_file
from tiny import tiny_model

from workbench.models import adapter_from_hf, load_model
from workbench.steer import SteerSettings, prepare_steering, run_steering
from workbench.steer.directions import Direction, token_norm
from workbench.steer.steering import calibration_norm

TEXTS = ["the old man and the child opened the door of the house", "she was in the room with her friend"]


@pytest.fixture(scope="module")
def adapter(tokenizer):
    return adapter_from_hf(tiny_model("llama", len(tokenizer)), tokenizer, backend="nnsight", name="tiny")


def _blocks(adapter):
    enc = adapter.tokenizer(TEXTS, return_tensors="pt", padding=True, padding_side="right")
    got = {}
    adapter.run_blocks(enc["input_ids"], enc["attention_mask"], lambda layer, h: got.__setitem__(layer, h.clone()))
    return got


def _direction(d_model, layer=1, seed=0):
    v = torch.randn(d_model, generator=torch.Generator().manual_seed(seed))
    return Direction("probe", "direction", layer, v / v.norm())


def test_apply_steers_the_directions_own_layer_and_alpha_0_is_the_identity(adapter):
    d = _direction(adapter.d_model, layer=1)
    base = _blocks(adapter)
    with d.apply(adapter, 0.0, norm=5.0):
        zero = _blocks(adapter)
    assert all(torch.equal(zero[k], base[k]) for k in base)
    with d.apply(adapter, 0.5, norm=4.0):
        assert len(adapter.active_interventions) == 1 and adapter.active_interventions[0][0] == 1
        moved = _blocks(adapter)
    torch.testing.assert_close(moved[1] - base[1], (2.0 * d.vector).expand_as(base[1]), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(moved[0], base[0], rtol=0, atol=0)
    assert adapter.active_interventions == ()


def test_apply_without_a_norm_measures_it_on_the_steering_prompts(adapter):
    d = _direction(adapter.d_model, layer=2, seed=1)
    base = _blocks(adapter)
    with d.apply(adapter, 0.25):
        moved = _blocks(adapter)
    norm = calibration_norm(adapter, 2)
    torch.testing.assert_close(moved[2] - base[2], (0.25 * norm * d.vector).expand_as(base[2]), rtol=1e-4,
                               atol=1e-4)


def test_an_error_inside_apply_leaves_no_hook(adapter):
    d = _direction(adapter.d_model)
    base = _blocks(adapter)
    with pytest.raises(RuntimeError, match="inside"):
        with d.apply(adapter, 1.0, norm=3.0):
            raise RuntimeError("inside the context")
    assert adapter.active_interventions == ()
    after = _blocks(adapter)
    assert all(torch.equal(after[k], base[k]) for k in base)


@pytest.fixture(scope="module")
def both_forms(tmp_path_factory, tokenizer):
    """The same experiment planned from in-memory results and from the run folder they were saved to."""
    tmp = tmp_path_factory.mktemp("memory")
    model_dir = make_model_dir(tmp / "model", tokenizer)
    acts, vectors, report = make_results(model_dir)
    run = tmp / "run"
    acts.save(run)
    vectors.save(run)
    report.save(run)
    settings = SteerSettings(layer=1, alphas=(-0.5, 0.0, 0.5), samples=2, max_new_tokens=4, random_controls=1,
                             bootstrap=200, direction="joy" if "joy" in vectors.emotions else vectors.emotions[0],
                             prompts=str(prompts_file(tmp / "prompts.txt")))
    model = load_model(str(model_dir), dtype="float32")
    memory = prepare_steering(report, vectors, acts, settings)
    folder = prepare_steering(run, settings)
    return memory, folder, run_steering(model, memory), run_steering(model, folder), acts


def test_in_memory_and_run_folder_forms_give_identical_results(both_forms):
    memory, folder, a, b, acts = both_forms
    assert memory.run_dir is None and folder.run_dir is not None
    assert memory.norm == folder.norm == pytest.approx(token_norm(acts, 1), rel=1e-12)
    assert [d.name for d in memory.directions] == [d.name for d in folder.directions]
    assert all(torch.equal(x.vector, y.vector) for x, y in zip(memory.directions, folder.directions))
    assert len(a.rows) == 2 * 3 * len(TINY_PROMPTS) * 2  # directions x alphas x prompts x samples
    same = lambda x: json.dumps(x, sort_keys=True)  # noqa: E731  (NaN-aware: json writes NaN as NaN)
    assert same(a.rows) == same(b.rows)
    strip = lambda s: {k: v for k, v in s.items() if k not in ("timings", "run_dir", "made_from")}  # noqa: E731
    assert same(strip(a.summary)) == same(strip(b.summary)) and a.summary["run_dir"] is None


def test_the_result_shows_itself_as_an_html_table(both_forms):
    result = both_forms[2]
    html = result._repr_html_()
    assert html.count("<tr>") == 1 + 3 and "token-mean" in html and "empty continuations by alpha" in html
    rb = result.summary["scores"]["readback"]
    expected = f"{rb['direction']['rho']:+.2f} [{rb['direction']['ci_low']:+.2f}, {rb['direction']['ci_high']:+.2f}]"
    row = re.search(r"<tr><td>readback</td>(.*?)</tr>", html).group(1)
    assert row.startswith(f"<td>{expected}</td>")
    assert f"{result.summary['norm']:.1f}" in html


def test_prepare_refuses_what_is_not_a_result(both_forms):
    from workbench.errors import InputError

    memory = both_forms[0]
    with pytest.raises(InputError, match="expected a GeometryReport or a run folder, got dict"):
        prepare_steering({}, None, None, memory.settings)
    with pytest.raises(InputError, match="expected the run's StoryActivations, got NoneType"):
        prepare_steering(_report(both_forms), None, None, memory.settings)


def _report(both_forms):
    from workbench.analysis.report import GeometryReport

    return GeometryReport.load(both_forms[1].run_dir)
