"""Multi-layer steering (one direction per layer, each layer's own norm) and span-limited steering, on a tiny model."""

from __future__ import annotations

import pytest
import torch
from tiny import tiny_model

from workbench.errors import InputError
from workbench.models import adapter_from_hf
from workbench.steer import steering
from workbench.steer.spans import assistant_start

TEXTS = ["the old man and the child opened the door of the house", "she was in the room"]
BACKENDS = ["transformer_lens", "nnsight"]


@pytest.fixture(params=BACKENDS)
def adapter(request, tokenizer):
    return adapter_from_hf(tiny_model("llama", len(tokenizer)), tokenizer, backend=request.param, name="tiny")


def _unit(d, seed):
    v = torch.randn(d, generator=torch.Generator().manual_seed(seed))
    return v / v.norm()


def _blocks(adapter, padding_side="right"):
    enc = adapter.tokenizer(TEXTS, return_tensors="pt", padding=True, padding_side=padding_side)
    got = {}
    adapter.run_blocks(enc["input_ids"], enc["attention_mask"], lambda layer, h: got.__setitem__(layer, h.clone()))
    return got, enc["attention_mask"]


def _greedy(adapter, n=6):
    enc = adapter.tokenizer(TEXTS, return_tensors="pt", padding=True, padding_side="left")
    out = adapter.generate(enc["input_ids"], enc["attention_mask"], max_new_tokens=n, do_sample=False,
                           pad_token_id=0)
    return out[:, enc["input_ids"].shape[1]:]


def test_each_layer_gets_its_own_direction_and_norm(adapter):
    u0, u2 = _unit(adapter.d_model, 1), _unit(adapter.d_model, 2)
    base, _ = _blocks(adapter)
    with steering(adapter, u0, 0.5, 0, norm=2.0):
        first, _ = _blocks(adapter)
    with steering(adapter, {0: 3 * u0, 2: u2}, 0.5, None, norm={0: 2.0, 2: 5.0}):
        both, _ = _blocks(adapter)
    torch.testing.assert_close(both[0] - base[0], (0.5 * 2.0 * u0).expand_as(base[0]), rtol=1e-5, atol=1e-5)
    # block 2 sees block 0's push through block 1, then adds its own: 0.5 x 5.0 x u2
    torch.testing.assert_close(both[2] - first[2], (0.5 * 5.0 * u2).expand_as(base[2]), rtol=1e-4, atol=1e-4)
    # a [n_layers, d] tensor is one row per layer in the order given
    with steering(adapter, torch.stack([u2, u0]), 0.5, [2, 0], norm=[5.0, 2.0]):
        rows, _ = _blocks(adapter)
    torch.testing.assert_close(rows[2], both[2])


def test_multi_layer_alpha_zero_leaves_generation_identical(adapter):
    plain = _greedy(adapter)
    u = _unit(adapter.d_model, 3)
    with steering(adapter, u, 0.0, [0, 1, 2], norm=[1.0, 2.0, 3.0]):
        zero = _greedy(adapter)
    assert torch.equal(plain, zero)
    with steering(adapter, u, 40.0, [0, 1, 2], norm=[1.0, 2.0, 3.0]):
        pushed = _greedy(adapter)
    assert not torch.equal(plain, pushed)  # the check above could fail


def test_one_number_for_several_layers_is_refused(adapter):
    u = _unit(adapter.d_model, 4)
    with pytest.raises(InputError, match="each steered layer has its own norm"):
        with steering(adapter, u, 0.1, [0, 1], norm=2.0):
            pass
    with pytest.raises(InputError, match="one per steered layer"):
        with steering(adapter, {0: u}, 0.1, [0, 1], norm=[1.0, 1.0]):
            pass
    assert adapter.active_interventions == ()


