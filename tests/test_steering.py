"""Steering context manager and the hooks/ recipes, checked numerically on a tiny model."""

from __future__ import annotations

import pytest
import torch
from tiny import tiny_model

from workbench.errors import InputError
from workbench.models import adapter_from_hf
from workbench.steer import available_recipes, load_recipe, residual_norm, steering

TEXTS = ["the old man and the child opened the door of the house", "she was in the room with her friend"]
BACKENDS = ["transformer_lens", "nnsight"]


@pytest.fixture(params=BACKENDS)
def adapter(request, tokenizer):
    return adapter_from_hf(tiny_model("llama", len(tokenizer)), tokenizer, backend=request.param, name="tiny")


def _enc(adapter):
    return adapter.tokenizer(TEXTS, return_tensors="pt", padding=True, padding_side="right")


def _blocks(adapter):
    enc = _enc(adapter)
    got = {}
    adapter.run_blocks(enc["input_ids"], enc["attention_mask"], lambda layer, h: got.__setitem__(layer, h.clone()))
    return got


def _unit(d, seed=0):
    v = torch.randn(d, generator=torch.Generator().manual_seed(seed))
    return v / v.norm()


def test_recipes_are_listed():
    assert {"add_direction", "ablate_direction", "clamp_direction"} <= set(available_recipes())


def test_add_moves_the_projection_by_alpha_times_norm(adapter):
    u = _unit(adapter.d_model)
    base = _blocks(adapter)
    with steering(adapter, 3 * u, alpha=0.5, layer=1, norm=4.0):
        steered = _blocks(adapter)
    torch.testing.assert_close(steered[1] - base[1], (0.5 * 4.0 * u).expand_as(base[1]), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(steered[0], base[0])


def test_ablate_sets_the_projection_to_zero(adapter):
    u = _unit(adapter.d_model, 1)
    with steering(adapter, u, alpha=1.0, layer=2, norm=1.0, hook="ablate_direction"):
        steered = _blocks(adapter)
    assert (steered[2] @ u).abs().max().item() < 1e-5
    base = _blocks(adapter)
    assert (base[2] @ u).abs().max().item() > 1e-2  # it was not zero before


def test_clamp_sets_the_projection_to_the_value(adapter):
    u = _unit(adapter.d_model, 2)
    with steering(adapter, u, alpha=0.25, layer=0, norm=8.0, hook="clamp_direction"):
        steered = _blocks(adapter)
    torch.testing.assert_close(steered[0] @ u, torch.full(steered[0].shape[:2], 2.0), rtol=1e-5, atol=1e-5)
    # the orthogonal complement is untouched
    base = _blocks(adapter)
    rest = lambda h: h - (h @ u).unsqueeze(-1) * u  # noqa: E731
    torch.testing.assert_close(rest(steered[0]), rest(base[0]), rtol=1e-5, atol=1e-5)


def test_alpha_zero_gives_exactly_the_unsteered_generation(adapter):
    enc = adapter.tokenizer(TEXTS[:1], return_tensors="pt")
    kwargs = {"max_new_tokens": 6, "do_sample": True, "top_k": 20, "pad_token_id": 0}
    torch.manual_seed(3)
    plain = adapter.generate(enc["input_ids"], enc["attention_mask"], **kwargs)
    torch.manual_seed(3)
    with steering(adapter, _unit(adapter.d_model), alpha=0.0, layer=1, norm=5.0):
        zero = adapter.generate(enc["input_ids"], enc["attention_mask"], **kwargs)
    assert torch.equal(plain, zero)


def test_an_exception_leaves_no_hook(adapter):
    before = _blocks(adapter)
    with pytest.raises(RuntimeError, match="boom"):
        with steering(adapter, _unit(adapter.d_model), alpha=2.0, layer=1, norm=3.0):
            raise RuntimeError("boom")
    assert adapter.active_interventions == ()
    after = _blocks(adapter)
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_residual_norm_matches_a_direct_computation(adapter):
    enc = _enc(adapter)
    got = _blocks(adapter)[1]
    keep = enc["attention_mask"].bool() & (enc["input_ids"] != adapter.tokenizer.bos_token_id)
    assert residual_norm(adapter, TEXTS, 1) == pytest.approx(got.norm(dim=-1)[keep].mean().item(), rel=1e-6)


@pytest.mark.parametrize("kwargs, message", [
    ({"direction": torch.zeros(64)}, "non-zero"),
    ({"direction": torch.ones(5)}, "d_model 64"),
    ({"layer": 9}, "layer 9 is out of range"),
    ({"alpha": float("nan")}, "alpha must be a finite number"),
    ({"hook": "no_such_recipe"}, "unknown hook recipe 'no_such_recipe'"),
])
def test_bad_steering_inputs(tokenizer, kwargs, message):
    adapter = adapter_from_hf(tiny_model("llama", len(tokenizer)), tokenizer, backend="nnsight", name="tiny")
    args = {"direction": torch.ones(64), "alpha": 0.1, "layer": 1, "norm": 1.0, **kwargs}
    with pytest.raises(InputError, match=message):
        with steering(adapter, **args):
            pass
    assert adapter.active_interventions == ()


def test_recipe_from_a_path(tmp_path):
    path = tmp_path / "double.py"
    path.write_text("def make_hook(direction, scale):\n    return lambda h: 2 * h\n")
    assert load_recipe(str(path))(None, 0)(torch.ones(2)).tolist() == [2.0, 2.0]
    (tmp_path / "empty.py").write_text("x = 1\n")
    with pytest.raises(InputError, match="defines no make_hook"):
        load_recipe(str(tmp_path / "empty.py"))


def test_steered_generation_agrees_across_backends(tokenizer):
    model = tiny_model("llama", len(tokenizer))
    enc = tokenizer(TEXTS[:1], return_tensors="pt")
    u = _unit(64, 5)
    outs = []
    for backend in BACKENDS:
        import copy

        adapter = adapter_from_hf(copy.deepcopy(model), tokenizer, backend=backend, name="tiny")
        with steering(adapter, u, alpha=3.0, layer=1, norm=10.0):
            outs.append(adapter.generate(enc["input_ids"], enc["attention_mask"], max_new_tokens=8,
                                         do_sample=False, pad_token_id=0))
        plain = adapter.generate(enc["input_ids"], enc["attention_mask"], max_new_tokens=8, do_sample=False,
                                 pad_token_id=0)
        assert not torch.equal(outs[-1], plain)  # the steering changed the greedy continuation
    assert torch.equal(outs[0], outs[1])
