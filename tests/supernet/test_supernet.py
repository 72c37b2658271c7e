"""The supernet: a path equals its exported child, gradients stay on the path, SPOS training resumes exactly."""

import copy
import json
import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from supernet import (
    ArchSampler,
    RowStream,
    Supernet,
    SupernetDivergedError,
    SupernetSpace,
    export,
    fixed_batches,
    train_supernet,
    validation_loss,
)
from supernet.model import op_key
from supernet.trainer import validation_recall
from towernas.eval.encode import evaluate_model, sample_queries
from towernas.data.batches import training_batch
from towernas.space import BLOCK_NAMES, POOLING_NAMES, SKIP, Arch, ArchError, Dims
from towernas.train.settings import SupernetSettings

# embed != block, so the align maps carry weights too; small widths keep the tests fast
DIMS = Dims(embed=16, block=24, out=8, head=4, attn=8)
NORMED_DIMS = Dims(embed=16, block=24, out=8, head=4, attn=8, recent=2)  # the towernas anatomy, 2 latest items
SPACES = {"autotower": DIMS, "towernas": NORMED_DIMS}
DEPTH = 3


def make_supernet(spec, seed=0, space="autotower", **kwargs):
    torch.manual_seed(seed)
    return Supernet(spec, SPACES[space], DEPTH, DEPTH, space=space, **kwargs)


def covering_archs(n=14, seed=0, space="autotower"):
    """``n`` seeded random archs that together use every block (user and item side) and every pooling."""
    rng = np.random.default_rng(seed)
    user = [str(b) for _ in range(3) for b in rng.permutation(BLOCK_NAMES)]
    item = [str(b) for _ in range(3) for b in rng.permutation(BLOCK_NAMES)]
    return [Arch(POOLING_NAMES[i % len(POOLING_NAMES)], tuple(user[DEPTH * i : DEPTH * (i + 1)]),
                 tuple(item[DEPTH * i : DEPTH * (i + 1)]), SPACES[space], space=space) for i in range(n)]


def a_batch(data, n=32, seed=0):
    rows = np.random.default_rng(seed).choice(data.rows("train"), n, replace=False)
    return training_batch(data, rows)


@pytest.mark.parametrize("space", SPACES)
def test_every_path_equals_its_exported_child(data, spec, space):
    net, batch = make_supernet(spec, space=space), a_batch(data)
    archs = covering_archs(space=space)
    assert {b for a in archs for b in a.user} == {b for a in archs for b in a.item} == set(BLOCK_NAMES)
    assert {a.pooling for a in archs} == set(POOLING_NAMES)
    for arch in archs:
        child = export(net, arch)
        assert torch.allclose(net.encode_users(batch, arch), child.encode_users(batch), atol=1e-6), arch
        assert torch.allclose(net.encode_items(batch, arch), child.encode_items(batch), atol=1e-6), arch
    # the child owns copies: training it leaves the supernet alone
    child = export(net, archs[0])
    before = net.embedder.item_ids.weight.clone()
    with torch.no_grad():
        child.embedder.item_ids.weight.add_(1.0)
    assert torch.equal(net.embedder.item_ids.weight, before)


def test_skip_positions_export_and_default_dims(data, spec):
    net, batch = make_supernet(spec, allow_skip=True), a_batch(data)
    arch = Arch("self_attentive", ("SA-2", SKIP, "MLP-64"), ("EW-ip", "MLP-16", SKIP), DIMS)
    assert torch.allclose(net.encode_users(batch, arch), export(net, arch).encode_users(batch), atol=1e-6)
    assert torch.allclose(net.encode_items(batch, arch), export(net, arch).encode_items(batch), atol=1e-6)
    assert SKIP not in net.space.choices("user", 0) and SKIP in net.space.choices("item", 2)
    torch.manual_seed(0)
    wide = Supernet(spec, Dims(), 3, 3, blocks=("MLP-128", "SA-1", "EW-max"), poolings=("avg", "self_attention"))
    arch = Arch("self_attention", ("MLP-128", "SA-1", "EW-max"), ("SA-1", "EW-max", "MLP-128"))
    assert torch.allclose(wide.encode_users(batch, arch), export(wide, arch).encode_users(batch), atol=1e-6)


