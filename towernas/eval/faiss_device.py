"""Faiss indexes on a CUDA device when the faiss module has GPU support (``towernas[gpu]``: faiss-gpu).

``faiss-cpu`` and ``faiss-gpu`` install the same ``faiss`` module; only the GPU build has
``StandardGpuResources`` and reports GPUs from ``get_num_gpus()``. ``to_device(index, device)`` moves an index
built on CPU to ``device`` when that is a CUDA device faiss can use, and returns it unchanged otherwise, so
the same code serves a laptop and a GPU box. Limits of faiss's GPU indexes, handled by the callers:

- a search returns at most ``GPU_MAX_K`` (2048) neighbours per query (warp-select; faiss issues #1384, #2103):
  larger over-fetches (a user with thousands of training items to exclude) use another path;
- HNSW has no GPU implementation: ``hnsw`` serving indexes stay on CPU;
- a GPU index is written to disk through ``to_cpu`` (``faiss.write_index`` takes CPU indexes only).
"""

from __future__ import annotations

from typing import Any

import torch

try:  # faiss is an optional extra (`towernas[cpu]` / `towernas[gpu]`)
    import faiss
except ImportError:  # pragma: no cover - exercised only without faiss
    faiss = None

GPU_MAX_K = 2048
_RESOURCES: dict[int, Any] = {}  # one StandardGpuResources (scratch memory, streams) per GPU, reused


def gpu_count() -> int:
    """GPUs the installed faiss can use (0 with faiss-cpu, or without faiss)."""
    if faiss is None or not hasattr(faiss, "StandardGpuResources"):
        return 0
    return int(faiss.get_num_gpus())


def on_gpu(device: torch.device | str) -> bool:
    """True when ``device`` is a CUDA device and faiss can put indexes on it."""
    return torch.device(device).type == "cuda" and gpu_count() > 0


def to_device(index, device: torch.device | str):
    """``index`` (built on CPU) on ``device``'s GPU when ``on_gpu(device)``, else ``index`` itself."""
    device = torch.device(device)
    if not on_gpu(device):
        return index
    gpu = device.index if device.index is not None else torch.cuda.current_device()
    if gpu not in _RESOURCES:
        _RESOURCES[gpu] = faiss.StandardGpuResources()
    return faiss.index_cpu_to_gpu(_RESOURCES[gpu], gpu, index)


def is_gpu_index(index) -> bool:
    return faiss is not None and hasattr(faiss, "GpuIndex") and isinstance(index, faiss.GpuIndex)


def to_cpu(index):
    """A CPU copy of a GPU index (for ``faiss.write_index``); a CPU index unchanged."""
    return faiss.index_gpu_to_cpu(index) if is_gpu_index(index) else index
