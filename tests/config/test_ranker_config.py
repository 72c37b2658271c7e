"""Every ranker's config schema has its constructor's parameters and defaults, and every conf/ranker/ option
composes to the constructor's defaults."""

import dataclasses
import inspect

import pytest

from tests.conftest import CONF_DIR, compose_config
from towernas.config.ranker import RANKER_SCHEMAS, hyperparameters
from towernas.rankers import RANKERS


def test_every_ranker_has_a_schema_and_a_yaml_option():
    assert set(RANKER_SCHEMAS) == set(RANKERS.names())
    assert {p.stem for p in (CONF_DIR / "ranker").glob("*.yaml")} == set(RANKERS.names())


@pytest.mark.parametrize("name", RANKERS.names())
def test_schema_fields_equal_constructor_parameters(name):
    params = dict(inspect.signature(RANKERS.get(name)).parameters)
    params.pop("catalog")
    fields = {f.name: f for f in dataclasses.fields(RANKER_SCHEMAS[name]) if f.name != "name"}
    assert set(fields) == set(params)
    schema = RANKER_SCHEMAS[name]()
    for key, param in params.items():
        default = param.default if not isinstance(param.default, tuple) else list(param.default)
        assert getattr(schema, key) == default, f"{name}.{key}"


@pytest.mark.parametrize("name", RANKERS.names())
def test_yaml_option_composes_to_the_constructor_defaults(name):
    cfg = compose_config(f"ranker={name}", name="rank")
    assert cfg.ranker.name == name
    assert hyperparameters(cfg.ranker) == hyperparameters(dataclasses.asdict(RANKER_SCHEMAS[name]()))


def test_a_misspelt_ranker_key_fails_at_composition():
    from hydra.errors import ConfigCompositionException

    with pytest.raises(ConfigCompositionException, match="crossing_layers"):
        compose_config("ranker=dcn", "ranker.crossing_layers=3", name="rank")
