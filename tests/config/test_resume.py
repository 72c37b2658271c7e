"""The config's resume rules: every key they name exists in the schema, and a key added later at its neutral
value keeps an earlier run's hash and its resume."""

import pytest
from omegaconf import OmegaConf

from towernas.config import BaseConfig
from towernas.config.resume import NEUTRAL_WHEN, RESUME, RESUMABLE_CHANGES
from towernas.runs.run_dir import config_hash


DEFAULTS = OmegaConf.to_container(OmegaConf.structured(BaseConfig), resolve=False)


def _default(key: str):
    """The schema default of a dotted key (KeyError if the schema has no such key)."""
    node = DEFAULTS
    for part in key.split("."):
        node = node[part]
    return node


@pytest.mark.parametrize("key", [*RESUMABLE_CHANGES, *NEUTRAL_WHEN])
def test_every_key_of_the_rules_is_a_config_key(key):
    _default(key)


@pytest.mark.parametrize("key", NEUTRAL_WHEN)
def test_the_neutral_values_are_the_defaults(key):
    assert _default(key) == NEUTRAL_WHEN[key]


def test_every_key_added_later_at_its_neutral_value_keeps_the_hash():
    """The project's rules (the mechanism, resume included, is ``tests/runs/test_run_dir.py``'s)."""
    before = {"retrain": {"lr": 0.002}, "search": {"population": 8}}  # a run made before the keys existed
    after = {section: {**values, **{k.split(".")[1]: v for k, v in NEUTRAL_WHEN.items() if k.startswith(f"{section}.")}}
             for section, values in before.items()}
    after["precision"] = NEUTRAL_WHEN["precision"]  # a root key
    assert config_hash(before, RESUME) == config_hash(after, RESUME)
    for key in NEUTRAL_WHEN:  # and each one moved off its neutral value changes it
        section, _, name = key.rpartition(".")
        moved = {**after, section: {**after[section], name: "moved"}} if section else {**after, key: "moved"}
        assert config_hash(moved, RESUME) != config_hash(before, RESUME), key
