"""``mf`` and ``ncf``, the rating task's id-only baselines, against their formulas written out here."""

import torch

import pytest

from tests.rankers.test_registry_loop import ID_ONLY, N_ITEMS, N_USERS, query_batch
from towernas.rankers import Catalog, build_ranker


def _randomised(ranker):
    torch.manual_seed(3)
    for p in ranker.parameters():
        torch.nn.init.normal_(p)
    return ranker


def test_mf_is_bias_plus_user_and_item_biases_plus_the_factors_dot_product():
    ranker = _randomised(build_ranker("mf", Catalog(N_USERS, N_ITEMS), embed=3))
    batch, items = query_batch(2), torch.randint(0, N_ITEMS, (2, 4))
    expected = torch.empty(2, 4)
    for b in range(2):
        u = int(batch["user"][b])
        for c in range(4):
            i = int(items[b, c])
            expected[b, c] = (ranker.bias + ranker.user_bias.weight[u, 0] + ranker.item_bias.weight[i, 0]
                              + sum(ranker.user.weight[u, k] * ranker.item.weight[i, k] for k in range(3)))
    torch.testing.assert_close(ranker.score(batch, items), expected)


def test_mf_starts_at_the_mean_up_to_its_small_factors():
    """Biases start at 0 and the factors at N(0, 0.01²): the untrained prediction is the train mean (score ≈ 0)."""
    ranker = build_ranker("mf", Catalog(N_USERS, N_ITEMS), embed=8)
    assert ranker.score(query_batch(), torch.randint(0, N_ITEMS, (3, 5))).abs().max() < 1e-2


def test_ncf_is_a_linear_output_over_the_gmf_product_and_the_mlp_of_the_ids():
    ranker = _randomised(build_ranker("ncf", Catalog(N_USERS, N_ITEMS), embed=3, hidden=[5, 4]))
    batch, items = query_batch(2), torch.randint(0, N_ITEMS, (2, 3))
    layers = [m for m in ranker.mlp if isinstance(m, torch.nn.Linear)]
    w, b0 = ranker.out.weight[0], ranker.out.bias[0]
    expected = torch.empty(2, 3)
    for r in range(2):
        u = int(batch["user"][r])
        for c in range(3):
            i = int(items[r, c])
            gmf = ranker.gmf_user.weight[u] * ranker.gmf_item.weight[i]
            h = torch.cat([ranker.mlp_user.weight[u], ranker.mlp_item.weight[i]])
            for layer in layers:  # every layer ReLU'd: the MLP's last layer is a hidden one, the output follows
                h = torch.relu(layer.weight @ h + layer.bias)
            expected[r, c] = w[:3] @ gmf + w[3:] @ h + b0
    torch.testing.assert_close(ranker.score(batch, items), expected)


@pytest.mark.parametrize("name", ID_ONLY)
def test_an_id_only_ranker_reads_ids_only(name):
    """History and side fields change nothing (the registry loop's rating and pair-feature tests skip these)."""
    assert set(ID_ONLY) >= {"mf", "ncf"}
    batch, items = query_batch(3), torch.randint(0, N_ITEMS, (3, 4))
    other = {**batch, "history": torch.full_like(batch["history"], N_ITEMS), "user:age": batch["user:age"] * 0}
    ranker = _randomised(build_ranker(name, Catalog(N_USERS, N_ITEMS)))
    torch.testing.assert_close(ranker.score(batch, items), ranker.score(other, items))
