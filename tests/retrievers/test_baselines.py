"""Hand-crafted baselines (GoogleDNN, SENET, BST, MIND), at the paper's layers (``<family>_paper``) and at
an in-budget grid size (``<family>``): shapes, gradients, training, exact costs, and the multi-interest
exact top-k against brute force."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from omegaconf import OmegaConf

from tests.conftest import CONF_DIR
from towernas.complexity import Budget, BudgetError, formulas, synthetic_spec, tower_cost
from towernas.data.batches import training_batch
from towernas.data.ragged import Ragged
from towernas.eval import exact_topk
from towernas.eval.multi_interest import exact_topk_multi
from towernas.losses.retrieval import in_batch_softmax
from towernas.retrievers import BASELINES, BUDGET_LAYERS, BUDGETS, IN_BUDGET, PAPER_SIZED, build_baseline, is_paper
from towernas.retrievers.mind import label_aware_scores
from towernas.retrievers.sizing import fitting_sizes
from towernas.runs.errors import UserError

E = 64  # Dims().embed
CASES = [(name, budget) for name in BASELINES for budget in BUDGETS]
PRESETS = {b: Budget.from_config(OmegaConf.load(CONF_DIR / "budget" / f"{b}.yaml")) for b in BUDGETS}


def _build(name, budget, spec):
    """``name`` for preset ``budget``: the paper's layers, or (in budget) its dearest grid size that fits."""
    if is_paper(name):
        return build_baseline(name, budget, spec)
    label, _ = fitting_sizes(name, PRESETS[budget], spec)[-1]
    return build_baseline(name, PRESETS[budget], spec, size=label)


def _batch(data, n=32, seed=0):
    rows = np.random.default_rng(seed).choice(data.rows("train"), n, replace=False)
    return training_batch(data, rows)


def scores(model, batch):
    """The trainer contract: ``train_scores`` if the model has it, else users @ items.T."""
    if hasattr(model, "train_scores"):
        return model.train_scores(batch)
    return model.encode_users(batch) @ model.encode_items(batch).T


def loss(model, batch):
    s = scores(model, batch)  # (B, B) cosines; in_batch_softmax(s, I) computes s @ I = s
    return in_batch_softmax(s, torch.eye(len(s)), batch["item"])


def test_unknown_name_or_budget_lists_the_valid_ones():
    with pytest.raises(ValueError, match="google_dnn.*google_dnn_paper.*senet.*bst.*mind.*mind_paper") as err:
        build_baseline("dssm", "L", synthetic_spec())
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="'L', 'M', 'H'"):
        build_baseline("bst_paper", "XL", synthetic_spec())


def test_paper_names_build_the_paper_sizes():
    spec = synthetic_spec()
    for name in PAPER_SIZED:
        for budget in BUDGETS:
            assert build_baseline(name, budget, spec).layers == BUDGET_LAYERS[budget]
            assert build_baseline(name, PRESETS[budget], spec).layers == BUDGET_LAYERS[budget]  # by its name
    attention = build_baseline("bst_paper", "L", spec).user_tower.transformer.attention
    assert (attention.heads, attention.head_dim) == (2, E // 2)
    assert build_baseline("bst_paper", "L", spec).user_tower.transformer.ffn[0].out_features == 4 * E
    extractor = build_baseline("mind_paper", "L", spec).user_tower.extractor
    assert extractor.routing_init.shape[0] == 4 and extractor.bilinear.out_features == E
    assert set(BASELINES) == set(IN_BUDGET) | set(PAPER_SIZED) and len(BASELINES) == 8


def test_in_budget_names_need_a_size_that_fits_a_budget():
    spec, low = synthetic_spec(), PRESETS["L"]
    model = build_baseline("bst", low, spec, size="[64] heads=1 head_dim=8 ffn=16")
    attention = model.user_tower.transformer.attention
    assert (attention.heads, attention.head_dim, model.user_tower.transformer.ffn[0].out_features) == (1, 8, 16)
    assert low.admits(tower_cost(model, spec))
    with pytest.raises(UserError, match=r"'google_dnn' is sized on validation: pass size= one of \['\[64\]'"):
        build_baseline("google_dnn", low, spec)
    with pytest.raises(BudgetError, match=r"google_dnn \[512,256,128\] .* exceeds budget L .*flops 658566 > 150000"):
        build_baseline("google_dnn", low, spec, size="[512,256,128]")
    with pytest.raises(UserError, match="not in its grid; expected one of"):
        build_baseline("google_dnn", low, spec, size="[100]")
    with pytest.raises(UserError, match="must fit a budget: pass a towernas.complexity.Budget, not 'L'"):
        build_baseline("google_dnn", "L", spec, size="[64]")
    with pytest.raises(UserError, match="has the paper's layers"):
        build_baseline("google_dnn_paper", "L", spec, size="[64]")


@pytest.mark.parametrize("name,budget", CASES)
def test_shapes_norms_and_every_parameter_gets_a_gradient(data, spec, name, budget):
    torch.manual_seed(0)
    model = _build(name, budget, spec)
    batch = _batch(data)
    users, items = model.encode_users(batch), model.encode_items(batch)
    out = model.out_dim
    assert items.shape == (32, out)
    if name.startswith("mind"):
        assert users.shape == (32, model.user_tower.extractor.routing_init.shape[0], out)
    else:
        assert users.shape == (32, out)
    for x in (users, items):
        assert torch.isfinite(x).all()
        torch.testing.assert_close(x.norm(dim=-1), torch.ones(x.shape[:-1]))
    value = loss(model, batch)
    assert torch.isfinite(value)
    value.backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), pname
        if not pname.startswith("embedder."):
            assert p.grad.abs().sum() > 0, pname


