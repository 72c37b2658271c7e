"""``device=``: auto resolves everywhere; a CUDA device this machine lacks fails as one line, before any work."""

import pytest
import torch

from tests.conftest import compose_config
from towernas.runs.device import resolve_device
from towernas.runs.errors import UserError


@pytest.fixture
def gpus(monkeypatch):
    """``gpus(n)``: make torch report ``n`` CUDA devices (0: CUDA not available)."""

    def fake(n: int) -> None:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: n > 0)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: n)

    return fake


def test_auto_and_cpu_resolve(gpus):
    gpus(0)
    assert resolve_device("auto") == resolve_device("cpu") == torch.device("cpu")
    gpus(2)
    assert resolve_device("auto") == torch.device("cuda") and resolve_device("cuda:1") == torch.device("cuda", 1)


@pytest.mark.parametrize("name", ["cuda", "cuda:0"])
def test_cuda_without_cuda_is_one_line(gpus, name):
    gpus(0)
    message = f"^device='{name}': CUDA requested but not available; use device=cpu or auto$"
    with pytest.raises(UserError, match=message):
        resolve_device(name)


@pytest.mark.parametrize("count, valid", [(1, r"1 \(cuda:0\)"), (2, r"2 \(cuda:0 to cuda:1\)")])
def test_cuda_index_out_of_range_is_one_line(gpus, count, valid):
    gpus(count)
    with pytest.raises(UserError, match=rf"^device='cuda:2': no CUDA device 2, this machine has {valid}; use one"):
        resolve_device("cuda:2")


@pytest.mark.parametrize("name", ["gpu", "cuda:x", "cuda:-1"])
def test_malformed_names_are_one_line(name):
    with pytest.raises(UserError, match=rf"^device='{name}': .*; expected auto, cpu, cuda or cuda:N$") as err:
        resolve_device(name)
    assert "\n" not in str(err.value)


def test_search_and_retrain_refuse_a_missing_gpu_before_any_work(gpus, tmp_path, monkeypatch):
    from towernas import retrain, search
    from towernas.search import run as search_run

    gpus(0)
    for module in (search_run, retrain):  # loading the data is the first real work of both commands
        monkeypatch.setattr(module, "load_dataset", lambda *a, **k: pytest.fail("data loaded before the check"))
    monkeypatch.setattr(retrain, "candidates", lambda cfg: pytest.fail("inputs read before the check"))
    with pytest.raises(UserError, match="CUDA requested but not available"):
        search.run_search(compose_config("device=cuda"), tmp_path / "search")
    with pytest.raises(UserError, match="CUDA requested but not available"):
        retrain.run_retrain(compose_config("device=cuda", name="retrain"), tmp_path / "retrain")
    assert not list(tmp_path.iterdir())  # no run directory claimed, nothing written