def test_archs_outside_the_supernet_are_rejected(spec):
    net = make_supernet(spec, blocks=("MLP-16", "EW-sum"), poolings=("avg",))
    batch = {"item": torch.tensor([0, 1])}
    with pytest.raises(ArchError, match="not a choice"):
        net.encode_items(batch, Arch("avg", ("MLP-16",) * 3, ("MLP-16", "SA-1", "EW-sum"), DIMS))
    with pytest.raises(ArchError, match="3 positions"):
        net.encode_items(batch, Arch("avg", ("MLP-16",) * 3, ("MLP-16",) * 4, DIMS))
    with pytest.raises(ArchError, match="dims"):
        net.encode_items(batch, Arch("avg", ("MLP-16",) * 3, ("MLP-16",) * 3))
    assert not any("-" in name for name, _ in net.named_parameters())  # "MLP-16" is stored as "MLP_16"


@pytest.mark.parametrize("space", SPACES)
@pytest.mark.parametrize("index", [0, 5, 9, 13])
def test_gradients_reach_exactly_the_chosen_path(data, spec, index, space):
    net, batch = make_supernet(spec, space=space), a_batch(data)
    arch = covering_archs(space=space)[index]
    loss = (net.encode_users(batch, arch) * net.encode_items(batch, arch)).sum(-1).pow(2).mean()
    loss.backward()
    on_path = ("embedder.", f"poolings.{arch.pooling}.", "user.align.", "user.norm.", "user.project.", "item.align.",
               "item.norm.", "item.project.", *(f"user.positions.{k}.{op_key(n)}." for k, n in enumerate(arch.user)),
               *(f"item.positions.{k}.{op_key(n)}." for k, n in enumerate(arch.item)))
    n_on = 0
    for name, p in net.named_parameters():
        if name.startswith(on_path):
            n_on += 1
            assert p.grad is not None and p.grad.abs().sum() > 0, name
        else:
            assert p.grad is None, name
    assert n_on >= 7  # item-id table, field tables, align maps, projections at least
    assert set(net.path_parameters(arch)) == {n for n, _ in net.named_parameters() if n.startswith(on_path)}


def test_sampler_is_seeded_uniform_and_resumable():
    space = SupernetSpace(depth_user=3, depth_item=4, allow_skip=True)
    draws = lambda sampler, n: [space.genome(sampler.sample()) for _ in range(n)]  # noqa: E731
    assert draws(ArchSampler(space, 1), 20) == draws(ArchSampler(space, 1), 20)
    assert draws(ArchSampler(space, 1), 20) != draws(ArchSampler(space, 2), 20)
    sampler = ArchSampler(space, 3)
    draws(sampler, 7)
    resumed = ArchSampler(space, 99)
    resumed.load_state(sampler.state())
    assert draws(resumed, 10) == draws(sampler, 10)
    genomes = draws(ArchSampler(space, 4), 4000)
    for slot, choices in enumerate(space.slots()):
        counts = {c: 0 for c in choices}
        for g in genomes:
            counts[g[slot]] += 1
        expected = len(genomes) / len(choices)  # 250 or 235; std ~ 15
        assert all(abs(c - expected) < 0.25 * expected for c in counts.values()), (slot, counts)


def test_feasible_sampling_is_uniform_over_the_admitted_set():
    import itertools

    space = SupernetSpace(("avg", "sum"), ("MLP-16", "EW-ip", "EW-sum"), depth_user=3, depth_item=3)
    admits = lambda g: sum(x == "MLP-16" for x in g) <= 1  # noqa: E731  (a "budget": at most one MLP)
    admitted = [g for g in itertools.product(*space.slots()) if admits(g)]
    sampler = ArchSampler(space, seed=0, admits=admits)
    genomes = [space.genome(sampler.sample()) for _ in range(6000)]
    assert all(admits(g) for g in genomes)
    for slot in range(len(space.slots())):  # the marginals of the uniform distribution over the admitted set
        for choice in space.slots()[slot]:
            expected = sum(g[slot] == choice for g in admitted) / len(admitted)
            observed = sum(g[slot] == choice for g in genomes) / len(genomes)
            assert abs(observed - expected) < 4 * math.sqrt(expected * (1 - expected) / len(genomes)) + 1e-9
    never = ArchSampler(space, seed=0, admits=lambda g: False, max_tries=50)
    with pytest.raises(ArchError, match="no budget-feasible architecture in 50 random draws"):
        never.sample()