def test_hooks_are_removed_on_error(adapter):
    u = _unit(adapter.d_model, 5)
    with pytest.raises(RuntimeError, match="inside"):
        with steering(adapter, u, 0.3, [0, 2], norm=[1.0, 1.0]):
            assert len(adapter.active_interventions) == 2
            raise RuntimeError("inside")
    assert adapter.active_interventions == ()
    bad = torch.full((adapter.d_model,), float("nan"))
    with pytest.raises(InputError, match="layer 2 must be finite"):  # the second layer's is bad: none is left
        with steering(adapter, {0: u, 2: bad}, 0.3, None, norm=[1.0, 1.0]):
            pass
    assert adapter.active_interventions == ()

    def failing(direction, scale):
        def hook(hidden):
            raise ValueError("hook failed")
        return hook

    with pytest.raises(ValueError, match="hook failed"):
        with steering(adapter, u, 0.3, [0, 1], norm=[1.0, 1.0], hook=failing):
            _blocks(adapter)
    assert adapter.active_interventions == ()


def test_assistant_span_changes_only_positions_from_start(adapter):
    u = _unit(adapter.d_model, 6)
    base, mask = _blocks(adapter, "left")
    start = assistant_start(mask, 3)
    width = mask.shape[1]
    assert start.tolist() == [width - 3, width - 3]
    with steering(adapter, u, 0.5, 1, positions="assistant", start=start, norm=4.0):
        got, _ = _blocks(adapter, "left")
    shift = got[1] - base[1]
    torch.testing.assert_close(shift[:, -3:], (2.0 * u).expand(2, 3, -1), rtol=1e-5, atol=1e-5)
    assert shift[:, :-3].abs().max() == 0
    assert (got[0] - base[0]).abs().max() == 0
    # per-row starts, right padding: row 1 is shorter
    base_r, mask_r = _blocks(adapter, "right")
    start_r = assistant_start(mask_r, 2)
    lengths = mask_r.sum(1)
    assert start_r.tolist() == [int(lengths[0]) - 2, int(lengths[1]) - 2]
    with steering(adapter, u, 0.5, 1, positions="assistant", start=start_r, norm=4.0):
        got_r, _ = _blocks(adapter, "right")
    moved = (got_r[1] - base_r[1]).abs().amax(-1) > 0
    expected = torch.arange(mask_r.shape[1])[None] >= start_r[:, None]
    assert torch.equal(moved, expected)
    with pytest.raises(InputError, match="needs start="):
        with steering(adapter, u, 0.5, 1, positions="assistant", norm=4.0):
            pass


def _marked_passes(adapter, positions, start=None, n=3):
    """Per forward pass at block 1 during greedy generation, which positions the span changed."""
    def marker(direction, scale):
        return lambda hidden: torch.full_like(hidden, 1e4)

    seen = []
    enc = adapter.tokenizer(TEXTS, return_tensors="pt", padding=True, padding_side="left")
    with steering(adapter, _unit(adapter.d_model, 7), 1.0, 1, positions=positions, start=start, norm=1.0,
                  hook=marker):
        with adapter.intervene(1, lambda h: (seen.append((h == 1e4).all(-1).clone()), h)[1]):
            adapter.generate(enc["input_ids"], enc["attention_mask"], max_new_tokens=n, do_sample=False,
                             pad_token_id=0)
    return seen, enc["input_ids"].shape[1]


def test_spans_in_generation_change_only_the_positions_they_name(adapter):
    seen, width = _marked_passes(adapter, "generated")
    assert seen[0].shape[1] == width and not seen[0].any()  # the prompt pass is never steered
    assert len(seen) == 3 and all(s.shape[1] == 1 and s.all() for s in seen[1:])  # every decoding step is
    seen, _ = _marked_passes(adapter, "assistant", start=width - 2)
    assert seen[0][:, -2:].all() and not seen[0][:, :-2].any()
    assert all(s.all() for s in seen[1:])
    seen, _ = _marked_passes(adapter, "last")
    assert seen[0][:, -1].all() and not seen[0][:, :-1].any() and all(s.all() for s in seen[1:])
    seen, _ = _marked_passes(adapter, "all")
    assert all(s.all() for s in seen)