def test_the_score_contract_is_the_plain_in_batch_softmax_for_single_vector_models(data, spec):
    model = build_baseline("google_dnn_paper", "L", spec)
    batch = _batch(data)
    direct = in_batch_softmax(model.encode_users(batch), model.encode_items(batch), batch["item"])
    torch.testing.assert_close(loss(model, batch), direct)


@pytest.mark.parametrize("name", BASELINES)
def test_padding_never_contributes_to_the_user_tower(spec, name):
    tower = _build(name, "L", spec).user_tower
    gen = torch.Generator().manual_seed(1)
    fields = torch.randn(3, len(spec.user_fields), E, generator=gen)
    history = torch.randn(3, spec.max_len, E, generator=gen)
    mask = torch.ones(3, spec.max_len, dtype=torch.bool)
    mask[0, :15], mask[1, :-1], mask[2] = False, False, False  # 5 items, 1 item, empty history
    noisy = history + 10 * torch.randn(history.shape, generator=gen) * (~mask).unsqueeze(-1)
    with torch.no_grad():
        torch.testing.assert_close(tower(fields, noisy, mask), tower(fields, history, mask))
        assert torch.isfinite(tower(fields, history, mask)).all()


@pytest.mark.parametrize("name", BASELINES)
def test_a_few_steps_lower_the_loss(data, spec, name):
    torch.manual_seed(0)
    model = _build(name, "L", spec)
    batch = _batch(data, n=64, seed=1)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    losses = []
    for _ in range(12):
        value = loss(model, batch)
        optimizer.zero_grad()
        value.backward()
        optimizer.step()
        losses.append(value.item())
    assert losses[-1] < losses[0] - 0.1, losses


# -- MIND ------------------------------------------------------------------------------------------
def test_mind_label_aware_scores_match_a_hand_loop(data, spec):
    torch.manual_seed(0)
    model = build_baseline("mind_paper", "L", spec)
    batch = _batch(data, n=5, seed=2)
    batch["history"][0, :-2] = spec.n_items  # 2 items: 1 interest
    batch["history"][1, :-9] = spec.n_items  # 9 items: 3 interests
    batch["history"][2] = torch.arange(spec.max_len)  # 20 items: 4 interests
    with torch.no_grad():
        got = model.score_matrix(batch)
        interests, valid = model.user_tower.interests(*model.embedder.user_inputs(batch))
        items = model.encode_items(batch)
    assert valid.sum(1).tolist()[:3] == [1, 3, 4]
    want = torch.zeros(5, 5)
    for i in range(5):
        u = interests[i, valid[i]]  # (K_i, D)
        for j in range(5):
            a = torch.softmax(torch.stack([(uk @ items[j]) ** 2 for uk in u]), 0)
            user = sum(ak * uk for ak, uk in zip(a, u))
            want[i, j] = user / user.norm() @ items[j]
    torch.testing.assert_close(got, want)
    assert torch.equal(model.train_scores(batch), got)


def test_mind_serving_repeats_interest_zero_for_short_histories(data, spec):
    model = build_baseline("mind_paper", "L", spec)
    batch = _batch(data, n=2, seed=3)
    batch["history"][0, :-3] = spec.n_items  # 3 items: floor(log2 3) = 1 interest
    batch["history"][1] = torch.arange(spec.max_len)  # a full history: 4 interests
    with torch.no_grad():
        users = model.encode_users(batch)
    for k in range(1, 4):
        torch.testing.assert_close(users[0, k], users[0, 0])
    assert not torch.allclose(users[1, 1], users[1, 0])  # full history: 4 distinct interests


def test_label_aware_attention_with_one_interest_is_the_cosine():
    u = F.normalize(torch.randn(3, 2, 8), dim=-1)
    v = F.normalize(torch.randn(4, 8), dim=-1)
    valid = torch.tensor([[True, False]] * 3)
    torch.testing.assert_close(label_aware_scores(u, valid, v), u[:, 0] @ v.T)


# -- multi-interest exact top-k ---------------------------------------------------------------------
def _brute_force(queries, items, k, exclude):
    s = (queries.astype(np.float64) @ items.T.astype(np.float64)).max(1)  # (Q, N), exact on small ints
    ids = np.full((len(s), k), -1)
    out = np.full((len(s), k), -np.inf, dtype=np.float32)
    for q in range(len(s)):
        keep = np.setdiff1d(np.arange(items.shape[0]), exclude[q])
        order = keep[np.lexsort((keep, -s[q, keep]))][:k]
        ids[q, :len(order)], out[q, :len(order)] = order, s[q, order]
    return ids, out


