"""The learned weight decay: its one-step hypergradient against finite differences of the real AdamW step, the
decay it learns, and how ``fit`` takes it."""

import copy

import numpy as np
import pytest
import torch

from towernas.data.batches import iterate_rows, training_batch
from towernas.retrievers.mean_pool import MeanPoolTwoTower
from towernas.train.loop import default_objective, fit
from towernas.train.settings import FitSettings
from towernas.train.weight_decay import HypergradientWeightDecay


def _model(data, seed=0):
    torch.manual_seed(seed)
    return MeanPoolTwoTower([], [], data.n_items, dim=8, hidden=(16,), out_dim=8)


def _after_one_step(model, data, decay: float, lr: float, batch) -> torch.nn.Module:
    """A copy of ``model`` after one AdamW step of the training loss at weight decay ``decay``."""
    model = copy.deepcopy(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=decay)
    loss = default_objective(data, 0.1, 0, "cpu")(batch, model.encode_users, model.encode_items)
    loss.backward()
    optimizer.step()
    return model


def test_the_hypergradient_is_the_derivative_of_the_validation_loss_after_the_step(data):
    lr, decay, eps = 0.05, 0.3, 1e-2
    model = _model(data).double()  # float64: the finite difference resolves the derivative
    batch = training_batch(data, next(iterate_rows(data.rows("train"), 128, np.random.default_rng(0))), "cpu")
    stepped = _after_one_step(model, data, decay, lr, batch)
    optimizer = torch.optim.AdamW(stepped.parameters(), lr=lr, weight_decay=decay)
    controller = HypergradientWeightDecay(stepped, optimizer, data, initial=decay, temperature=0.1, batch_size=64,
                                          every=1, seed=3)
    controller.snapshot = [p.detach().clone() for p in model.parameters()]  # θ before the step
    rng_state = copy.deepcopy(controller.rng.bit_generator.state)
    h = controller.hypergradient()

    def validation_loss_at(d: float) -> float:  # the same validation batch, after a step at decay d
        controller.rng.bit_generator.state = copy.deepcopy(rng_state)
        controller.model = _after_one_step(model, data, d, lr, batch).eval()
        with torch.no_grad():
            return float(controller.validation_loss())

    numeric = (validation_loss_at(decay + eps) - validation_loss_at(decay - eps)) / (2 * eps)
    assert h == pytest.approx(numeric, rel=1e-3)  # exact for AdamW's decoupled decay (first order)
    assert h != 0


def test_learning_moves_the_decay_and_records_it_every_epoch(data):
    model = _model(data)
    settings = FitSettings(max_epochs=2, patience=0, batch_size=64, lr=0.01, weight_decay=1e-3,
                           learn_weight_decay=True, decay_every=2, decay_lr=0.2)
    fitted = fit(model, data, settings, progress=False)
    decays = [e["valid/weight_decay"] for e in fitted.epochs]
    assert len(decays) == 2 and all(d > 0 for d in decays) and decays[-1] != pytest.approx(1e-3, rel=1e-3)
    assert fitted.best_valid["weight_decay"] in decays


def test_a_fixed_decay_uses_adamw_and_zero_is_plain_adam(data, monkeypatch):
    made = []
    for name in ("Adam", "AdamW"):
        original = getattr(torch.optim, name)
        monkeypatch.setattr(torch.optim, name, lambda *a, _o=original, _n=name, **k: made.append((_n, k)) or _o(*a, **k))
    fit(_model(data), data, FitSettings(max_epochs=1, batch_size=64), progress=False)
    fit(_model(data), data, FitSettings(max_epochs=1, batch_size=64, weight_decay=0.01), progress=False)
    assert made[0] == ("Adam", {"lr": 1e-3, "weight_decay": 0.0, "fused": True})  # = plain Adam, one kernel
    assert made[1] == ("AdamW", {"lr": 1e-3, "weight_decay": 0.01, "fused": True})


def test_bad_settings_fail_in_one_line(data):
    with pytest.raises(ValueError, match="weight_decay=0.0: expected >= 0, and > 0 .* when it is learned"):
        fit(_model(data), data, FitSettings(max_epochs=1, learn_weight_decay=True), progress=False)
    optimizer = torch.optim.Adam(_model(data).parameters())
    with pytest.raises(TypeError, match="needs AdamW"):
        HypergradientWeightDecay(_model(data), optimizer, data, initial=1e-3, temperature=0.1, batch_size=8)
