"""Budgets: admit/reject, per-tower limits, validation, infeasible budgets, the YAML presets."""


import pytest
from omegaconf import OmegaConf

from tests.conftest import CONF_DIR
from towernas.complexity import CostModel, TowerCost, synthetic_spec
from towernas.complexity.budgets import Budget, BudgetError, check_feasible
from towernas.complexity.model import admitted_fraction
from towernas.config import BudgetConfig
from towernas.space import Dims

CONF = CONF_DIR / "budget"
COST = TowerCost(user_params=100_000, user_flops=90_000, item_params=50_000, item_flops=50_000)


def test_admits_on_the_total_of_both_towers():
    assert Budget("x", params=150_000, flops=140_000).admits(COST)  # limits are inclusive
    assert not Budget("x", params=149_999, flops=1e9).admits(COST)
    assert not Budget("x", params=1e9, flops=139_999).admits(COST)


def test_per_tower_limits():
    loose = Budget("x", params=1e9, flops=1e9, user_params=100_000, item_flops=50_000)
    assert loose.admits(COST)
    for key in ("user_params", "user_flops", "item_params", "item_flops"):
        tight = Budget("x", params=1e9, flops=1e9, **{key: getattr(COST, key) - 1})
        assert not tight.admits(COST)
        assert tight.violations(COST) == [f"{key} {getattr(COST, key)} > {getattr(COST, key) - 1}"]


@pytest.mark.parametrize("key,value", [("params", 0), ("flops", -5), ("params", "many"), ("flops", None),
                                       ("user_flops", 0), ("item_params", -1.5), ("user_params", True),
                                       ("item_flops", float("nan"))])
def test_bad_values_name_the_field(key, value):
    kwargs = {"params": 1000, "flops": 1000, key: value}
    with pytest.raises(ValueError, match=rf"budget b\.{key}=") as err:
        Budget("b", **kwargs)
    assert "\n" not in str(err.value)


def test_bad_name_and_unknown_keys():
    with pytest.raises(ValueError, match="name"):
        Budget("", 1, 1)
    with pytest.raises(ValueError, match="unknown key"):
        Budget.from_config({"name": "x", "params": 1, "flops": 1, "flop": 2})


def test_impossible_budget_reports_the_cheapest_cost():
    model = CostModel(synthetic_spec(), Dims())
    _, cheapest = model.cheapest()
    with pytest.raises(BudgetError) as err:
        check_feasible(model, Budget("tiny", params=1_000_000, flops=cheapest.flops - 1))
    message = str(err.value)
    assert "\n" not in message and "tiny" in message
    assert str(cheapest) in message and str(cheapest.flops) in message and str(cheapest.user_flops) in message
    per_tower = Budget("tower", params=1e9, flops=1e9, item_params=cheapest.item_params - 1)
    with pytest.raises(BudgetError, match="item_params"):
        check_feasible(model, per_tower)
    assert check_feasible(model, Budget("ok", cheapest.params, cheapest.flops)) == cheapest


@pytest.mark.parametrize("name,params,flops", [("L", 240_000, 150_000), ("M", 480_000, 280_000),
                                               ("H", 1_200_000, 800_000)])
def test_presets_load_through_the_schema(name, params, flops):
    cfg = OmegaConf.merge(OmegaConf.structured(BudgetConfig), OmegaConf.load(CONF / f"{name}.yaml"))
    budget = Budget.from_config(cfg)
    assert budget == Budget(name, params, flops)
    assert Budget.from_config(OmegaConf.to_object(cfg)) == budget  # the dataclass itself


def test_presets_admit_part_but_not_all_of_the_space():
    model = CostModel(synthetic_spec(), Dims())
    fractions = [admitted_fraction(model, Budget(n, p, f), n=5_000) for n, p, f in
                 (("L", 240_000, 150_000), ("M", 480_000, 280_000), ("H", 1_200_000, 800_000))]
    assert 0.0 < fractions[0] < fractions[1] < fractions[2] < 1.0  # ~0.5%, 4%, 48% with the default dims
