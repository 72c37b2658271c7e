"""Analytic cost tables vs two mechanical counters on real standalone towers.

(a) ``count_ops``: FlopCounterMode (MACs = FLOPs / 2) + a TorchDispatchMode recording computing ops.
(b) ``count_ops_torchprofile``: torchprofile.profile_macs (jit trace) with our handler table; and
    plain, unmodified ``profile_macs`` for the matmul part alone.
"""

import random
import warnings

import pytest
import torch

from towernas.complexity import (
    CostModel,
    OpCount,
    TowerCost,
    UnclassifiedOpError,
    count_ops,
    count_ops_torchprofile,
    formulas,
    random_blocks,
    synthetic_spec,
)
from towernas.complexity.counting import MATMUL_OPS
from towernas.data.features import Field
from towernas.data.spec import DatasetSpec
from towernas.retrievers.two_tower import build
from towernas.space import BLOCK_NAMES, OPS, POOLING_NAMES, POOLINGS, SKIP, Arch, Dims

SPEC = DatasetSpec(
    user_fields=(Field("age", 7), Field("genres", 12, 3, True), Field("zip", 9)),
    item_fields=(Field("category", 5), Field("tags", 20, 4, True)),
    n_items=50, max_len=20)
DIMS = Dims(embed=32, block=32, out=16, head=8, attn=8)  # small, but every branch (MLP-32 = identity align)


def _archs(n: int = 24, seed: int = 0, dims: Dims = DIMS) -> list[Arch]:
    rng = random.Random(seed)
    archs = []
    for i in range(n):
        user, item = list(random_blocks(rng, rng.randint(3, 7))), list(random_blocks(rng, rng.randint(3, 7)))
        for blocks in (user, item)[i % 3:i % 3 + 1]:  # a skip at a position >= 2 in 2 archs out of 3
            blocks[rng.randrange(1, len(blocks))] = SKIP
        archs.append(Arch(POOLING_NAMES[i % len(POOLING_NAMES)], tuple(user), tuple(item), dims))
    return archs


ARCHS = _archs()
# the same architectures in the ``towernas`` anatomy (input + block LayerNorms), with the latest 2 items as tokens
NORMED = [Arch(a.pooling, a.user, a.item, Dims(**{**DIMS.to_dict(), "recent": 2}), space="towernas") for a in ARCHS]


def _inputs(spec: DatasetSpec, dims: Dims):
    torch.manual_seed(0)
    user = (torch.randn(1, len(spec.user_fields), dims.embed), torch.randn(1, spec.max_len, dims.embed),
            torch.ones(1, spec.max_len, dtype=torch.bool))  # full history: the definition's case
    item = (torch.randn(1, spec.n_item_inputs, dims.embed),)
    return user, item


def _n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def _measured(arch: Arch, spec: DatasetSpec, counter) -> TowerCost:
    model = build(arch, spec).eval()
    user_in, item_in = _inputs(spec, arch.dims)
    user, item = counter(model.user_tower, *user_in), counter(model.item_tower, *item_in)
    return TowerCost(_n_params(model.user_tower), user.flops, _n_params(model.item_tower), item.flops)


def test_random_set_covers_every_op_pooling_and_skip():
    used = {name for a in ARCHS for name in a.user + a.item}
    assert used >= set(BLOCK_NAMES)
    assert {a.pooling for a in ARCHS} == set(POOLING_NAMES)
    assert any(SKIP in a.user[1:] for a in ARCHS) and any(SKIP in a.item[1:] for a in ARCHS)


def test_every_op_and_pooling_has_a_table_entry():
    model = CostModel(SPEC, DIMS, 7, 7)
    for side in ("user", "item"):
        for position in model.block_ops[side]:
            assert set(position) == set(OPS)
    assert set(model.pooling_ops) == set(POOLINGS)
    rows = model.table()
    assert {r["op"] for r in rows if r["part"] == "block"} == set(OPS)
    assert {r["op"] for r in rows if r["part"] == "pooling"} == set(POOLINGS)
    assert all(r["flops"] == r["macs"] + r["elementwise"] for r in rows)


def _ids(a: Arch) -> str:
    return f"{a.space}-{a.pooling}-{len(a.user)}x{len(a.item)}"


def _model(arch: Arch) -> CostModel:
    return CostModel(SPEC, arch.dims, space=arch.space)


@pytest.mark.parametrize("arch", ARCHS + NORMED, ids=_ids)
def test_table_equals_dispatch_counter(arch):
    assert _model(arch).cost(arch) == _measured(arch, SPEC, count_ops)


@pytest.mark.parametrize("arch", ARCHS[:12] + NORMED[12:], ids=_ids)
def test_table_equals_torchprofile_counter(arch):
    assert _model(arch).cost(arch) == _measured(arch, SPEC, count_ops_torchprofile)


