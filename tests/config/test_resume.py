"""The config's resume rules: every key they name exists in the schema, and a key added later at its neutral
value keeps an earlier run's hash and its resume."""

import copy

import pytest
from omegaconf import OmegaConf

from towernas.config import BaseConfig, CascadeRootConfig, DatasetConfig, RankerSearchRootConfig
from towernas.config.resume import NEUTRAL_WHEN, RESUME, RESUMABLE_CHANGES
from towernas.runs.run_dir import config_hash


DEFAULTS = OmegaConf.to_container(OmegaConf.structured(BaseConfig), resolve=False)
DEFAULTS["dataset"] = OmegaConf.to_container(OmegaConf.structured(DatasetConfig), resolve=False)  # a required group
for root, section in ((CascadeRootConfig, "cascade"), (RankerSearchRootConfig, "ranker_search")):  # other commands'
    DEFAULTS[section] = OmegaConf.to_container(OmegaConf.structured(root), resolve=False)[section]


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
    before = {"retrain": {"lr": 0.002}, "search": {"population": 8}, "supernet": {"lr": 0.002},
              "cascade": {"k0": 200},
              "dataset": {"name": "x", "split": {"method": "ratio"}}}  # a run made before the keys existed

    def put(config: dict, key: str, value) -> dict:
        """A deep copy of ``config`` with the dotted ``key`` set (root, section or nested keys)."""
        out = copy.deepcopy(config)
        *path, name = key.split(".")
        node = out
        for part in path:
            node = node.setdefault(part, {})
        node[name] = value
        return out

    after = before
    for key, value in NEUTRAL_WHEN.items():
        after = put(after, key, value)
    assert config_hash(before, RESUME) == config_hash(after, RESUME)
    for key in NEUTRAL_WHEN:  # and each one moved off its neutral value changes it
        assert config_hash(put(after, key, "moved"), RESUME) != config_hash(before, RESUME), key
