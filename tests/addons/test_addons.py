"""Debiasing and contrastive add-ons: every registered one trains, each against its explicit formula, the
configuration errors are one line naming the key, and inference scoring matches the stated adjustment."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tests.conftest import compose_config
from towernas.addons import ADDONS, AddOnError, RankerWithAddOns, WithAddOns, build_addons
from towernas.data.batches import training_batch
from towernas.data.train_stats import TrainStats
from towernas.losses.retrieval import in_batch_softmax
from towernas.retrievers.mean_pool import MeanPoolTwoTower
from towernas.train.configured import check_objective, ranker_addons
from towernas.train.objective import RetrievalObjective
from towernas.train.ranker_loop import RankerStep, addon_loss, bce

TAU = 0.1


def _model(data, seed=0):
    torch.manual_seed(seed)
    return MeanPoolTwoTower([], [], data.n_items, dim=8, hidden=(16,), out_dim=8)


def _batch(data, n=32, seed=0):
    rows = np.random.default_rng(seed).choice(data.rows("train"), n, replace=False)
    return training_batch(data, rows)


def _theta(data, exponent=0.5, floor=0.05):
    counts = torch.as_tensor(data.item_popularity("train"), dtype=torch.float64)
    return ((counts / counts.max()) ** exponent).clamp(min=floor, max=1.0).float()


# ------------------------------------------------------------------------------------ registry and config

LOSS_OF = {"relmf": "bce", "ubpr": "bpr"}


@pytest.mark.parametrize("name", ADDONS.names())
def test_every_addon_trains_a_step_and_scores_at_inference(name, data):
    """Loop over the registry: one optimiser step with the add-on moves the loss, eval vectors are finite."""
    model = _model(data)
    addons = build_addons([name])
    objective = RetrievalObjective(data, loss=LOSS_OF.get(name, "softmax"), temperature=TAU, addons=addons)
    wrapped = WithAddOns(model, addons)
    objective.check(wrapped)
    optimizer = torch.optim.Adam(wrapped.parameters(), lr=1e-2)
    batch = _batch(data)
    losses = []
    for _ in range(3):
        loss = objective(batch, wrapped.encode_users, wrapped.encode_items)
        assert torch.isfinite(loss)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    wrapped.eval()
    with torch.no_grad():
        users, items = wrapped.encode_users(batch), wrapped.encode_items(batch)
    assert users.shape[-1] == items.shape[-1] and torch.isfinite(users).all() and torch.isfinite(items).all()


def test_unknown_and_bad_addons_are_one_line_naming_the_key():
    with pytest.raises(AddOnError, match=r"^retrain.addons='pdx': unknown add-on; expected one of \['ips'"):
        build_addons(["pdx"], key="retrain.addons")
    with pytest.raises(AddOnError, match=r"^addon.cl4srec.weight=-1: expected a number >= 0"):
        build_addons(["cl4srec"], {"cl4srec": {"weight": -1}})
    with pytest.raises(AddOnError, match=r"^addon.ips.exponent=1.5: expected a number in \[0.0, 1.0\]"):
        build_addons(["ips"], {"ips": {"exponent": 1.5}})
    with pytest.raises(AddOnError, match=r"listed twice"):
        build_addons(["pda", "pda"])
    with pytest.raises(AddOnError, match=r"unknown argument\(s\) \['gama'\]"):
        build_addons(["pda"], {"pda": {"gama": 0.1}})


@pytest.mark.parametrize("overrides, message", [
    (["retrain.addons=[relmf]"], "retrain.addons: addon relmf needs the pointwise loss bce"),
    (["retrain.addons=[ubpr]", "retrain.loss=bce"], "retrain.addons: addon ubpr needs the pairwise loss bpr"),
    (["retrain.sampler=dnx"], "retrain.sampler='dnx': unknown sampler; expected one of ['in_batch'"),
    (["retrain.loss=hinge"], "retrain.loss='hinge': unknown loss; expected one of ['softmax'"),
    (["addon.dice.dim=0", "retrain.addons=[dice]"], "addon.dice.dim=0: expected a positive integer"),
    (["sampler.popularity.exponent=2", "retrain.sampler=popularity"], "sampler.popularity.exponent=2.0"),
    (["sampler.n_negatives=0"], "sampler.n_negatives=0: expected a positive integer"),
])
def test_config_errors_name_the_key_before_any_data(overrides, message):
    with pytest.raises(ValueError) as err:
        check_objective(compose_config(*overrides, name="retrain"), "retrain")
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_rankers_refuse_addons_that_need_a_retriever():
    cfg = compose_config("rank.addons=[ubpr]", name="rank")
    with pytest.raises(AddOnError, match="ubpr needs the pairwise loss bpr"):
        ranker_addons(cfg, "rank", "bce")

    class NoTower(torch.nn.Module):
        pass

    with pytest.raises(AddOnError, match="cl4srec trains on user-tower vectors; rankers have no user tower"):
        ranker_addons(compose_config("rank.addons=[cl4srec]", name="rank"), "rank", "bce", model=NoTower())


# -------------------------------------------------------------------------------- each add-on's formula

def test_ips_is_the_in_batch_softmax_weighted_by_inverse_propensity(data):
    model, batch = _model(data), _batch(data)
    objective = RetrievalObjective(data, temperature=TAU, addons=build_addons(["ips"]))
    loss = objective(batch, model.encode_users, model.encode_items)
    weights = 1.0 / _theta(data)[batch["item"]]
    log_q = objective.sampler.estimator.log_q(batch["item"])  # the estimator after this batch, as the objective
    expected = in_batch_softmax(model.encode_users(batch), model.encode_items(batch), batch["item"], temperature=TAU,
                                log_q=log_q, weights=weights)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)


def test_relmf_is_saitos_unbiased_pointwise_loss(data):
    model, batch = _model(data), _batch(data, n=16)
    objective = RetrievalObjective(data, loss="bce", temperature=TAU, addons=build_addons(["relmf"]))
    loss = objective(batch, model.encode_users, model.encode_items).item()
    logits = (model.encode_users(batch) @ model.encode_items(batch).T / TAU).double()
    theta = _theta(data)[batch["item"]].double()
    items, total = batch["item"].tolist(), 0.0
    for i in range(len(items)):
        sig = lambda x: 1.0 / (1.0 + math.exp(-x))  # noqa: E731
        l_pos = logits[i, i].item()
        pos = -(1 / theta[i].item()) * math.log(sig(l_pos)) - (1 - 1 / theta[i].item()) * math.log(1 - sig(l_pos))
        negs = [-math.log(1 - sig(logits[i, j].item())) for j in range(len(items)) if items[j] != items[i]]
        total += pos + sum(negs) / len(negs)
    assert loss == pytest.approx(total / len(items), rel=1e-5)


def test_ubpr_weights_pairs_by_both_propensities_and_known_positives(data):
    model, batch = _model(data), _batch(data, n=16)
    addon = build_addons(["ubpr"])[0]
    objective = RetrievalObjective(data, loss="bpr", temperature=TAU, addons=[addon])
    step = objective.step(batch, model.encode_users, model.encode_items)
    theta = _theta(data)
    train = {(int(u), int(i)) for u, i in zip(data.users[data.rows("train")], data.items[data.rows("train")])}
    users, ids = batch["user"].tolist(), step.ids.tolist()
    expected = torch.tensor([[1.0 - ((users[b], j) in train) / theta[j].item() for j in row] for b, row in enumerate(ids)])
    assert torch.allclose(addon.pair_weights(step), expected, atol=1e-6)
    assert torch.allclose(addon.weight(step), 1.0 / theta[batch["item"]])
    assert (expected < 0).any()  # the case that makes UBPR differ from IPS-weighted BPR: a known positive as "negative"


def test_pda_adds_gamma_log_popularity_in_training_and_pd_ranks_by_the_match_alone(data):
    model, batch = _model(data), _batch(data)
    pda = build_addons(["pda"], {"pda": {"gamma": 0.3}})[0]
    objective = RetrievalObjective(data, temperature=TAU, addons=[pda])
    step = objective.step(batch, model.encode_users, model.encode_items)
    counts = torch.as_tensor(data.item_popularity("train"), dtype=torch.float64) + 1
    log_m = (counts / counts.sum()).log().float()
    adjusted = pda.adjust(step.scores / TAU, step)
    assert torch.allclose(adjusted, step.scores / TAU + 0.3 * log_m[step.ids], atol=1e-5)
    wrapped = WithAddOns(model, [pda]).eval()
    assert torch.equal(wrapped.encode_items(batch), model.eval().encode_items(batch))  # PD: the backbone's score


def test_pda_inference_adds_recent_popularity_as_one_exact_vector_dimension(data):
    model, batch = _model(data), _batch(data)
    pda = build_addons(["pda"], {"pda": {"inference_gamma": 0.5}})[0]
    RetrievalObjective(data, temperature=TAU, addons=[pda])  # fits it and sets its temperature
    wrapped = WithAddOns(model, [pda]).eval()
    scores = wrapped.encode_users(batch) @ wrapped.encode_items(batch).T
    stats = TrainStats.from_data(data)
    recent = torch.as_tensor(stats.recent_item_counts, dtype=torch.float64) + 1
    log_recent = (recent / recent.sum()).log().float()
    base = model.encode_users(batch) @ model.encode_items(batch).T
    assert torch.allclose(scores, base + TAU * 0.5 * log_recent[batch["item"]][None, :], atol=1e-5)


def test_macr_fuses_branches_in_training_and_ranks_counterfactually(data):
    model, batch = _model(data), _batch(data)
    macr = build_addons(["macr"], {"macr": {"c": 3.0}})[0]
    objective = RetrievalObjective(data, temperature=TAU, addons=[macr])
    with torch.no_grad():  # non-trivial branches
        macr.item_branch.weight.normal_()
        macr.user_branch.weight.normal_()
    step = objective.step(batch, model.encode_users, model.encode_items)
    logits = step.scores / TAU
    gate_i = torch.sigmoid(macr.item_branch.weight[:, 0])
    gate_u = torch.sigmoid(macr.user_branch.weight[:, 0])
    expected = logits * gate_i[step.ids] * gate_u[batch["user"]][:, None]
    assert torch.allclose(macr.adjust(logits, step), expected, atol=1e-5)
    wrapped = WithAddOns(model, [macr]).eval()
    served = wrapped.encode_users(batch) @ wrapped.encode_items(batch).T  # = tau * sigmoid(y_i) * (l - c)
    match = model.encode_users(batch) @ model.encode_items(batch).T / TAU
    assert torch.allclose(served, TAU * gate_i[batch["item"]][None, :] * (match - 3.0), atol=1e-5)


def test_macr_branch_negatives_are_weighted_by_inverse_q():
    """The branches' BCE weights: 1 on positives, 0 on invalid columns, and on each row's negatives 1 / q_j
    rescaled to mean 1 (what ``branch_weights`` documents; whether the item branch then tracks popularity
    depends on the data and on the main loss, which also trains it)."""
    from types import SimpleNamespace

    from towernas.addons.debias.macr import branch_weights

    labels = torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]])
    invalid = torch.tensor([[False, False, False, True], [False, False, False, False]])
    q = torch.tensor([[0.5, 0.1, 0.4, 0.2], [0.5, 0.1, 0.4, 0.2]])
    step = SimpleNamespace(labels=lambda: labels, invalid=invalid, log_q=q.log())
    row0 = torch.tensor([1 / 0.1, 1 / 0.4])
    row0 = row0 * 2 / row0.sum()
    row1 = torch.tensor([1 / 0.5, 1 / 0.4, 1 / 0.2])
    row1 = row1 * 3 / row1.sum()
    expected = torch.tensor([[1.0, row0[0], row0[1], 0.0], [row1[0], 1.0, row1[1], row1[2]]])
    assert torch.allclose(branch_weights(step), expected, atol=1e-6)


def test_dice_adds_conformity_and_its_cause_specific_pairs_follow_popularity(data):
    model, batch = _model(data), _batch(data)
    dice = build_addons(["dice"], {"dice": {"alpha": 1.0, "beta": 0.0}})[0]
    objective = RetrievalObjective(data, temperature=TAU, addons=[dice])
    step = objective.step(batch, model.encode_users, model.encode_items)
    interest = step.scores / TAU
    step.logits = dice.adjust(interest, step)
    conformity = dice.user_conformity(batch["user"]) @ dice.item_conformity.weight.T  # (B, N)
    conformity = conformity.gather(1, step.ids)
    assert torch.allclose(step.logits, interest + conformity, atol=1e-5)
    counts = data.item_popularity("train")
    sp = lambda x: math.log1p(math.exp(-x))  # noqa: E731  -log sigmoid(x)
    more, less = [], []
    for b in range(len(step.ids)):
        i = int(batch["item"][b])
        for c, j in enumerate(step.ids[b].tolist()):
            if c == b or j == i:
                continue
            ib, cb = interest[b, b].item(), conformity[b, b].item()
            if counts[j] > counts[i]:
                more.append((sp(ib - interest[b, c].item()), sp(conformity[b, c].item() - cb)))
            elif counts[j] < counts[i]:
                less.append(sp(cb - conformity[b, c].item()))
    expected = sum(a for a, _ in more) / len(more) + sum(b for _, b in more) / len(more) + sum(less) / len(less)
    assert dice.extra_loss(step).item() == pytest.approx(expected, rel=1e-4)
    assert torch.equal(WithAddOns(model, [dice]).eval().encode_items(batch), model.eval().encode_items(batch))


def test_cl4srec_adds_weighted_info_nce_of_two_augmented_views(data):
    model, batch = _model(data), _batch(data)
    base = RetrievalObjective(data, temperature=TAU)(batch, model.encode_users, model.encode_items)
    for weight in (0.0, 0.5):
        addon = build_addons(["cl4srec"], {"cl4srec": {"weight": weight}})[0]
        with_cl = RetrievalObjective(data, temperature=TAU, addons=[addon])(batch, model.encode_users,
                                                                             model.encode_items)
        if weight == 0:
            assert with_cl.item() == pytest.approx(base.item(), rel=1e-6)
        else:
            assert with_cl.item() > base.item()  # InfoNCE is positive: two distinct views are never identical


def test_two_inference_changing_addons_are_refused(data):
    with pytest.raises(AddOnError, match="at most one add-on may change the inference scores"):
        WithAddOns(_model(data), build_addons(["macr", "pda"], {"pda": {"inference_gamma": 0.2}}))


# ------------------------------------------------------------------------------------------- rankers

def test_ranker_steps_weight_ctr_pairs_and_apply_relmf(data):
    ips, relmf = build_addons(["ips", "relmf"])
    stats = TrainStats.from_data(data)
    ips.fit(stats)
    relmf.fit(stats)
    items = torch.tensor([[3], [5], [7]])
    labels = torch.tensor([[1.0], [0.0], [1.0]])
    batch = {"user": torch.tensor([0, 1, 2])}
    theta = _theta(data)
    step = RankerStep(batch, items, labels, "bce")
    assert torch.allclose(ips.weight(step), torch.stack([1 / theta[3], torch.tensor(1.0), 1 / theta[7]]))
    logits = torch.tensor([[0.4], [-0.2], [1.1]])
    loss = addon_loss(logits, RankerStep(batch, items, labels, "bce"), [relmf], bce).item()
    sig = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    expected = 0.0
    for (l,), (y,), (i,) in zip(logits.tolist(), labels.tolist(), items.tolist()):
        t = theta[i].item()
        expected += (-(y / t) * math.log(sig(l)) - (1 - y / t) * math.log(1 - sig(l)))
    assert loss == pytest.approx(expected / 3, rel=1e-5)


def test_ranker_with_macr_scores_counterfactually_in_eval_only(data):
    class Fixed(torch.nn.Module):
        def score(self, batch, items):
            return items.float() / 10

    macr = build_addons(["macr"], {"macr": {"c": 0.5}})[0]
    macr.fit(TrainStats.from_data(data))
    with torch.no_grad():
        macr.item_branch.weight.normal_()
    ranker = RankerWithAddOns(Fixed(), [macr])
    items = torch.tensor([[1, 2, 3]])
    assert torch.equal(ranker.train().score({}, items), items.float() / 10)
    gate = torch.sigmoid(macr.item_branch.weight[items, 0])
    assert torch.allclose(ranker.eval().score({}, items), gate * (items.float() / 10 - 0.5))


def test_objective_state_resumes_the_supernet_identically(data, tmp_path):
    """A supernet trained with a sampled objective and parametrised add-ons resumes from its checkpoint to the
    same losses as an uninterrupted run (the sampler's generator and the add-ons' weights are checkpointed)."""
    from supernet.model import Supernet
    from supernet.trainer import train_supernet
    from towernas.data.spec import DatasetSpec
    from towernas.space import Dims
    from towernas.train.settings import SupernetSettings

    def run(steps, directory):
        torch.manual_seed(0)
        net = Supernet(DatasetSpec.from_data(data), Dims(embed=8, block=8, out=8), 3, 3)
        objective = RetrievalObjective(data, sampler="mixed", n_negatives=16, temperature=TAU,
                                       addons=build_addons(["macr", "cl4srec"]), seed=3)
        settings = SupernetSettings(steps=steps, batch_size=32, lr=1e-3, temperature=TAU, seed=0, checkpoint_every=2)
        return train_supernet(net, data, settings, device="cpu", progress=False, checkpoint_dir=directory,
                              objective=objective)

    straight = run(4, tmp_path / "a")["losses"]
    run(2, tmp_path / "b")
    resumed = run(4, tmp_path / "b")
    assert resumed["resumed_from"] == 2
    assert resumed["losses"] == pytest.approx(straight[2:], rel=1e-6)
