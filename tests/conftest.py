"""Test set-up: offline hub, a shared cache for the embedded model, tiny models built from real configs."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).parent))

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
GEMMA_CORPUS = SHARED / "corpora" / "gemma4-e4b-stories.jsonl"


@pytest.fixture(scope="session")
def tokenizer():
    from tiny import tiny_tokenizer

    return tiny_tokenizer()


@pytest.fixture(scope="session")
def embedded():
    """The embedded Gemma 3 270M in float32 (slow tests only)."""
    import workbench as wb

    return wb.load_model("gemma-3-270m", dtype="float32")


@pytest.fixture(scope="session")
def gemma_corpus_path():
    if not GEMMA_CORPUS.is_file():
        pytest.skip(f"the published Gemma story corpus is not at {GEMMA_CORPUS} (only in the project's workplace)")
    return GEMMA_CORPUS
