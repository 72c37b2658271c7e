"""The faiss GPU path, on CPU: a fake faiss-gpu API (``tests.fakes.faiss_gpu``) checks what goes to the GPU, what
stays on CPU and that results equal the CPU path's."""

import faiss
import numpy as np
import pytest
import torch

from tests.fakes.faiss_gpu import FakeGpuIndex, fake_gpu  # noqa: F401  (a fixture)
from towernas.data.ragged import Ragged
from towernas.eval import faiss_device
from towernas.eval.backends import FaissCandidates, resolve_backend
from towernas.eval.faiss_device import GPU_MAX_K, gpu_count, is_gpu_index, on_gpu, to_cpu
from towernas.eval.scoring import RESCORE_MARGIN
from towernas.eval.topk import exact_topk
from towernas.serving.index import build_index, configure, search

CUDA = torch.device("cuda", 0)


def _data(n=3000, d=8, q=40, heavy=2500, seed=0):
    """Unit items, queries, and exclusions where query 0 excludes ``heavy`` items (an over-fetch > 2048)."""
    rng = np.random.default_rng(seed)
    items = rng.standard_normal((n, d)).astype(np.float32)
    items /= np.linalg.norm(items, axis=1, keepdims=True)
    queries = rng.standard_normal((q, d)).astype(np.float32)
    lists = [rng.choice(n, size=heavy if i == 0 else 5, replace=False) for i in range(q)]
    return items, queries, Ragged.from_lists(lists)


def test_without_faiss_gpu_nothing_moves():
    assert gpu_count() == 0 and not on_gpu(CUDA) and not on_gpu("cpu")  # faiss-cpu here
    index = faiss.IndexFlatIP(4)
    assert faiss_device.to_device(index, CUDA) is index and to_cpu(index) is index and not is_gpu_index(index)
    assert resolve_backend("auto", CUDA) == "torch" and resolve_backend("auto", torch.device("cpu")) == "faiss"


def test_eval_backend_uses_the_gpu_and_torch_past_its_k_limit(fake_gpu):
    assert resolve_backend("auto", CUDA) == "faiss" and on_gpu(CUDA) and not on_gpu("cpu")
    items, queries, exclude = _data()
    gpu = FaissCandidates(torch.from_numpy(items), device=CUDA)
    cpu = FaissCandidates(torch.from_numpy(items))
    assert is_gpu_index(gpu.index) and not is_gpu_index(cpu.index) and fake_gpu == [(0, "IndexFlatIP")]
    for rows in (slice(1, 40), slice(0, 40)):  # light users only, then with the heavy one (m > 2048)
        batch = exclude.rows(rows.start, rows.stop)
        FakeGpuIndex.searches = []
        got = gpu.fetch(queries[rows], 60, batch.row_ids(), batch.values)
        want = cpu.fetch(queries[rows], 60, batch.row_ids(), batch.values)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_allclose(got[1], want[1], rtol=1e-5)
        assert FakeGpuIndex.searches == ([65] if rows.start else [])  # the heavy batch went through torch


def test_serving_indexes_build_on_the_gpu_except_hnsw_and_search_past_the_limit_on_cpu(fake_gpu, tmp_path):
    items, queries, exclude = _data()
    items_t = np.ascontiguousarray(items.T)
    exact, _ = exact_topk(queries, items, 10, exclude)
    for kind in ("flat", "ivf", "hnsw"):
        index, params = build_index(items, kind, device=CUDA)
        assert is_gpu_index(index) == (kind != "hnsw")
        configure(index, kind, params)
        FakeGpuIndex.searches = []
        light, _ = search(index, items_t, queries[1:], 10, exclude.rows(1, len(queries)))
        assert FakeGpuIndex.searches == ([10 + 5 + RESCORE_MARGIN] if kind != "hnsw" else [])
        ids, _ = search(index, items_t, queries, 10, exclude)  # the heavy query: m > 2048, on the CPU copy
        assert len(FakeGpuIndex.searches) == (1 if kind != "hnsw" else 0)
        np.testing.assert_array_equal(ids[1:], light)
        if kind == "flat":
            np.testing.assert_array_equal(ids, exact)
        faiss.write_index(to_cpu(index), str(tmp_path / f"{kind}.faiss"))  # a GPU index is written as CPU
        assert not is_gpu_index(faiss.read_index(str(tmp_path / f"{kind}.faiss")))
    assert fake_gpu == [(0, "IndexFlatIP"), (0, "IndexIVFFlat")]
