"""History dropout: each history slot of a training example dropped with the stated probability, padding and the
rest of the batch untouched, reproducible from its seed, taken by both trainers (and the supernet's checkpoints)."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from supernet import train_supernet
from tests.supernet.test_supernet import make_supernet
from towernas.data.batches import drop_history, iterate_rows, training_batch
from towernas.retrievers.mean_pool import MeanPoolTwoTower
from towernas.runs.errors import UserError
from towernas.train.loop import fit
from towernas.train.settings import FitSettings, SupernetSettings


def test_each_item_is_dropped_with_probability_p_and_padding_stays_padding():
    pad, p = 99, 0.3
    rng = np.random.default_rng(0)
    history = rng.integers(0, 50, size=(2000, 20))
    history[:, :5] = pad  # short histories: left padding
    dropped = drop_history(history, p, np.random.default_rng(1), pad)
    assert ((dropped == history) | (dropped == pad)).all()  # an item is kept or becomes padding, never another
    assert (dropped[:, :5] == pad).all()
    items = history[:, 5:]
    rate = (dropped[:, 5:] == pad).sum() / items.size
    sigma = np.sqrt(p * (1 - p) / items.size)
    assert abs(rate - p) < 4 * sigma, rate  # the binomial rate, 4 standard errors
    per_slot = (dropped[:, 5:] == pad).mean(0)  # no slot is favoured (the latest item included)
    assert np.abs(per_slot - p).max() < 4 * np.sqrt(p * (1 - p) / len(history))


def test_the_mask_is_the_seeds_and_zero_drops_nothing():
    history = np.arange(40).reshape(4, 10)
    a = drop_history(history, 0.5, np.random.default_rng(7), -1)
    assert (a == drop_history(history, 0.5, np.random.default_rng(7), -1)).all()
    assert (a != drop_history(history, 0.5, np.random.default_rng(8), -1)).any()
    assert drop_history(history, 0.0, np.random.default_rng(7), -1) is history
    with pytest.raises(ValueError, match=r"history_dropout=1.0: expected a probability in \[0, 1\)"):
        drop_history(history, 1.0, np.random.default_rng(7), -1)


def test_shards_of_a_batch_drop_what_the_whole_batch_drops():
    history = np.arange(7 * 6).reshape(7, 6)
    whole = drop_history(history, 0.4, np.random.default_rng(5), -1)
    parts = [drop_history(history[a:b], 0.4, np.random.default_rng(5), -1, within=(a, 7)) for a, b in ((0, 3), (3, 7))]
    assert (np.concatenate(parts) == whole).all()


def test_a_training_batch_loses_history_items_only(data):
    rows = next(iterate_rows(data.rows("train"), 256, np.random.default_rng(0)))
    whole = training_batch(data, rows)
    dropped = training_batch(data, rows, history_dropout=0.5, seed=(3, 1))
    assert set(whole) == set(dropped)
    for key in whole:
        if key != "history":
            assert torch.equal(whole[key], dropped[key]), key
    kept = (dropped["history"] == whole["history"]) | (dropped["history"] == data.pad_item)
    assert kept.all() and (dropped["history"] != whole["history"]).any()
    assert torch.equal(dropped["history"], training_batch(data, rows, history_dropout=0.5, seed=(3, 1))["history"])


def _model(data):
    torch.manual_seed(0)
    return MeanPoolTwoTower([], [], data.n_items, dim=8, hidden=(16,), out_dim=8)


def test_fit_with_history_dropout_is_reproducible_and_trains_otherwise(data):
    settings = FitSettings(max_epochs=2, patience=0, batch_size=64, seed=3)
    dropping = replace(settings, history_dropout=0.3)
    a, b, plain = _model(data), _model(data), _model(data)
    fit(a, data, dropping, progress=False)
    fit(b, data, dropping, progress=False)
    fit(plain, data, settings, progress=False)
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters()))
    assert any(not torch.equal(x, y) for x, y in zip(a.parameters(), plain.parameters()))
    with pytest.raises(UserError, match=r"^history_dropout=1.0: expected a probability in \[0, 1\)$"):
        fit(_model(data), data, replace(settings, history_dropout=1.0), progress=False)


def test_the_supernet_resumes_with_the_same_masks_and_refuses_another_rate(data, spec, tmp_path):
    settings = SupernetSettings(steps=10, batch_size=32, lr=3e-3, temperature=0.1, seed=7, history_dropout=0.25)
    run = dict(device="cpu", progress=False)

    def net():
        return make_supernet(spec, allow_skip=True)

    straight = net()
    train_supernet(straight, data, replace(settings, checkpoint_every=4), checkpoint_dir=tmp_path / "a", **run)
    train_supernet(net(), data, replace(settings, steps=6, checkpoint_every=3), checkpoint_dir=tmp_path / "b", **run)
    resumed = net()
    out = train_supernet(resumed, data, replace(settings, checkpoint_every=3), checkpoint_dir=tmp_path / "b", **run)
    assert out["resumed_from"] == 6
    assert all(torch.equal(x, y) for x, y in zip(straight.parameters(), resumed.parameters()))
    with pytest.raises(ValueError, match="history_dropout"):
        train_supernet(net(), data, replace(settings, steps=12, history_dropout=0.0), checkpoint_dir=tmp_path / "b",
                       **run)
