"""Shared builders for the steering tests (no tests here): a tiny model folder and an analysed run folder for it."""

from __future__ import annotations

from pathlib import Path

from tiny import tiny_model

from workbench.analysis import analyze, emotion_vectors
from workbench.analysis.synthetic import synthetic_activations
from workbench.collect.activations import StoryActivations
from workbench.data.ratings import load_ratings

N_EMOTIONS = 24
TINY_PROMPTS = ("the old man opened the door", "she was in the room with", "at night the house",
                "my friend and i had")


def make_model_dir(path: Path, tokenizer) -> Path:
    tiny_model("llama", len(tokenizer)).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def make_results(model_dir: Path, *, seed: int = 0, token_norms: bool = True):
    """In-memory ``(acts, vectors, report)`` of synthetic activations shaped like the tiny llama (3 blocks of width
    64), analysed. ``token_norms``: per-text mean token norms (synthetic: 2-3x the norm of the text's mean);
    ``False`` gives activations like a run collected before they were recorded."""
    import torch

    ratings = load_ratings()
    sub = ratings.subset(ratings.emotions[:N_EMOTIONS])
    stories, neutral = synthetic_activations(sub.emotions, sub.valence, sub.arousal, n_layers=3, d_model=64,
                                             stories=2, valence_signal=3.0, n_neutral=6, seed=seed)
    spec = {"name": str(model_dir), "dtype": "float32", "architecture": "LlamaForCausalLM"}
    means = torch.cat([stories.means, neutral.means])
    norms = None
    if token_norms:
        g = torch.Generator().manual_seed(seed)
        norms = means.norm(dim=-1) * (2 + torch.rand(means.shape[:2], generator=g))
    acts = StoryActivations(means, torch.cat([stories.n_tokens, neutral.n_tokens]),
                            stories.layers, stories.meta + neutral.meta, spec, {"n_layers": 3}, token_norms=norms)
    vec = emotion_vectors(stories, neutral)
    report = analyze(vec, sub, stories, bootstrap=20, permutations=20, cka_shuffles=10, progress=False, workers=1)
    return acts, vec, report


def make_run(path: Path, model_dir: Path, *, analysed: bool = True, vectors: bool = True, seed: int = 0,
             token_norms: bool = True) -> Path:
    """A run folder of :func:`make_results` (without the analysis, or also without the vectors, on request)."""
    acts, vec, report = make_results(model_dir, seed=seed, token_norms=token_norms)
    acts.save(path)
    if vectors:
        vec.save(path)
        if analysed:
            report.save(path)
    return path


def prompts_file(path: Path) -> Path:
    path.write_text("# tiny prompts\n" + "\n".join(TINY_PROMPTS) + "\n")
    return path
