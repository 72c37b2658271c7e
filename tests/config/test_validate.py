"""Training values out of range fail as one line naming the key, for both commands' configs."""

import pytest

from tests.conftest import compose_config
from towernas.config.validate import ConfigValueError, check_training_values
from towernas.runs.errors import UserError

BAD = [
    ("supernet.lr=-1", "supernet.lr=-1.0: expected a positive number"),
    ("supernet.lr=0", "supernet.lr=0.0: expected a positive number"),
    ("supernet.lr=nan", "supernet.lr=nan: expected a positive number"),
    ("supernet.temperature=0", "supernet.temperature=0.0: expected a positive number"),
    ("supernet.temperature=inf", "supernet.temperature=inf: expected a positive number"),
    ("supernet.batch_size=0", "supernet.batch_size=0: expected a positive integer"),
    ("supernet.steps=0", "supernet.steps=0: expected a positive integer"),
    ("supernet.steps=-5", "supernet.steps=-5: expected a positive integer"),
    ("supernet.checkpoint_every=0", "supernet.checkpoint_every=0: expected a positive integer"),
    ("supernet.patience=-1", "supernet.patience=-1: expected 0 or a positive integer"),
    ("retrain.lr=-0.5", "retrain.lr=-0.5: expected a positive number"),
    ("retrain.temperature=0", "retrain.temperature=0.0: expected a positive number"),
    ("retrain.batch_size=-3", "retrain.batch_size=-3: expected a positive integer"),
    ("retrain.max_epochs=0", "retrain.max_epochs=0: expected a positive integer"),
    ("retrain.patience=-1", "retrain.patience=-1: expected 0 or a positive integer"),
    ("retrain.history_dropout=1", "retrain.history_dropout=1.0: expected a probability in [0, 1)"),
    ("supernet.history_dropout=-0.1", "supernet.history_dropout=-0.1: expected a probability in [0, 1)"),
    ("supernet.balance=0", "supernet.balance=0: expected a positive integer"),
    ("search.stall_generations=-1", "search.stall_generations=-1: expected 0 or a positive integer"),
    ("search.min_improvement=-0.1", "search.min_improvement=-0.1: expected 0 or a positive number"),
    ("search.final_candidates=0", "search.final_candidates=0: expected a positive integer"),
    ("search.short_epochs=0", "search.short_epochs=0: expected a positive integer"),
]


@pytest.mark.parametrize("name", ["config", "retrain"])
def test_the_shipped_and_the_tiny_configs_pass(name):
    check_training_values(compose_config(name=name, tiny=False))
    check_training_values(compose_config(name=name))
    check_training_values(compose_config("supernet.monitor_every=0", "supernet.patience=0", "retrain.patience=0",
                                         name=name))  # 0 = off, for the keys that allow it


@pytest.mark.parametrize("override, message", BAD, ids=[o for o, _ in BAD])
@pytest.mark.parametrize("name", ["config", "retrain"])
def test_a_bad_value_is_one_line_naming_its_key(override, message, name):
    with pytest.raises(ConfigValueError) as err:
        check_training_values(compose_config(override, name=name))
    assert str(err.value) == message and isinstance(err.value, UserError)


def test_every_bad_value_is_named_at_once():
    with pytest.raises(ConfigValueError) as err:
        check_training_values(compose_config("supernet.lr=-1", "retrain.max_epochs=0"))
    assert str(err.value) == ("supernet.lr=-1.0: expected a positive number; "
                              "retrain.max_epochs=0: expected a positive integer")

