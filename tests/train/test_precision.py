"""``precision=``: towers under autocast, losses in fp32, fp16 loss-scaled and resumable; fp32 is unchanged."""

from dataclasses import replace

import numpy as np
import pytest
import torch

import supernet.trainer as trainer
from tests.supernet.test_supernet import make_supernet
from towernas.retrievers.mean_pool import MeanPoolTwoTower
from towernas.runs.errors import UserError
from towernas.train.loop import fit
from towernas.train.optim import adam
from towernas.train.precision import Precision, resolve_precision
from towernas.train.ranker_loop import train_epoch as train_ranker_epoch
from towernas.train.settings import FitSettings, SupernetSettings

SETTINGS = SupernetSettings(steps=40, batch_size=64, lr=3e-3, temperature=0.1, seed=3)
RUN = dict(device="cpu", progress=False)


def test_resolution_and_one_line_errors(monkeypatch):
    assert resolve_precision("auto", "cpu") == "fp32"
    assert [resolve_precision(n, "cpu") for n in ("fp32", "bf16", "fp16")] == ["fp32", "bf16", "fp16"]
    with pytest.raises(UserError, match=r"^precision='fp8': expected one of fp32, bf16, fp16, auto$"):
        resolve_precision("fp8", "cpu")
    # CUDA, faked: bf16 where the GPU has it natively, fp16 (loss-scaled) on an older one
    monkeypatch.setattr(torch.cuda, "device", lambda device: __import__("contextlib").nullcontext())
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Tesla T4")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)
    assert resolve_precision("auto", "cuda") == resolve_precision("bf16", "cuda") == "bf16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: False)
    assert resolve_precision("auto", "cuda") == "fp32"  # never fp16: its forward can overflow
    assert resolve_precision("fp16", "cuda") == "fp16"
    with pytest.raises(UserError, match=r"^precision=bf16: Tesla T4 has no native bfloat16; use precision=fp16"):
        resolve_precision("bf16", "cuda")


def test_a_tower_runs_in_low_precision_and_returns_fp32():
    torch.manual_seed(0)
    layer, x = torch.nn.Linear(64, 32), torch.randn(128, 64)
    with torch.no_grad():
        exact = layer(x)
    for name, tolerance in (("bf16", 2e-2), ("fp16", 2e-3)):
        with torch.no_grad():
            out = Precision(name).tower(layer)(x)
        error = float((out - exact).abs().max() / exact.abs().max().detach())
        assert out.dtype == torch.float32 and 0 < error < tolerance, (name, error)  # rounded, then cast back
    assert Precision("fp32").tower(layer) is layer and Precision("bf16").tower(None) is None


def test_the_supernet_loss_sees_fp32_vectors_and_follows_fp32(data, spec, monkeypatch):
    seen = []
    original = trainer.in_batch_softmax

    def spy(query, item, *args, **kwargs):
        seen.append((query.dtype, item.dtype, torch.is_autocast_enabled("cpu")))
        return original(query, item, *args, **kwargs)

    monkeypatch.setattr(trainer, "in_batch_softmax", spy)
    runs = {}
    for name in ("fp32", "bf16"):
        net = make_supernet(spec)
        runs[name] = np.array(trainer.train_supernet(net, data, replace(SETTINGS, precision=name), **RUN)["losses"])
    assert set(seen) == {(torch.float32, torch.float32, False)}  # the scores, logQ and softmax: fp32, no autocast
    gap = np.abs(runs["bf16"] - runs["fp32"]).max()
    assert 0 < gap < 0.03 * runs["fp32"].max(), gap  # bf16 rounding, not another trajectory
    assert runs["bf16"][-10:].mean() < runs["bf16"][:10].mean()


