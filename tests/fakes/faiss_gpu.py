"""A fake faiss-gpu API on CPU (faiss-gpu's names, CPU indexes inside, its k <= 2048 limit enforced), to test
the GPU routing of top-k and serving without a GPU. Use the ``fake_gpu`` fixture."""

from __future__ import annotations

import faiss
import pytest

from towernas.eval import faiss_device
from towernas.eval.faiss_device import GPU_MAX_K


class FakeGpuIndex:
    """A CPU index standing in for a faiss GPU index: same calls, and faiss's GPU k-selection limit."""

    searches: list[int] = []

    def __init__(self, inner):
        object.__setattr__(self, "inner", inner)

    def search(self, x, k):
        if k > GPU_MAX_K:
            raise RuntimeError(f"GPU index only supports min/max-K selection up to {GPU_MAX_K} (requested {k})")
        FakeGpuIndex.searches.append(k)
        return self.inner.search(x, k)

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def __setattr__(self, name, value):
        setattr(self.inner, name, value)


@pytest.fixture
def fake_gpu(monkeypatch):
    """faiss as faiss-gpu with one GPU; ``moved`` lists the (gpu, index class) pairs sent to it."""
    moved = []
    FakeGpuIndex.searches = []

    def cpu_to_gpu(resources, gpu, index):
        assert isinstance(resources, FakeResources)
        moved.append((gpu, type(index).__name__))
        return FakeGpuIndex(index)

    class FakeResources:
        pass

    monkeypatch.setattr(faiss, "StandardGpuResources", FakeResources, raising=False)
    monkeypatch.setattr(faiss, "get_num_gpus", lambda: 1, raising=False)
    monkeypatch.setattr(faiss, "GpuIndex", FakeGpuIndex, raising=False)
    monkeypatch.setattr(faiss, "index_cpu_to_gpu", cpu_to_gpu, raising=False)
    monkeypatch.setattr(faiss, "index_gpu_to_cpu", lambda index: index.inner, raising=False)
    monkeypatch.setattr(faiss_device, "_RESOURCES", {})
    return moved
