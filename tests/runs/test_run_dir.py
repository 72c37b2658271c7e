import json

import pytest

from towernas.runs.run_dir import claim, config_hash

CONFIG = {"dataset": {"name": "synthetic", "max_len": 20}, "supernet": {"steps": 100, "lr": 0.002}, "seed": 0}


def test_the_same_config_resumes_and_another_one_is_refused_naming_the_change(tmp_path):
    assert claim(tmp_path, CONFIG) is False
    assert claim(tmp_path, CONFIG) is True
    with pytest.raises(ValueError, match=r"holds a run of another config \(changed: supernet.lr\)"):
        claim(tmp_path, {**CONFIG, "supernet": {"steps": 100, "lr": 0.01}})


def test_resumable_changes_do_not_block_a_resume(tmp_path):
    claim(tmp_path, CONFIG)
    assert claim(tmp_path, {**CONFIG, "supernet": {"steps": 900, "lr": 0.002}, "progress": False}) is True


def test_ignored_keys_neither_change_the_hash_nor_block_a_resume(tmp_path):
    """A search written before ``dataset.ctr`` existed resumes once the key is there (searches never read it)."""
    claim(tmp_path, CONFIG, ignore=("dataset.ctr",))
    newer = {**CONFIG, "dataset": {**CONFIG["dataset"], "ctr": {"label": "rating", "threshold": 4.0}}}
    assert config_hash(newer, ("dataset.ctr",)) == config_hash(CONFIG) != config_hash(newer)
    assert claim(tmp_path, newer, ignore=("dataset.ctr",)) is True
    assert json.loads((tmp_path / "run_config.json").read_text())["config"]["dataset"]["ctr"]["threshold"] == 4.0
    with pytest.raises(ValueError, match="dataset.ctr"):
        claim(tmp_path, {**newer, "dataset": {**newer["dataset"], "ctr": {"label": "implicit"}}})


def test_a_key_added_later_at_its_neutral_value_keeps_the_hash_and_the_resume(tmp_path):
    from towernas.runs.run_dir import NEUTRAL_WHEN, claim, config_hash

    before = {"retrain": {"lr": 0.002}, "search": {"population": 8}}  # a run made before the keys existed
    after = {"retrain": {"lr": 0.002, **{k.split(".")[1]: v for k, v in NEUTRAL_WHEN.items() if k.startswith("retrain.")}},
             "search": {"population": 8, **{k.split(".")[1]: v for k, v in NEUTRAL_WHEN.items()
                                            if k.startswith("search.")}}}
    after["precision"] = NEUTRAL_WHEN["precision"]  # a root key
    assert config_hash(before) == config_hash(after)
    assert config_hash({**after, "precision": "bf16"}) != config_hash(before)
    claim(tmp_path, before)
    assert claim(tmp_path, after) is True  # resumes
    changed = {**after, "retrain": {**after["retrain"], "weight_decay": 0.01}}
    assert config_hash(changed) != config_hash(before)
    with pytest.raises(ValueError, match="retrain.weight_decay"):
        claim(tmp_path, changed)
