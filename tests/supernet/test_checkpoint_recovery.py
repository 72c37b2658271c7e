"""Broken supernet checkpoints: one-line errors naming the file, and resuming from the previous intact one."""

import os
from dataclasses import replace

import pytest
import torch

from supernet import Supernet, train_supernet
from supernet.checkpoint import CheckpointError, broken_path, load_checkpoint, previous_path, save_checkpoint
from supernet.trainer import BEST_FILENAME
from towernas.runs.errors import UserError
from towernas.space import Dims
from towernas.train.settings import SupernetSettings

DIMS = Dims(embed=8, block=8, out=8, head=2, attn=8)
STEPS = 12  # checkpoints at steps 5, 10 and 12: supernet.pt holds step 12, supernet.prev.pt step 10
SETTINGS = SupernetSettings(steps=STEPS, batch_size=32, lr=3e-3, temperature=0.1, seed=3, checkpoint_every=5)


def make_supernet(spec, seed=0):
    torch.manual_seed(seed)
    return Supernet(spec, DIMS, 3, 3)


def train(spec, data, directory, seed=0, monitor=None, **changes):
    """``changes``: of ``SETTINGS``."""
    net = make_supernet(spec, seed)
    return net, train_supernet(net, data, replace(SETTINGS, **changes), device="cpu", progress=False,
                               checkpoint_dir=directory, monitor=monitor)


def truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def garble(path):
    path.write_bytes(os.urandom(256))


def assert_one_line_naming(err, path, *words):
    message = str(err.value)
    assert isinstance(err.value, UserError) and "\n" not in message and str(path) in message, message
    assert all(w in message for w in words), message


@pytest.fixture(scope="module")
def intact(tmp_path_factory, spec, data):
    """A finished run directory and its trained supernet."""
    directory = tmp_path_factory.mktemp("intact")
    net, out = train(spec, data, directory)
    return directory, net, out


@pytest.mark.parametrize("damage", [truncate, garble, lambda p: p.write_bytes(b"")])
def test_a_broken_file_is_one_line_naming_it(tmp_path, damage):
    path = tmp_path / "supernet.pt"
    save_checkpoint(path, {"step": 1, "weights": torch.zeros(1000)})
    damage(path)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    assert_one_line_naming(err, path, "truncated or corrupted", "delete")


def test_saving_keeps_the_previous_checkpoint(tmp_path):
    path = tmp_path / "supernet.pt"
    for step in (1, 2, 3):
        save_checkpoint(path, {"step": step}, keep_previous=True)
    assert load_checkpoint(path)["step"] == 3 and load_checkpoint(previous_path(path))["step"] == 2
    assert previous_path(path).name == "supernet.prev.pt"
    assert {p.name for p in tmp_path.iterdir()} == {"supernet.pt", "supernet.prev.pt"}  # no temp files


def test_a_broken_checkpoint_resumes_from_the_previous_intact_one(tmp_path, spec, data, intact):
    _, reference, reference_out = intact
    current = tmp_path / "supernet.pt"
    train(spec, data, tmp_path)
    assert load_checkpoint(previous_path(current))["step"] == 10
    truncate(current)
    for _ in range(2):  # a truncated supernet.pt, then a missing one (e.g. a crash between the two renames)
        net, out = train(spec, data, tmp_path, seed=99)  # other init: everything comes from the checkpoint
        assert out["resumed_from"] == 10 and out["step"] == reference_out["step"] == STEPS and len(out["losses"]) == 2
        for (name, a), (_, b) in zip(reference.named_parameters(), net.named_parameters()):
            assert torch.equal(a, b), name
        # the broken file is set aside, so the previous checkpoint is still the intact one of step 10
        assert load_checkpoint(current)["step"] == STEPS and load_checkpoint(previous_path(current))["step"] == 10
        current.unlink()
    assert broken_path(current).exists() and train(spec, data, tmp_path)[1]["resumed_from"] == 10


def test_no_intact_checkpoint_names_every_file(tmp_path, spec, data):
    train(spec, data, tmp_path)
    current, previous = tmp_path / "supernet.pt", previous_path(tmp_path / "supernet.pt")
    garble(current)
    truncate(previous)
    with pytest.raises(CheckpointError) as err:
        train(spec, data, tmp_path)
    assert_one_line_naming(err, current, str(previous), "no intact checkpoint", "another run directory")
    previous.unlink()
    with pytest.raises(CheckpointError) as err:
        train(spec, data, tmp_path)
    assert_one_line_naming(err, current, "truncated or corrupted")


def test_a_checkpoint_of_another_version_is_one_line(tmp_path, spec, data, intact):
    path = tmp_path / "supernet.pt"
    state = load_checkpoint(intact[0] / "supernet.pt")
    state["model"] = {k.replace("embedder.", "embedding."): v for k, v in state["model"].items()}  # renamed
    save_checkpoint(path, state)
    with pytest.raises(CheckpointError) as err:
        train(spec, data, tmp_path)
    assert_one_line_naming(err, path, "incompatible TowerNAS version", "Missing key(s)")


def test_a_broken_best_snapshot_is_one_line_naming_it(tmp_path, spec, data):
    monitored = dict(monitor=lambda net, estimator: 1.0 / estimator.step, monitor_every=4)
    train(spec, data, tmp_path, **monitored)
    best = tmp_path / BEST_FILENAME
    garble(best)
    with pytest.raises(CheckpointError) as err:
        train(spec, data, tmp_path, **monitored)
    assert_one_line_naming(err, best, "truncated or corrupted")
    state = load_checkpoint(tmp_path / "supernet.pt")
    save_checkpoint(best, {"step": 4, "value": 0.25, "model": {"no_such.weight": torch.zeros(1)},
                           "estimator": state["estimator"]})
    with pytest.raises(CheckpointError) as err:
        train(spec, data, tmp_path, **monitored)
    assert_one_line_naming(err, best, "incompatible TowerNAS version")
