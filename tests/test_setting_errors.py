"""Library errors name settings fields; the CLI says its options instead."""

from __future__ import annotations

import argparse

import pytest

from workbench.cli.options import option_message
from workbench.collect.config import CollectConfig
from workbench.errors import InputError, SettingError
from workbench.prefer.settings import PreferSettings
from workbench.steer.settings import SteerSettings
from workbench.values import check_int, check_ints, is_int, parse_number_list


def test_the_integer_check():
    assert [is_int(v) for v in (3, -1, True, 2.0, "3", None)] == [True, True, False, False, False, False]
    assert check_int(5, "samples", 1) == 5
    with pytest.raises(SettingError, match=r"^samples must be an integer, got True$"):
        check_int(True, "samples")
    with pytest.raises(SettingError, match=r"^samples must be >= 1, got 0$") as err:
        check_int(0, "samples", 1)
    assert err.value.fields == ("samples",) and isinstance(err.value, InputError)


def test_the_integer_checks_of_several_fields():
    from types import SimpleNamespace

    check_ints(SimpleNamespace(a=0, b=-5), {"a": 0, "b": None})
    with pytest.raises(SettingError, match=r"^b must be an integer, got 1.5$"):  # before any bound
        check_ints(SimpleNamespace(a=-1, b=1.5), {"a": 0, "b": None})
    with pytest.raises(SettingError, match=r"^a must be >= 0, got -1$"):
        check_ints(SimpleNamespace(a=-1, b=2), {"a": 0, "b": None})


def test_number_lists():
    assert parse_number_list(" -0.4, 0,0.2 ", "alphas") == [-0.4, 0.0, 0.2]
    with pytest.raises(SettingError, match=r"^alphas: 'x' is not a number \(in '1,x'\)$"):
        parse_number_list("1,x", "alphas")


@pytest.mark.parametrize("make, message", [
    (lambda: SteerSettings(layer=1, samples=0), "samples must be >= 1, got 0"),
    (lambda: SteerSettings(layer=1, alphas="0.1,y"), "alphas: 'y' is not a number (in '0.1,y')"),
    (lambda: SteerSettings(layer=1, readback_layer=1.5), "readback_layer must be an integer, got 1.5"),
    (lambda: CollectConfig(max_length=8, token_offset=8),
     "max_length (8) must exceed token_offset (8): no token would be pooled"),
    (lambda: CollectConfig(read_as="user"), "read_as must be 'raw' or 'assistant', got 'user'"),
    (lambda: PreferSettings(layer=1, alphas="0,0.4"), "alphas: give distinct non-zero steering strengths (alpha 0 "
     "is the unsteered tournament, always run), got [0.0, 0.4]"),
    (lambda: PreferSettings(layer=1, bootstrap=10), "bootstrap must be >= 100, got 10"),
    (lambda: PreferSettings(layer=1, format="html"), "format must be 'auto', 'chat' or 'plain', got 'html'"),
    (lambda: PreferSettings(layer=1, ablation_control="none"),
     "ablation_control must be 'random' or 'orthogonal', got 'none'"),
])
def test_library_errors_name_fields(make, message):
    with pytest.raises(SettingError) as err:
        make()
    assert str(err.value) == message and "--" not in str(err.value)


def test_the_cli_says_its_options():
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-length", type=int)
    parser.add_argument("--token-offset", type=int)
    parser.add_argument("--layers")
    exc = SettingError("max_length (8) must exceed token_offset (8): no token_offset_x", "max_length", "token_offset")
    assert option_message(exc, parser) == "--max-length (8) must exceed --token-offset (8): no token_offset_x"
    # a field the command has no option for stays as it is; only the first mention (the subject) changes
    assert option_message(SettingError("seed must be >= 0", "seed"), parser) == "seed must be >= 0"
    layers = SettingError("layers ',' names no layer: give 'all' or block indices (layers)", "layers")
    assert option_message(layers, parser) == "--layers ',' names no layer: give 'all' or block indices (layers)"
    assert option_message(InputError("layers are odd"), parser) == "layers are odd"


def test_the_number_formatter():
    from workbench.figures.theme import fmt
    from workbench.report.tables import num
    from workbench.values import format_interval, format_number

    assert [format_number(x) for x in (0.125, None, float("nan"), 3, True)] == ["0.12", "n/a", "n/a", "3.00", "True"]
    assert format_number(-0.5, "+.1f") == "-0.5" and fmt(None) == fmt(float("nan")) == "–" and fmt(0.456) == "0.46"
    assert num(0.00123, 2, "g") == "0.0012" and num(None) == "n/a"
    assert format_interval({"rho": 0.3, "ci_low": None, "ci_high": 0.51}) == "+0.30 [n/a, +0.51]"
    assert format_interval(None) == "n/a" and format_interval({}, missing="") == ""


def test_analyze_takes_its_settings_object_plus_overrides(monkeypatch):
    """The defaults live in AnalysisSettings only; analyze's keyword settings replace its fields."""
    import importlib

    from workbench.analysis.settings import AnalysisSettings

    an = importlib.import_module("workbench.analysis.analyze")  # the module (the package attribute is the function)

    seen = []
    monkeypatch.setattr(an, "_analyze", lambda v, r, s, settings, *rest: seen.append(settings))
    an.analyze(None, None)
    an.analyze(None, None, settings=AnalysisSettings(bootstrap=50, seed=4), seed=7, peak_depth=0.5)
    assert seen[0] == AnalysisSettings()
    assert seen[1] == AnalysisSettings(bootstrap=50, seed=7, peak_depth=0.5)
    with pytest.raises(InputError, match="analysis setting bootstrap must be an integer >= 10, got 3"):
        an.analyze(None, None, bootstrap=3)