def test_normed_space_costs_exactly_one_layer_norm_per_block_and_input():
    arch, plain = NORMED[0], ARCHS[0]
    normed_cost = _model(arch).item_cost(arch.item)
    plain_cost = CostModel(SPEC, DIMS).item_cost(arch.item)
    ln = formulas.layer_norm(1, DIMS.block)
    n_blocks = sum(name != SKIP for name in plain.item)
    assert normed_cost[0] - plain_cost[0] == (n_blocks + 1) * ln.params  # one shared input norm + one per block
    assert normed_cost[1] - plain_cost[1] == (n_blocks + SPEC.n_item_inputs) * ln.flops


def _analytic_macs(arch: Arch, spec: DatasetSpec) -> tuple[int, int]:
    d = arch.dims
    user = POOLINGS[arch.pooling].cost(spec.max_len, d) + formulas.align(spec.n_user_inputs, d) + formulas.head(d)
    item = formulas.align(spec.n_item_inputs, d) + formulas.head(d)
    for k, name in enumerate(arch.user):
        user = user + OPS[name].cost(spec.n_user_inputs + k, d)
    for k, name in enumerate(arch.item):
        item = item + OPS[name].cost(spec.n_item_inputs + k, d)
    return user.macs, item.macs


@pytest.mark.parametrize("arch", ARCHS[::4], ids=lambda a: a.pooling)
def test_matmul_part_equals_plain_torchprofile(arch):
    from torchprofile import profile_macs

    model = build(arch, SPEC).eval()
    user_in, item_in = _inputs(SPEC, arch.dims)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unmodified torchprofile warns about ops it has no handler for
        measured = []
        for tower, args in ((model.user_tower, user_in), (model.item_tower, item_in)):
            per_node = profile_macs(tower, args, reduction=None)
            measured.append(sum(n for node, n in per_node.items() if node.operator.split("::")[-1] in MATMUL_OPS))
    assert tuple(measured) == _analytic_macs(arch, SPEC)


def test_embed_differs_from_block_uses_align_maps():
    dims = Dims(embed=24, block=32, out=16, head=8, attn=8)
    for arch in _archs(6, seed=3, dims=dims):
        expected = CostModel(SPEC, dims).cost(arch)
        assert expected == _measured(arch, SPEC, count_ops)
        assert expected == _measured(arch, SPEC, count_ops_torchprofile)
    align = formulas.align(SPEC.n_item_inputs, dims)
    assert align.params == SPEC.n_item_inputs * (24 * 32 + 32) and align.macs == SPEC.n_item_inputs * 24 * 32


def test_default_dims_on_synthetic_shape():
    spec = synthetic_spec()
    arch = Arch("self_attentive", ("SA-4", "MLP-1024", "EW-ip", "SA-2", "MLP-16"),
                ("MLP-512", "SA-3", "EW-min", "MLP-128", "EW-sum"))
    assert CostModel(spec).cost(arch) == _measured(arch, spec, count_ops)


def test_cheapest_and_dearest_bound_every_architecture():
    model = CostModel(SPEC, DIMS, 5, 5)
    lo, hi = model.cheapest()[1], model.dearest()[1]
    lo_skip = model.cheapest(skip=True)[1]
    assert lo_skip.flops < lo.flops
    rng = random.Random(1)
    for _ in range(500):
        arch = Arch(rng.choice(POOLING_NAMES), random_blocks(rng, 5, True), random_blocks(rng, 5, True), DIMS)
        c = model.cost(arch)
        for field in ("user_params", "user_flops", "item_params", "item_flops"):
            assert getattr(lo_skip, field) <= getattr(c, field) <= getattr(hi, field)


def test_cost_rejects_other_dims_and_unknown_ops():
    model = CostModel(SPEC, DIMS)
    with pytest.raises(ValueError, match="dims"):
        model.cost(Arch("avg", ("EW-sum",) * 3, ("EW-sum",) * 3))
    with pytest.raises(ValueError, match="unknown"):
        model.item_cost(("EW-sum", "MLP-7", "EW-sum"))
    with pytest.raises(ValueError, match="depth_user"):
        CostModel(SPEC, DIMS, depth_user=9)


def test_counter_refuses_unclassified_ops():
    class Odd(torch.nn.Module):
        def forward(self, x):
            return torch.cumsum(x, 0)

    with pytest.raises(UnclassifiedOpError, match="cumsum"):
        count_ops(Odd(), torch.randn(3))
    with pytest.raises(UnclassifiedOpError, match="cumsum"):
        count_ops_torchprofile(Odd(), torch.randn(3))


def test_counter_on_a_hand_computed_module():
    lin = torch.nn.Linear(8, 4)
    assert count_ops(lambda x: torch.relu(lin(x)).sum(), torch.randn(2, 8)) == OpCount(64, 8 + 1)
