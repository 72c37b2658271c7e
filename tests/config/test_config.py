"""Config schemas: derived from their value classes, every reader option settable without Hydra's ``+``,
unknown keys failing with the list of valid ones, and the evolution's settings handed back to it by name."""

import dataclasses

import pytest
import yaml

from tests.conftest import CONF_DIR, compose_config
from towernas.complexity.budgets import Budget
from towernas.config import BudgetConfig, DimsConfig, SearchConfig
from towernas.config.search import EvolutionSettings
from towernas.data.errors import DataError
from towernas.data.load import parse_options
from towernas.data.readers import READERS
from towernas.search.run import evolution_config
from towernas.space import Dims

DATASETS = sorted(p.stem for p in (CONF_DIR / "dataset").glob("*.yaml"))


def _names(cls) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def test_value_classes_and_their_schemas_have_the_same_fields_and_defaults():
    assert _names(DimsConfig) == _names(Dims) and DimsConfig() == DimsConfig(**dataclasses.asdict(Dims()))
    assert _names(BudgetConfig) == _names(Budget)
    cfg = compose_config("space.dims.block=48", "budget.item_flops=40000")  # the schemas accept overrides
    assert Dims(**cfg.space.dims).block == 48 and Budget.from_config(cfg.budget).item_flops == 40000


def test_the_evolution_settings_are_derived_from_the_evolution_and_reach_it_by_name():
    assert issubclass(SearchConfig, EvolutionSettings)
    assert not {"seed"} & {f.name for f in dataclasses.fields(SearchConfig)}  # the run's seed, not a search key
    built = evolution_config(compose_config("search.population=12", "search.mutation_prob=0.3").search, seed=7)
    assert (built.population, built.mutation_prob, built.seed, built.generations) == (12, 0.3, 7, 2)


def _reader_options() -> list[tuple[str, dataclasses.Field]]:
    """(dataset config, option) for every documented option of every dataset config's reader."""
    pairs = []
    for dataset in DATASETS:
        reader = READERS.get(yaml.safe_load((CONF_DIR / "dataset" / f"{dataset}.yaml").read_text())["reader"])
        pairs += [(dataset, option) for option in dataclasses.fields(reader.options)]
    return pairs


@pytest.mark.parametrize("dataset, option", _reader_options(), ids=lambda x: getattr(x, "name", x))
def test_every_reader_option_is_set_without_a_plus_prefix(dataset, option):
    value = {int: 3, float: 0.5, bool: False}.get(type(option.default), "some_file.csv")
    cfg = compose_config(f"dataset={dataset}", f"dataset.options.{option.name}={value}", tiny=False)
    assert cfg.dataset.options[option.name] == value


def test_an_unknown_reader_option_fails_with_the_valid_keys():
    cfg = compose_config("dataset=amazon", "dataset.options.ratings_fil=Beauty.csv", tiny=False)
    with pytest.raises(DataError, match=r"unknown key\(s\) \['ratings_fil'\] for reader 'amazon'; valid keys: .*"
                                        r"'ratings_file'"):
        parse_options(READERS.get("amazon"), dict(cfg.dataset.options))


def test_other_typos_still_fail_at_composition():
    from hydra.errors import ConfigCompositionException

    for override in ("dataset.max_lenn=5", "space.dims.blok=4", "budget.flopz=5", "search.populatoin=3"):
        with pytest.raises(ConfigCompositionException):
            compose_config(override, tiny=False)


def test_paper_profile_sets_the_published_settings_and_the_default_changes_nothing():
    paper, default = compose_config("profile=paper", tiny=False), compose_config(tiny=False)
    assert paper.space.name == "autotower" and not paper.space.searchable_depth and paper.space.dims.block == 32
    assert (paper.supernet.steps, paper.search.population, paper.search.generations) == (50000, 50, 50)
    assert paper.search.final_top == 3 and not paper.search.seed_mlp
    assert default.space.name == "towernas" and default.supernet.steps != 50000
