"""Bundled files found through the package, built-in recipes as functions, a recipe file executed once per run."""

from __future__ import annotations

import re
from pathlib import Path

import torch
from tiny import tiny_model

from workbench.models import adapter_from_hf
from workbench.resources import data_path, hooks_dir
from workbench.steer import SteerSettings, random_directions
from workbench.steer.generation import generate_paired
from workbench.steer.recipes import load_recipe

ROOT = Path(__file__).resolve().parents[1]


def test_bundled_files_are_the_source_trees_files():
    for name in ("emotions.csv", "neutral_texts.jsonl", "topics.txt", "steer_prompts.txt", "activities.txt"):
        assert data_path(name).read_bytes() == (ROOT / "data" / name).read_bytes()
    assert sorted(p.name for p in data_path("stories").glob("*.jsonl")) == \
        sorted(p.name for p in (ROOT / "data" / "stories").glob("*.jsonl"))
    assert {p.name for p in hooks_dir().glob("*.py")} == {p.name for p in (ROOT / "hooks").glob("*.py")}


def test_no_module_finds_files_relative_to_the_source_tree():
    offenders = [f"{p.relative_to(ROOT)}:{i}" for p in (ROOT / "workbench").rglob("*.py")
                 for i, line in enumerate(p.read_text().splitlines(), 1)
                 if re.search(r"__file__\).*parents\[", line) and p.name != "resources.py"]
    assert offenders == []


def test_built_in_recipes_are_importable_functions():
    from workbench.steer.recipes import ablate_direction, add_direction, clamp_direction

    assert add_direction is load_recipe("add_direction")
    g = torch.Generator().manual_seed(0)
    d, h = torch.randn(8, generator=g), torch.randn(2, 3, 8, generator=g)
    u = d / d.norm()
    assert torch.allclose(add_direction(d, 0.5)(h), h + 0.5 * u)
    assert torch.allclose(ablate_direction(d, 0.5)(h) @ u, torch.zeros(2, 3), atol=1e-6)
    assert torch.allclose(clamp_direction(d, 0.5)(h) @ u, torch.full((2, 3), 0.5), atol=1e-6)


def test_a_recipe_file_is_executed_once_per_steering_run(tmp_path, tokenizer):
    log = tmp_path / "executed.txt"
    recipe = tmp_path / "counted.py"
    recipe.write_text(f"open({str(log)!r}, 'a').write('x')\n"
                      "def make_hook(direction, scale):\n"
                      "    unit = direction / direction.norm()\n"
                      "    return lambda h: h + scale * unit.to(h.dtype)\n")
    model = adapter_from_hf(tiny_model("llama", len(tokenizer)), tokenizer, backend="nnsight", name="tiny")
    settings = SteerSettings(layer=1, alphas=(-1.0, 0.0, 1.0), samples=2, max_new_tokens=3, random_controls=2,
                             batch_size=2, share_unsteered=False, bootstrap=100, hook=str(recipe))
    directions = random_directions(model.d_model, 3, 0, 1)
    prompts = ["the door opened and", "a letter came", "rain on the"]
    gens, _ = generate_paired(model, prompts, directions, settings, norm=1.0)
    assert len(gens) == 3 * 3 * len(prompts) * 2  # directions x alphas x prompts x samples, in 27 steered batches
    assert log.read_text() == "x"
    load_recipe(str(recipe))
    assert log.read_text() == "x"
    recipe.write_text(recipe.read_text() + "# edited\n")  # a new version of the file is read again
    load_recipe(str(recipe))
    assert log.read_text() == "xx"