def test_balanced_sampling_trains_the_choices_a_budget_makes_rare_as_often_as_it_can():
    space = SupernetSpace(("avg", "sum"), ("MLP-16", "EW-ip", "EW-sum"), depth_user=3, depth_item=3)
    admits = lambda g: sum(x == "MLP-16" for x in g) <= 1  # noqa: E731  (a "budget": at most one MLP)
    draws = lambda sampler, n: [space.genome(sampler.sample()) for _ in range(n)]  # noqa: E731
    mlp_share = lambda genomes, slot: sum(g[slot] == "MLP-16" for g in genomes) / len(genomes)  # noqa: E731
    uniform = draws(ArchSampler(space, seed=0, admits=admits), 6000)
    balanced = draws(ArchSampler(space, seed=0, admits=admits, balance=8), 6000)
    assert all(admits(g) for g in balanced)
    for slot in range(1, 7):
        # uniform over the admitted set: 64 of its 512 genomes hold the MLP in a given slot (0.125); at most one
        # MLP per genome caps any slot at 1/6, which balancing reaches
        assert abs(mlp_share(uniform, slot) - 0.125) < 0.02
        assert abs(mlp_share(balanced, slot) - 1 / 6) < 0.005
    sampler = ArchSampler(space, seed=3, admits=admits, balance=4)
    assert draws(ArchSampler(space, seed=3, admits=admits, balance=4), 30) == draws(sampler, 30)  # seeded
    resumed = ArchSampler(space, seed=99, admits=admits, balance=4)
    resumed.load_state(json.loads(json.dumps(sampler.state())))  # the state is JSON-able and carries the counts
    assert draws(resumed, 50) == draws(sampler, 50)
    with pytest.raises(ValueError, match="balance=0: expected a positive number of draws per step"):
        ArchSampler(space, seed=0, balance=0)


def test_row_stream_cycles_epochs_and_resumes():
    rows = np.arange(100, 203)
    stream = RowStream(rows, 25, seed=0)
    epoch = np.concatenate([stream.next() for _ in range(4)])
    assert sorted(epoch) == sorted(set(epoch)) and len(epoch) == 100  # 3 rows dropped, none repeated
    second = stream.next()
    assert stream.epoch == 1 and len(second) == 25
    resumed = RowStream(rows, 25, seed=5)
    resumed.load_state(stream.state())
    for _ in range(9):
        assert np.array_equal(resumed.next(), stream.next())


def test_training_lowers_the_loss(data, spec):
    """SPOS lowers the loss of paths it never trained as a whole (fixed train batches, trained logQ).

    Measured: the four archs improve by 0.15, 0.12, 0.09, 0.17 nats; per-step losses by 0.06.
    """
    net = make_supernet(spec)
    initial = copy.deepcopy(net)
    batches = fixed_batches(data, "train", n_batches=3, batch_size=64, seed=0)
    records = []
    settings = SupernetSettings(steps=200, batch_size=64, lr=1e-2, temperature=0.05, seed=0, log_every=80)
    out = train_supernet(net, data, settings, device="cpu", progress=False, log=records.append)
    log_q = out["estimator"].log_q
    gains = [validation_loss(initial, arch, batches, 0.05, log_q) - validation_loss(net, arch, batches, 0.05, log_q)
             for arch in covering_archs()[:4]]
    assert min(gains) > 0 and np.mean(gains) > 0.06, gains
    assert np.mean(out["losses"][:40]) - np.mean(out["losses"][-40:]) > 0.02
    assert [r["step"] for r in records] == [80, 160, 200]
    assert set(records[0]) == {"step", "loss", "lr", "elapsed", "steps_per_s"}
    assert out["estimator"].step == 200


