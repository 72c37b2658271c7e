"""The two tower anatomies and the order-aware poolings: hand-computed oracles and the dead-path property."""

import math

import pytest
import torch

from towernas.data.spec import DatasetSpec
from towernas.retrievers.two_tower import build, make_block
from towernas.space import POOLINGS, Arch, ArchError, Dims
from towernas.space.anatomy import ANATOMIES
from towernas.space.arch_space import ArchSpace
from tests.conftest import compose_config

DIMS = Dims(embed=16, block=16, out=16, head=4, attn=8, recent=1)


def test_recency_pooling_equals_its_hand_computed_weights():
    pool = POOLINGS["recency"](DIMS, 4)
    with torch.no_grad():
        pool.log_decay.fill_(math.log(0.5))
    x = torch.randn(2, 4, DIMS.embed)
    mask = torch.tensor([[True] * 4, [False, False, True, True]])
    ages = torch.tensor([3.0, 2.0, 1.0, 0.0])  # right-aligned: the last slot is the latest item
    w_full = torch.softmax(-0.5 * ages, 0)
    w_short = torch.softmax(-0.5 * ages[2:], 0)
    expected = torch.stack([(w_full[:, None] * x[0]).sum(0), (w_short[:, None] * x[1, 2:]).sum(0)])
    torch.testing.assert_close(pool(x, mask), expected)


@pytest.mark.parametrize("name", ["recency", "self_attention_pos", "self_attentive_pos"])
def test_order_aware_poolings_see_the_order_and_the_paper_ones_do_not(name):
    torch.manual_seed(0)
    x, mask = torch.randn(3, 6, DIMS.embed), torch.ones(3, 6, dtype=torch.bool)
    reversed_x = x.flip(1)
    assert not torch.allclose(POOLINGS[name](DIMS, 6)(x, mask), POOLINGS[name](DIMS, 6)(reversed_x, mask))
    for blind in ("avg", "self_attention", "self_attentive"):
        torch.manual_seed(1)
        pool = POOLINGS[blind](DIMS, 6)
        torch.testing.assert_close(pool(x, mask), pool(reversed_x, mask))


def test_normalised_blocks_cannot_carry_a_dead_path():
    """An EW-ip of five embedding-scale tokens is ~1e-7 in the paper's anatomy; normalised, it is unit-scale."""
    torch.manual_seed(0)
    tokens = torch.randn(64, 5, DIMS.block) * 0.05  # the embedding tables' init scale
    shortcut = tokens.mean(1).norm(dim=-1).mean()
    with torch.no_grad():
        plain = make_block("EW-ip", 5, DIMS, "autotower")(tokens)
        normed_inputs = torch.nn.functional.layer_norm(tokens, (DIMS.block,))
        normed = make_block("EW-ip", 5, DIMS, "towernas")(normed_inputs)
    assert plain.norm(dim=-1).mean() < 1e-3 * shortcut  # dead next to the shortcut
    assert float(normed.norm(dim=-1).mean()) == pytest.approx(math.sqrt(DIMS.block), rel=0.05)


def test_the_latest_items_are_tokens_of_the_user_tower():
    spec = DatasetSpec((), (), n_items=10, max_len=4)
    arch = Arch("avg", ("EW-sum", "skip", "skip"), ("EW-sum", "skip", "skip"), DIMS, space="towernas")
    model = build(arch, spec)
    torch.manual_seed(0)
    older = model.encode_users({"history": torch.tensor([[1, 2, 3, 4]])})
    swapped = model.encode_users({"history": torch.tensor([[1, 2, 4, 3]])})  # same set, another latest item
    assert not torch.allclose(older, swapped)
    assert model.user_tower.tower.blocks[0].op(torch.zeros(1, 3, 16)).shape == (1, 16)  # F_u=0 + pooled + latest = 2


def test_arch_json_names_its_space_and_old_files_read_as_autotower():
    arch = Arch("recency", ("MLP-16", "skip", "EW-ip"), ("SA-1", "EW-max", "skip"), DIMS, space="towernas")
    again = Arch.from_json(arch.to_json())
    assert again == arch and again.space == "towernas" and again.dims.recent == 1
    old = arch.to_dict()
    del old["space"], old["dims"]["recent"]
    legacy = Arch.from_dict(old)
    assert legacy.space == "autotower" and legacy.dims.recent == 0
    with pytest.raises(ArchError, match=r"arch.space='nas': unknown space; expected one of \['towernas', 'autotower'\]"):
        Arch.from_dict({**arch.to_dict(), "space": "nas"})


@pytest.mark.parametrize("preset", ["towernas", "autotower"])
def test_space_presets_build_and_keep_their_archs_apart(preset):
    space = ArchSpace.from_config(compose_config(f"space={preset}").space)
    assert space.name == preset and ANATOMIES[preset].block_norm == (preset == "towernas")
    assert space.allow_skip == (preset == "towernas") and (space.dims.recent > 0) == (preset == "towernas")
    other = "autotower" if preset == "towernas" else "towernas"
    genome = tuple(choices[0] for choices in space.slots())
    arch = space.arch(genome)
    with pytest.raises(ArchError, match=f"arch space '{other}' differs"):
        space.check(Arch(arch.pooling, arch.user, arch.item, arch.dims, space=other))