@pytest.mark.parametrize("backend", ["torch", "faiss"])
def test_exact_topk_multi_equals_brute_force_with_exclusions_and_ties(backend):
    rng = np.random.default_rng(0)
    items = rng.integers(-2, 3, (60, 4)).astype(np.float32)  # few distinct values: many ties
    items[30:40] = items[:10]  # duplicate rows: exact ties between different ids
    queries = rng.integers(-2, 3, (25, 3, 4)).astype(np.float32)
    queries[3, 1:] = queries[3, 0]  # repeated interests (MIND's short-history padding)
    exclude = Ragged.from_lists([rng.choice(60, rng.integers(0, 20), replace=False) for _ in range(24)]
                                + [np.arange(55)])  # the last query has only 5 items left
    ids, got = exact_topk_multi(queries, items, 10, exclude, batch_size=7, backend=backend)
    want_ids, want = _brute_force(queries, items, 10, exclude)
    np.testing.assert_array_equal(ids, want_ids)
    np.testing.assert_array_equal(got, want)
    assert (ids[-1, 5:] == -1).all()


def test_exact_topk_multi_with_one_interest_is_exact_topk():
    rng = np.random.default_rng(1)
    items = rng.standard_normal((100, 8)).astype(np.float32)
    queries = torch.from_numpy(rng.standard_normal((12, 1, 8)).astype(np.float32))
    got = exact_topk_multi(queries, items, 7)
    want = exact_topk(queries[:, 0], items, 7)
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="3-D"):
        exact_topk_multi(queries[:, 0], items, 7)
    ids, scores = exact_topk_multi(queries[:0], items, 7)
    assert ids.shape == scores.shape == (0, 7)


# -- complexity -------------------------------------------------------------------------------------
def test_google_dnn_cost_equals_the_hand_formula():
    spec = synthetic_spec()
    layers = BUDGET_LAYERS["L"]

    def dnn(d_in):
        widths = (d_in, *layers)
        cost = formulas.ZERO
        for a, b in zip(widths, widths[1:]):
            cost = cost + formulas.linear(1, a, b)
        relu = sum(layers[:-1])  # ReLU outputs between layers
        normalize = layers[-1] + 2  # norm, clamp_min, div
        return cost + formulas.OpCost(0, 0, relu + normalize)

    user = dnn((len(spec.user_fields) + 1) * E) + formulas.masked_mean(spec.max_len, E)
    item = dnn(spec.n_item_inputs * E)
    cost = tower_cost(build_baseline("google_dnn_paper", "L", spec), spec)
    assert (cost.user_params, cost.user_flops) == (user.params, user.flops)
    assert (cost.item_params, cost.item_flops) == (item.params, item.flops)
    assert cost.user_params == 320 * 256 + 256 + 256 * 192 + 192 + 192 * 128 + 128


def test_bst_extra_params_are_the_transformer_and_positions():
    spec = synthetic_spec()
    bst = tower_cost(build_baseline("bst_paper", "M", spec), spec)
    dnn = tower_cost(build_baseline("google_dnn_paper", "M", spec), spec)
    attention = E * 3 * E + 3 * E + E * E + E
    ffn = E * 4 * E + 4 * E + 4 * E * E + E
    assert bst.user_params - dnn.user_params == attention + ffn + 2 * 2 * E + spec.max_len * E
    assert bst.item_params == dnn.item_params


def test_all_paper_baselines_have_positive_costs_growing_with_the_budget_and_exceed_it():
    spec = synthetic_spec()
    costs = {(n, b): tower_cost(build_baseline(n, b, spec), spec) for n in PAPER_SIZED for b in BUDGETS}
    for (_, budget), c in costs.items():
        assert min(c.user_params, c.user_flops, c.item_params, c.item_flops) > 0
        assert not PRESETS[budget].admits(c)  # why the in-budget sizes exist
    for name in PAPER_SIZED:
        low, mid, high = (costs[name, b] for b in ("L", "M", "H"))
        assert low.params < mid.params < high.params and low.flops < mid.flops < high.flops
    for budget in BUDGETS:  # SE adds a little; the transformer and K interests add a lot of user FLOPs
        dnn = costs["google_dnn_paper", budget]
        assert 0 < costs["senet_paper", budget].params - dnn.params < 100
        assert costs["bst_paper", budget].user_flops > dnn.user_flops + 500_000
        assert costs["mind_paper", budget].user_flops > 3 * dnn.user_flops


def test_tower_cost_keeps_the_training_mode():
    spec = synthetic_spec()
    model = build_baseline("senet_paper", "L", spec)
    tower_cost(model, spec)
    assert model.training
    model.eval()
    tower_cost(model, spec)
    assert not model.training