def test_nan_loss_stops_with_a_one_line_error(data, spec, monkeypatch):
    net = make_supernet(spec)
    calls = {"n": 0}
    original = net.encode_users

    def poisoned(batch, arch):  # the 3rd forward returns NaN
        calls["n"] += 1
        out = original(batch, arch)
        return out * float("nan") if calls["n"] == 3 else out

    monkeypatch.setattr(net, "encode_users", poisoned)
    with pytest.raises(SupernetDivergedError) as err:
        train_supernet(net, data, SupernetSettings(steps=10, batch_size=32, lr=1e-3, temperature=0.1, seed=0),
                       device="cpu", progress=False)
    message = str(err.value)
    assert "\n" not in message
    assert "at step 3" in message and "user " in message and "learning rate" in message and "temperature" in message
    # a real divergence: Adam steps of 1e6 blow the weights up within two steps
    with pytest.raises(SupernetDivergedError, match=r"at step \d+ \(arch \w+ \| user .*lr=1000000.0"):
        train_supernet(make_supernet(spec), data,
                       SupernetSettings(steps=20, batch_size=64, lr=1e6, temperature=0.05, seed=0), device="cpu",
                       progress=False)


@pytest.mark.parametrize("balance", [1, 4])
def test_resumed_training_equals_uninterrupted(data, spec, tmp_path, balance):
    settings = SupernetSettings(steps=16, batch_size=32, lr=3e-3, temperature=0.1, seed=7, checkpoint_every=5,
                                balance=balance)
    run = dict(device="cpu", progress=False)
    straight = make_supernet(spec, allow_skip=True)
    train_supernet(straight, data, settings, checkpoint_dir=tmp_path / "a", **run)

    first = make_supernet(spec, allow_skip=True)
    half = train_supernet(first, data, replace(settings, steps=8), checkpoint_dir=tmp_path / "b", **run)
    assert half["step"] == 8
    resumed = make_supernet(spec, seed=123, allow_skip=True)  # other init: everything comes from the checkpoint
    out = train_supernet(resumed, data, settings, checkpoint_dir=tmp_path / "b", **run)
    assert out["resumed_from"] == 8 and len(out["losses"]) == 8
    for (name, a), (_, b) in zip(straight.named_parameters(), resumed.named_parameters()):
        assert torch.equal(a, b), name
    # a finished run resumes to a no-op; other settings are refused
    again = train_supernet(make_supernet(spec, allow_skip=True), data, settings, checkpoint_dir=tmp_path / "b", **run)
    assert again["losses"] == [] and again["estimator"].step == 16
    with pytest.raises(ValueError, match="lr"):
        train_supernet(make_supernet(spec, allow_skip=True), data, replace(settings, steps=20, lr=1e-2),
                       checkpoint_dir=tmp_path / "b", **run)
    with pytest.raises(ValueError, match=r"other settings \(balance\)"):  # another sampling is another run
        train_supernet(make_supernet(spec, allow_skip=True), data, replace(settings, steps=20, balance=5 - balance),
                       checkpoint_dir=tmp_path / "b", **run)
    assert not list((tmp_path / "b").glob("*.tmp"))


def test_validation_loss_is_a_deterministic_fitness(data, spec):
    net = make_supernet(spec)
    out = train_supernet(net, data, SupernetSettings(steps=20, batch_size=64, lr=3e-3, temperature=0.1, seed=0),
                         device="cpu", progress=False)
    batches = fixed_batches(data, n_batches=2, batch_size=64, seed=1)
    assert batches[0]["item"].shape == (64,)
    assert all(torch.equal(a["item"], b["item"])
               for a, b in zip(batches, fixed_batches(data, n_batches=2, batch_size=64, seed=1)))
    a, b = covering_archs()[:2]
    net.train()
    first = validation_loss(net, a, batches, 0.1, out["estimator"].log_q)
    assert net.training  # the previous mode is restored
    assert first == validation_loss(net, a, batches, 0.1, out["estimator"].log_q)
    assert math.isfinite(first) and abs(first - validation_loss(net, b, batches, 0.1, out["estimator"].log_q)) > 1e-4


