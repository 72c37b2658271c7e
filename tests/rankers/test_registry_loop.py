"""Every registered ranker: shapes, finite logits, a gradient for every parameter, a cost, one-line errors."""

import numpy as np
import pytest
import torch

from towernas.data.features import Field
from towernas.rankers import RANKERS, Catalog, build_ranker
from towernas.rankers.cost import ranker_cost
from towernas.runs.registry import UnknownNameError

N_USERS, N_ITEMS, L = 6, 11, 5
USER_FIELDS = (Field("age", 4), Field("tags", 5, width=3, multi=True))
ITEM_FIELDS = (Field("genre", 4), Field("labels", 6, width=2, multi=True))


@pytest.fixture(scope="module")
def catalog():
    rng = np.random.default_rng(0)
    return Catalog(N_USERS, N_ITEMS, L, USER_FIELDS, ITEM_FIELDS,
                   {"genre": rng.integers(0, 4, N_ITEMS), "labels": rng.integers(0, 6, (N_ITEMS, 2))})


def query_batch(b=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    history = torch.randint(0, N_ITEMS, (b, L), generator=g)
    history[0, :2] = N_ITEMS  # padded slots
    return {"user": torch.randint(0, N_USERS, (b,), generator=g), "history": history,
            "user:age": torch.randint(0, 4, (b,), generator=g), "user:tags": torch.randint(0, 5, (b, 3), generator=g)}


FIELD_READERS = [n for n in RANKERS.names() if not RANKERS.get(n).id_only]  # all but mf, ncf (ids only)
ID_ONLY = [n for n in RANKERS.names() if RANKERS.get(n).id_only]

SMALL = {"embed": 4, "hidden": [16, 8]}  # every hyperparameter small, where the ranker has it


def small(name: str) -> dict:
    import inspect

    params = inspect.signature(RANKERS.get(name)).parameters
    extra = {"head_dim": 4, "cin_layers": [4, 4], "attention_hidden": [6]}
    return {k: v for k, v in {**SMALL, **extra}.items() if k in params}


@pytest.mark.parametrize("name", RANKERS.names())
def test_every_ranker_scores_every_candidate_and_trains_every_parameter(name, catalog):
    torch.manual_seed(0)
    ranker = build_ranker(name, catalog, **small(name))
    items = torch.randint(0, N_ITEMS, (3, 7))
    logits = ranker.score(query_batch(), items)
    assert logits.shape == (3, 7) and torch.isfinite(logits).all()
    logits.sum().backward()
    silent = [n for n, p in ranker.named_parameters() if p.grad is None or not torch.any(p.grad != 0)]
    assert not silent, f"{name}: parameters without gradient {silent}"


@pytest.mark.parametrize("name", RANKERS.names())
def test_a_candidate_scores_the_same_alone_or_in_a_list(name, catalog):
    """Candidates never see each other: the score of (query, item) does not depend on the rest of the list."""
    torch.manual_seed(0)
    ranker = build_ranker(name, catalog, **small(name)).eval()
    batch, items = query_batch(), torch.randint(0, N_ITEMS, (3, 6))
    together = ranker.score(batch, items)
    alone = torch.cat([ranker.score(batch, items[:, c:c + 1]) for c in range(6)], dim=1)
    torch.testing.assert_close(together, alone, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", RANKERS.names())
def test_every_ranker_has_a_cost_from_the_counter(name, catalog):
    cost = ranker_cost(build_ranker(name, catalog, **small(name)), history_len=L)
    assert cost.embedding_params > 0 and cost.flops_per_pair >= cost.flops_per_candidate > 0
    assert cost.params >= 1


def test_lr_cost_by_hand(catalog):
    """LR: 1 user id + 2 user fields + history length + latest item + mean history + 1 item id + 2 item fields
    = 9 scalars summed, + bias."""
    cost = ranker_cost(build_ranker("lr", catalog), history_len=L)
    assert cost.params == 1  # the bias; every weight is an embedding
    assert cost.embedding_params == (N_USERS + 1) + 4 + 5 + (L + 1) + (N_ITEMS + 1) + 4 + 6


def test_fm_equals_linear_plus_pairwise_inner_products(catalog):
    torch.manual_seed(1)
    ranker = build_ranker("fm", catalog, embed=3)
    for p in ranker.linear.parameters():
        torch.nn.init.normal_(p)
    batch, items = query_batch(2), torch.randint(0, N_ITEMS, (2, 4))
    v = ranker.fields(batch, items).stacked()  # (B, C, F, E)
    pairwise = sum((v[:, :, i] * v[:, :, j]).sum(-1) for i in range(v.shape[2]) for j in range(i + 1, v.shape[2]))
    torch.testing.assert_close(ranker.score(batch, items), ranker.linear(batch, items) + pairwise)


def test_padding_in_the_history_changes_nothing(catalog):
    """A history slot holding the padding id is absent: DIN and the mean-pooled history ignore it."""
    torch.manual_seed(0)
    batch, items = query_batch(), torch.randint(0, N_ITEMS, (3, 4))
    for name in ("din", "deepfm"):
        ranker = build_ranker(name, catalog, **small(name)).eval()
        shorter = {**batch, "history": batch["history"].clone()}
        shorter["history"][1, :3] = N_ITEMS
        longer = {**shorter, "history": torch.cat([torch.full((3, 2), N_ITEMS), shorter["history"]], 1)}
        torch.testing.assert_close(ranker.score(shorter, items), ranker.score(longer, items))


def test_unknown_ranker_or_hyperparameter_is_one_line(catalog):
    with pytest.raises(UnknownNameError, match=r"ranker.name='deepm': unknown ranker; expected one of \[.*'deepfm'"):
        build_ranker("deepm", catalog)
    with pytest.raises(UnknownNameError, match="unknown argument"):
        build_ranker("deepfm", catalog, crossing_layers=3)
