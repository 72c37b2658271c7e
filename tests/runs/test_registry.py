"""The one registry helper, and a loop over every registry of the project: names match, one error format."""

import pytest

from towernas.cascade.negatives import MODES
from towernas.cascade.run import JOINT
from towernas.cascade.train_lists import TRAIN_LISTS
from towernas.data.errors import DataError
from towernas.data.readers import READERS
from towernas.eval.backends import BACKENDS
from towernas.losses.retrieval import LOSSES
from towernas.nn.target_attention import ACTIVATIONS
from towernas.rankers import RANKERS
from towernas.rankers.pair_features import PAIR_FEATURES
from towernas.retrievers import MODELS
from towernas.runs.registry import Registry, UnknownNameError
from towernas.search.proposals import PROPOSERS
from towernas.runs.fitness_view import FITNESSES
from towernas.search.run import STRATEGIES
from towernas.serving.index import INDEX_KINDS
from towernas.space import OPS, POOLINGS
from towernas.train.ranker_loop import LOSSES as RANKER_LOSSES

ALL = {"block": OPS, "pooling": POOLINGS, "reader": READERS, "baseline": MODELS, "top-k backend": BACKENDS,
       "index kind": INDEX_KINDS, "ranker": RANKERS, "negative mode": MODES, "pair feature": PAIR_FEATURES,
       "training-list source": TRAIN_LISTS, "loss": LOSSES, "ranker loss": RANKER_LOSSES, "proposer": PROPOSERS,
       "search strategy": STRATEGIES, "fitness": FITNESSES, "joint mode": JOINT, "activation": ACTIVATIONS}


def test_register_get_build_names():
    reg = Registry("widget", key="model.widget")
    reg.register("a", lambda x, y=1: x + y)

    @reg.register("b")
    class B:
        def __init__(self, size: int) -> None:
            self.size = size

    assert reg.names() == ("a", "b") and "a" in reg and len(reg) == 2 and list(reg) == ["a", "b"]
    assert reg.build("a", 1, y=2) == 3 and reg.build("b", size=4).size == 4 and reg.get("b") is B
    with pytest.raises(ValueError, match="registered twice"):
        reg.register("a", print)
    with pytest.raises(UnknownNameError, match=r"^model.widget='c': unknown widget; expected one of \['a', 'b'\]$"):
        reg.build("c")
    with pytest.raises(UnknownNameError, match=r"model.widget='b': unknown argument\(s\) \['sise'\]; expected arguments \(size\)"):
        reg.build("b", sise=4)  # a typo'd argument is an error naming the accepted ones, never dropped
    with pytest.raises(UnknownNameError, match="missing a required argument"):
        reg.build("b")


def test_errors_are_one_line_user_errors_of_the_packages_type():
    with pytest.raises(DataError, match=r"dataset.reader='nope': unknown reader; expected one of \["):
        READERS.get("nope")
    for kind, registry in ALL.items():
        with pytest.raises(ValueError) as err:
            registry.get("no-such-name")
        assert str(err.value) == f"{registry.key}='no-such-name': unknown {kind}; expected one of {list(registry)}"
        assert registry.kind == kind


@pytest.mark.parametrize("kind", ALL)
def test_every_registry_is_non_empty_with_string_names(kind):
    registry = ALL[kind]
    assert len(registry) > 0 and all(isinstance(n, str) and n for n in registry.names())


def test_reader_entries_are_registered_under_their_own_name():
    assert all(READERS.get(name).name == name for name in READERS.names())