@pytest.mark.parametrize("on_disk", [True, False])
def test_early_stopping_keeps_the_best_validation_point(data, spec, tmp_path, on_disk):
    settings = SupernetSettings(steps=40, batch_size=32, lr=3e-3, temperature=0.1, seed=5)
    run = dict(device="cpu", progress=False)
    reference = make_supernet(spec)
    train_supernet(reference, data, replace(settings, steps=4), **run)  # the weights at the best monitored step
    scores = iter([3.0, 2.0, 2.5, 2.6, 2.7, 2.8, 2.9])  # checks at steps 2, 4, 6, 8, ...: best at step 4
    calls = []

    def monitor(net, estimator):
        calls.append(estimator.step)
        return next(scores)

    net = make_supernet(spec)
    directory = tmp_path / "ck" if on_disk else None
    monitored = replace(settings, monitor_every=2, patience=2)
    out = train_supernet(net, data, monitored, checkpoint_dir=directory, monitor=monitor, **run)
    assert calls == [2, 4, 6, 8] and out["stopped_early"] and out["step"] == 8
    assert out["best_step"] == 4 and out["best_val_loss"] == 2.0 and out["estimator"].step == 4
    for (name, a), (_, b) in zip(reference.named_parameters(), net.named_parameters()):
        assert torch.equal(a, b), name
    if on_disk:  # rerunning a stopped run trains nothing and restores the same best point
        again = make_supernet(spec, seed=9)
        out2 = train_supernet(again, data, monitored, checkpoint_dir=directory, monitor=monitor, **run)
        assert out2["losses"] == [] and out2["best_step"] == 4 and calls == [2, 4, 6, 8]
        for (name, a), (_, b) in zip(reference.named_parameters(), again.named_parameters()):
            assert torch.equal(a, b), name


@pytest.mark.parametrize("space", SPACES)
def test_validation_recall_equals_the_exported_childs_full_ranking_recall(data, spec, space):
    net = make_supernet(spec, space=space)
    queries = data.queries("valid")
    for arch in covering_archs(space=space)[:3]:
        expected = evaluate_model(export(net, arch), data, "valid", (50,))["recall@50"]
        assert validation_recall(net, arch, data, queries) == pytest.approx(expected, abs=1e-9)
    assert net.training  # the mode is restored


def test_sampled_validation_queries_are_a_seeded_subset(data):
    queries = data.queries("valid")
    sample = sample_queries(queries, 10, seed=3)
    assert len(sample.users) == 10 and set(sample.users) <= set(queries.users)
    row = {u: i for i, u in enumerate(queries.users)}
    for q, user in enumerate(sample.users):
        assert list(sample.targets[q]) == list(queries.targets[row[user]])
        assert list(sample.exclude[q]) == list(queries.exclude[row[user]])
    assert list(sample_queries(queries, 10, seed=3).users) == list(sample.users)
    assert sample_queries(queries, None) is queries and sample_queries(queries, 10**6) is queries


def test_recall_fitness_equals_validation_recall_and_reuses_item_vectors(data, spec):
    from supernet import RecallFitness

    net = make_supernet(spec)
    queries = sample_queries(data.queries("valid"), 40, seed=0)
    fitness = RecallFitness(net, data, queries)
    archs = covering_archs()[:3]
    # the same item tower under another pooling and user tower: only the query side changes
    twin = Arch(pooling=archs[1].pooling, user=archs[0].user, item=archs[0].item, dims=archs[0].dims)
    for arch in [*archs, twin, archs[0]]:
        assert fitness(arch) == pytest.approx(-validation_recall(net, arch, data, queries), abs=1e-12)
    assert (fitness.misses, fitness.hits) == (3, 2)
    assert net.training
    uncached = RecallFitness(net, data, queries, cache_mib=0)
    assert [uncached(a) for a in archs] == [fitness(a) for a in archs] and not uncached.cache