def test_fp16_resumes_with_its_loss_scale(data, spec, tmp_path):
    straight = make_supernet(spec)
    fp16 = replace(SETTINGS, steps=12, checkpoint_every=5, precision="fp16")
    whole = trainer.train_supernet(straight, data, fp16, checkpoint_dir=tmp_path / "a", **RUN)
    assert np.isfinite(whole["losses"]).all()
    trainer.train_supernet(make_supernet(spec), data, replace(fp16, steps=6), checkpoint_dir=tmp_path / "b", **RUN)
    resumed = make_supernet(spec, seed=9)
    out = trainer.train_supernet(resumed, data, fp16, checkpoint_dir=tmp_path / "b", **RUN)
    assert out["resumed_from"] == 6 and out["losses"] == whole["losses"][6:]
    for (name, a), (_, b) in zip(straight.named_parameters(), resumed.named_parameters()):
        assert torch.equal(a, b), name
    state = torch.load(tmp_path / "b" / "supernet.pt", weights_only=True)
    assert state["precision"]["scaler"]["scale"] > 0 and state["settings"]["precision"] == "fp16"
    with pytest.raises(ValueError, match="precision"):  # an fp16 checkpoint is not resumed at another precision
        trainer.train_supernet(make_supernet(spec), data, replace(SETTINGS, steps=14), checkpoint_dir=tmp_path / "b",
                               **RUN)


def test_a_forward_overflow_under_fp16_is_named_in_the_error(data, spec, monkeypatch):
    net = make_supernet(spec)
    original = net.encode_users
    monkeypatch.setattr(net, "encode_users", lambda batch, arch: original(batch, arch) * 1e5)  # past 65504
    with pytest.raises(trainer.SupernetDivergedError, match=r"precision=fp16 an activation past 65504 .*bf16"):
        trainer.train_supernet(net, data, replace(SETTINGS, steps=3, precision="fp16"), **RUN)


def test_fp16_skips_an_overflowing_step_and_halves_the_scale():
    weight = torch.nn.Parameter(torch.ones(3))
    optimizer, precision = adam([weight], 0.1), Precision("fp16")
    scale = precision.scaler.get_scale()
    value = precision.backward((weight * 2).sum(), 1.0, [weight])
    assert value == 6.0 and torch.equal(weight.grad, torch.full((3,), 2 * scale))  # scaled gradient, true loss
    weight.grad[0] = float("inf")  # an fp16 overflow somewhere in the towers
    precision.step(optimizer)
    assert torch.equal(weight.detach(), torch.ones(3)) and precision.scaler.get_scale() == scale / 2
    optimizer.zero_grad()
    precision.backward((weight * 2).sum(), 1.0, [weight])
    precision.step(optimizer)
    assert (weight.detach() < 1).all()  # the next, finite step is taken


def test_retrain_and_ranker_loops_train_in_bf16(data):
    results = {}
    for name in ("fp32", "bf16"):
        torch.manual_seed(0)
        model = MeanPoolTwoTower([], [], data.n_items, dim=8, hidden=(16,), out_dim=8)
        settings = FitSettings(max_epochs=3, patience=0, batch_size=64, seed=0, precision=name)
        results[name] = fit(model, data, settings, progress=False).best_valid["recall@50"]
    assert abs(results["bf16"] - results["fp32"]) < 0.05, results

    class Ranker(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = torch.nn.Sequential(torch.nn.Embedding(data.n_items + 1, 8), torch.nn.Flatten(),
                                           torch.nn.Linear(8, 1))

        def score(self, batch, items):
            return self.net(items).view(len(items), -1)

    items = np.random.default_rng(0).integers(0, data.n_items, (300, 1))
    labels = (items % 3 == 0).astype(np.float32)
    batches = [({"user": torch.arange(64)}, torch.as_tensor(items[s:s + 64]), torch.as_tensor(labels[s:s + 64]))
               for s in range(0, 256, 64)]
    losses = {}
    for name in ("fp32", "bf16"):
        torch.manual_seed(0)
        ranker = Ranker()
        optimizer = adam(ranker.parameters(), 1e-2)
        losses[name] = [train_ranker_epoch(ranker, batches, optimizer, progress=False, precision=Precision(name))
                        for _ in range(4)]
    assert losses["bf16"][-1] < losses["bf16"][0] and abs(losses["bf16"][-1] - losses["fp32"][-1]) < 0.02, losses
