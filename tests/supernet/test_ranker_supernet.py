"""The ranker supernet: a path computes what its exported child computes, training draws a path per forward,
and the genome cost model equals the mechanical counter on the built ranker."""

import random

import numpy as np
import pytest
import torch

from supernet.ranker import RankerSupernet, export_ranker
from tests.rankers.test_registry_loop import ITEM_FIELDS, N_ITEMS, N_USERS, USER_FIELDS, query_batch
from towernas.complexity.rankers import RankerCostModel
from towernas.rankers import Catalog, build_ranker
from towernas.rankers.cost import ranker_cost
from towernas.space import ArchError
from towernas.space.ranker_arch import RankerArch
from towernas.space.ranker_space import RankerSpace


@pytest.fixture(scope="module")
def catalog():
    rng = np.random.default_rng(0)
    return Catalog(N_USERS, N_ITEMS, 5, USER_FIELDS, ITEM_FIELDS,
                   {"genre": rng.integers(0, 4, N_ITEMS), "labels": rng.integers(0, 6, (N_ITEMS, 2))})


def _genomes(space: RankerSpace, n: int, seed: int = 0):
    rng = random.Random(seed)
    return [tuple(rng.choice(s) for s in space.slots()) for _ in range(n)]


@pytest.mark.parametrize("embed, block, pairwise", [(8, 16, True), (16, 16, True), (8, 16, False)])
def test_a_path_equals_its_exported_child(catalog, embed, block, pairwise):
    space = RankerSpace(depth=3, embed=embed, block=block, head=4, pairwise=pairwise)
    torch.manual_seed(0)
    net = RankerSupernet(catalog, space).eval()
    torch.nn.init.normal_(net.head.weight)  # a pairwise head starts at zero, which would hide the chain
    batch, items = query_batch(3), torch.randint(0, N_ITEMS, (3, 4))
    genomes = _genomes(space, 12) + [("target", "FM", "skip", "skip")]
    seen = set()
    for genome in genomes:
        seen.update(genome[1:])
        net.use(genome)
        child = export_ranker(net, genome).eval()
        assert child.arch == space.arch(genome)
        torch.testing.assert_close(net.score(batch, items), child.score(batch, items), rtol=0, atol=0)
    assert {"FM", "skip"} <= seen


def test_training_draws_a_path_per_forward_and_only_it_gets_gradients(catalog):
    space = RankerSpace(blocks=("FM", "MLP-16", "DP"), depth=2)
    net = RankerSupernet(catalog, space).train()
    drawn = iter([("mean", "DP", "skip"), ("target", "MLP-16", "FM")])
    net.sample_with(lambda: next(drawn))
    batch, items = query_batch(3), torch.randint(0, N_ITEMS, (3, 2))
    net.score(batch, items).sum().backward()
    touched = {name for name, p in net.named_parameters() if p.grad is not None}
    assert any(n.startswith("positions.mean.0.DP") for n in touched)
    assert not any(n.startswith("positions.target") or "MLP" in n for n in touched)
    assert not any(n.startswith("attention") for n in touched)  # a mean path: no DIN unit
    net.score(batch, items)  # the second draw
    with pytest.raises(StopIteration):
        net.score(batch, items)
    net.eval()
    with pytest.raises(RuntimeError, match="no path to run"):
        net.score(batch, items)


def test_an_unknown_path_is_a_one_line_error(catalog):
    net = RankerSupernet(catalog, RankerSpace(blocks=("FM", "MLP-16"), depth=2))
    with pytest.raises(ValueError, match="not a path of this supernet"):
        net.use(("mean", "FM", "DP"))
    with pytest.raises(ArchError, match="unknown block"):
        net.use(("mean", "FM", "nope"))


@pytest.mark.parametrize("pairwise", [True, False])
def test_the_genome_cost_model_equals_the_counter_on_the_built_ranker(catalog, pairwise):
    space = RankerSpace(depth=4, pairwise=pairwise)
    model = RankerCostModel(catalog, space)
    for genome in _genomes(space, 16, seed=3) + [("mean", "FM", "skip", "skip", "skip")]:
        counted = ranker_cost(build_ranker("arch", catalog, **space.arch(genome).hyperparameters()))
        assert model.cost(genome) == (counted.params, counted.flops_per_candidate), genome


def test_the_space_genome_round_trip_and_errors():
    space = RankerSpace(blocks=("FM", "MLP-64"), depth=3, pairwise=True)
    assert space.genome(RankerArch(("FM",), "target", pairwise=True)) == ("target", "FM", "skip", "skip")
    with pytest.raises(ArchError, match="not a point of this ranker space"):
        space.genome(RankerArch(("FM",), "target"))
    assert RankerSpace().pairwise is False  # the search's default space (see its docstring)
    assert space.arch(space.genome(RankerArch(("MLP-64", "FM"), pairwise=True))) == \
        RankerArch(("MLP-64", "FM", "skip"), pairwise=True)
    with pytest.raises(ArchError, match="not a point of this ranker space"):
        space.genome(RankerArch(("DP",)))
    with pytest.raises(ArchError, match=r"ranker_search.space.blocks: 'FM-9' is unknown"):
        RankerSpace(blocks=("FM-9",))
    with pytest.raises(ArchError, match=r"ranker_search.space.depth=9: expected 1 to 7"):
        RankerSpace(depth=9)
