import json

import pytest

from towernas.runs.run_dir import ResumeRules, claim, config_hash

CONFIG = {"dataset": {"name": "synthetic", "max_len": 20}, "supernet": {"steps": 100, "lr": 0.002}, "seed": 0}
RULES = ResumeRules(ignore=("supernet.steps", "progress"))  # the command's (towernas.config.resume in the tool)


def test_the_same_config_resumes_and_another_one_is_refused_naming_the_change(tmp_path):
    assert claim(tmp_path, CONFIG, RULES) is False
    assert claim(tmp_path, CONFIG, RULES) is True
    with pytest.raises(ValueError, match=r"holds a run of another config \(changed: supernet.lr\)"):
        claim(tmp_path, {**CONFIG, "supernet": {"steps": 100, "lr": 0.01}}, RULES)


def test_resumable_changes_do_not_block_a_resume(tmp_path):
    claim(tmp_path, CONFIG, RULES)
    assert claim(tmp_path, {**CONFIG, "supernet": {"steps": 900, "lr": 0.002}, "progress": False}, RULES) is True


def test_ignored_keys_neither_change_the_hash_nor_block_a_resume(tmp_path):
    """A search written before ``dataset.ctr`` existed resumes once the key is there (searches never read it)."""
    search = RULES.ignoring("dataset.ctr")
    claim(tmp_path, CONFIG, search)
    newer = {**CONFIG, "dataset": {**CONFIG["dataset"], "ctr": {"label": "rating", "threshold": 4.0}}}
    assert config_hash(newer, search) == config_hash(CONFIG, RULES) != config_hash(newer, RULES)
    assert claim(tmp_path, newer, search) is True
    assert json.loads((tmp_path / "run_config.json").read_text())["config"]["dataset"]["ctr"]["threshold"] == 4.0
    with pytest.raises(ValueError, match="dataset.ctr"):
        claim(tmp_path, {**newer, "dataset": {**newer["dataset"], "ctr": {"label": "implicit"}}}, RULES)


def test_a_key_added_later_at_its_neutral_value_keeps_the_hash_and_the_resume(tmp_path):
    rules = ResumeRules(neutral={"retrain.weight_decay": 0.0, "precision": "fp32"})
    before = {"retrain": {"lr": 0.002}}  # a run made before the keys existed
    after = {"retrain": {"lr": 0.002, "weight_decay": 0.0}, "precision": "fp32"}  # a section's key and a root key
    assert config_hash(before, rules) == config_hash(after, rules) != config_hash(after, ResumeRules())
    assert config_hash({**after, "precision": "bf16"}, rules) != config_hash(before, rules)
    claim(tmp_path, before, rules)
    assert claim(tmp_path, after, rules) is True  # resumes
    changed = {**after, "retrain": {**after["retrain"], "weight_decay": 0.01}}
    assert config_hash(changed, rules) != config_hash(before, rules)
    with pytest.raises(ValueError, match="retrain.weight_decay"):
        claim(tmp_path, changed, rules)


def test_a_run_hashed_with_a_key_that_later_became_neutral_still_resumes(tmp_path):
    config = {"retrain": {"lr": 0.002, "weight_decay": 0.0}}
    claim(tmp_path, config, ResumeRules())  # made while weight_decay was hashed like any key
    later = ResumeRules(neutral={"retrain.weight_decay": 0.0})
    assert config_hash(config, later) != config_hash(config, ResumeRules())
    assert claim(tmp_path, config, later) is True  # the same settings: resumes under the new hash
    assert json.loads((tmp_path / "run_config.json").read_text())["hash"] == config_hash(config, later)
    with pytest.raises(ValueError, match="retrain.lr"):
        claim(tmp_path, {"retrain": {"lr": 0.01, "weight_decay": 0.0}}, later)
