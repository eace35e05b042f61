"""Acceptance: the full analysis at the paper's scale (171 x 18 x 640, 1000/1000) in at most 30 s."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "analysis_speed.py"


@pytest.mark.slow
def test_full_analysis_within_30_seconds():
    spec = importlib.util.spec_from_file_location("analysis_speed", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.run()
    assert result["n_emotions"] == 171 and result["conditions"] == 2
    assert result["seconds"] <= 30, result
