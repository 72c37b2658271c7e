"""bench_recipe's parts: a recipe on the command line, the paired per-seed differences to the default recipe, and
the report (one row per model and recipe, the default's Δ left empty)."""

import argparse

import pytest

from benchmarks.bench_recipe import paired, parse_recipe, report, slug_recipe


def test_a_recipe_is_a_name_and_retrain_values():
    assert parse_recipe("hot=temperature=0.2,history_dropout=0.1") == ("hot", {"temperature": 0.2,
                                                                               "history_dropout": 0.1})
    with pytest.raises(SystemExit, match="expected NAME=KEY=VALUE"):
        parse_recipe("hot=temperature")
    assert slug_recipe({}) == "default"
    assert slug_recipe({"temperature": 0.2, "history_dropout": 0.1}) == "history_dropout0.1_temperature0.2"


def _records():
    out = []
    for seed, (base, hot) in enumerate([(0.30, 0.32), (0.31, 0.32), (0.29, 0.33)]):
        out += [{"model": "m", "size": None, "recipe": "default", "seed": seed, "best_epoch": 2, "valid": base,
                 "test": base - 0.01},
                {"model": "m", "size": None, "recipe": "hot", "seed": seed, "best_epoch": 3, "valid": hot,
                 "test": hot - 0.02}]
    return out


def test_differences_are_paired_by_seed():
    assert paired(_records(), "m", "hot", "valid") == pytest.approx([0.02, 0.01, 0.04])
    assert paired(_records()[:-1], "m", "hot", "valid") == pytest.approx([0.02, 0.01])  # seed 2 unpaired: left out


def test_the_report_has_one_row_per_model_and_recipe(tmp_path):
    args = argparse.Namespace(seeds=[0, 1, 2], budget="L", quick=False)
    result = report("toy", _records(), ["default", "hot"], args, tmp_path)
    default, hot = result["rows"]
    assert default["valid_delta"] is None and hot["valid_delta"][0] == pytest.approx(0.07 / 3)
    assert hot["test_delta"][0] == pytest.approx(0.04 / 3)
    text = (tmp_path / "recipe-toy.md").read_text()
    assert "| m | default | 2.0 | 0.3000 ± 0.0100 | – |" in text and "| m | hot | 3.0 |" in text
    assert "+0.0233 ±" in text
