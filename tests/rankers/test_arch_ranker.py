"""``ranker=arch``: a ranker built from a ``RankerArch``, against its formula written out here, and read from a
``ranker.arch`` file by the config."""

import inspect
import json

import pytest
import torch

from tests.conftest import compose_config
from tests.rankers.test_registry_loop import N_ITEMS, query_batch
from towernas.config.ranker import hyperparameters
from towernas.rankers import Catalog, build_ranker
from towernas.rankers.arch import ArchRanker
from towernas.space import ArchError
from towernas.space.ranker_arch import DIMS, RankerArch
from towernas.space.ranker_ops import DotProductBlock, FMBlock


def _layer_norm(x, norm):
    return torch.nn.functional.layer_norm(x, x.shape[-1:], norm.weight, norm.bias, norm.eps)


@pytest.mark.parametrize("pairwise", [True, False])
def test_an_fm_block_ranker_is_the_formula_of_the_module_docstring(pairwise):
    """logit = w · (LN(FM(LN(x))) + mean(LN(x))) + b + first-order terms [+ sum_{f<g} <v_f, v_g> of the raw fields],
    x the pair's fields (embed = block)."""
    torch.manual_seed(0)
    catalog = Catalog(6, N_ITEMS, 5)
    ranker = build_ranker("arch", catalog, blocks=["FM"], embed=4, block=4, pairwise=pairwise)
    for p in ranker.parameters():
        torch.nn.init.normal_(p)
    batch, items = query_batch(2), torch.randint(0, N_ITEMS, (2, 3))
    fields = ranker.fields(batch, items).stacked()  # (B, C, F, E)
    x = _layer_norm(fields, ranker.norm)
    n = x.shape[2]
    bi = sum(x[:, :, i] * x[:, :, j] for i in range(n) for j in range(i + 1, n))  # FM's bi-interaction
    out = _layer_norm(bi, ranker.blocks[0].norm) + x.mean(2)
    expected = (out @ ranker.head.weight[0]) + ranker.head.bias[0] + ranker.linear(batch, items)
    if pairwise:
        expected = expected + sum((fields[:, :, i] * fields[:, :, j]).sum(-1) for i in range(n)
                                  for j in range(i + 1, n))
    torch.testing.assert_close(ranker.score(batch, items), expected, rtol=1e-4, atol=1e-4)


def test_a_pairwise_ranker_starts_as_the_fm_of_its_fields():
    """With ``pairwise`` the chain's logit starts at zero: the untrained ranker scores what an FM with the same
    embeddings and first-order terms scores (registered ``fm``, weights copied)."""
    torch.manual_seed(0)
    catalog = Catalog(6, N_ITEMS, 5)
    ranker = build_ranker("arch", catalog, blocks=["MLP-16", "SA-2"], history="target", embed=8, block=8,
                          pairwise=True)
    fm = build_ranker("fm", catalog, embed=8)
    fm.fields.load_state_dict(ranker.fields.state_dict())
    fm.linear.load_state_dict(ranker.linear.state_dict())
    batch, items = query_batch(2), torch.randint(0, N_ITEMS, (2, 3))
    torch.testing.assert_close(ranker.score(batch, items), fm.score(batch, items))


def test_the_interaction_blocks_against_their_definitions():
    torch.manual_seed(0)
    tokens = torch.randn(3, 4, 5)
    fm = FMBlock()(tokens)
    torch.testing.assert_close(fm.sum(-1), torch.stack([sum(tokens[b, i] @ tokens[b, j] for i in range(4)
                                                             for j in range(i + 1, 4)) for b in range(3)]))
    dp = DotProductBlock(4, 5)
    pairs = torch.stack([torch.stack([tokens[b, i] @ tokens[b, j] for i in range(4) for j in range(i + 1, 4)])
                         for b in range(3)])  # (3, 6) in row-major upper-triangle order
    torch.testing.assert_close(dp(tokens), dp.out(pairs))


def test_history_target_adds_the_attended_history_as_one_more_token():
    catalog = Catalog(6, N_ITEMS, 5)
    mean = build_ranker("arch", catalog, blocks=["MLP-16"], history="mean")
    target = build_ranker("arch", catalog, blocks=["MLP-16"], history="target")
    assert target.blocks[0].op.mlp[0].in_features == mean.blocks[0].op.mlp[0].in_features + 16
    batch, items = query_batch(), torch.randint(0, N_ITEMS, (3, 4))
    x = target.fields(batch, items)
    interest = target.attention(target.fields.candidates(batch["history"]).sum(2), x.items.sum(2), x.mask)
    tokens = target.tokens(batch, items)  # (B * C, F + 1, E)
    torch.testing.assert_close(tokens[:, :-1], x.stacked().flatten(0, 1))
    torch.testing.assert_close(tokens[:, -1], interest.flatten(0, 1))


def test_the_constructor_defaults_are_the_architecture_defaults():
    params = inspect.signature(ArchRanker).parameters
    assert {k: params[k].default for k in DIMS} == DIMS
    arch = RankerArch(tuple(params["blocks"].default))
    assert (arch.history, arch.pairwise) == (params["history"].default, params["pairwise"].default)
    assert params["pairwise"].default is False  # a cascade export's arch stage saved without the key rebuilds as trained


def test_a_bad_block_is_the_architecture_error():
    with pytest.raises(ArchError, match=r"blocks\[1\]='FM-2': unknown block"):
        build_ranker("arch", Catalog(6, N_ITEMS, 5), blocks=["MLP-16", "FM-2"])


def test_ranker_arch_reads_the_file_and_refuses_a_key_set_beside_it(tmp_path):
    path = tmp_path / "best.json"
    RankerArch(("DP", "CROSS-2"), history="target", embed=8, block=8, head=4).save(path)
    cfg = compose_config("ranker=arch", f"ranker.arch={path}", name="rank")
    assert hyperparameters(cfg.ranker) == {"blocks": ["DP", "CROSS-2"], "history": "target", "embed": 8, "block": 8,
                                           "head": 4, "pairwise": False}
    both = compose_config("ranker=arch", f"ranker.arch={path}", "ranker.embed=32", name="rank")
    with pytest.raises(ValueError, match=r"ranker.arch=.*best.json and ranker.embed=32: the file gives every key"):
        hyperparameters(both.ranker)
    written = compose_config("ranker=arch", "ranker.blocks=[FM,EW-ip]", name="rank")
    assert hyperparameters(written.ranker)["blocks"] == ["FM", "EW-ip"]


def test_rank_trains_a_ranker_from_an_architecture_file(tmp_path, data_root):
    from towernas import rank

    path = tmp_path / "best.json"
    RankerArch(("FM", "MLP-16"), embed=4, block=8, head=4).save(path)
    out = rank.run_rank(compose_config("ranker=arch", f"ranker.arch={path}", name="rank"), tmp_path / "run")
    [row] = out["table"]
    assert row["model"] == "arch" and 0 <= row["auc"] <= 1 and row["cost"]["flops_per_pair"] > 0
    assert json.loads((tmp_path / "run" / "results.json").read_text())["ranker"]["arch"] == str(path)
