"""Faiss indexes over item embeddings for serving, searched with exclusions, and their recall vs exact.

Kinds (all maximum inner product; the item vectors are L2-normalised, so this is cosine):

- ``flat``: ``IndexFlatIP``, exact. No parameters.
- ``ivf``: ``IndexIVFFlat`` with an inner-product coarse quantizer. ``nlist`` (number of k-means cells;
  default ``min(4 * sqrt(N), N // 39)``, at least 1, so k-means has ~39 points per cell as faiss
  recommends) and ``nprobe`` (cells visited per query; default ``max(1, nlist // 4)``).
- ``hnsw``: ``IndexHNSWFlat``. ``M`` (graph degree, default 32), ``efConstruction`` (default 128) and
  ``efSearch`` (candidate list per query, default 64).

On a CUDA device with faiss-gpu (``towernas[gpu]``), ``flat`` and ``ivf`` are built (k-means included) and
searched on the GPU; ``hnsw`` has no GPU implementation and stays on CPU. A GPU search returns at most
``GPU_MAX_K`` neighbours, so an over-fetch past it runs on the index's CPU copy (``cpu_index``).

Search over-fetches ``k + (exclusions of the query) + RESCORE_MARGIN`` neighbours, drops excluded ones, re-scores
the survivors canonically and orders them by (-score, item index) exactly like
``towernas.eval.exact_topk``, so a ``flat`` index returns exactly the exact top-k. Multi-interest
queries (B, K, d) (MIND) search once per interest and rank the union by max_k <u_k, v>, like
``towernas.eval.multi_interest.exact_topk_multi``.

Example:
    >>> import numpy as np
    >>> items = np.eye(4, dtype=np.float32)
    >>> index, params = build_index(items, "flat")
    >>> ids, scores = search(index, items.T.copy(), items[:1], k=2, exclude=Ragged.from_lists([[0]]))
    >>> ids.tolist()
    [[1, 2]]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import faiss
import numpy as np

from towernas.data.ragged import Ragged
from towernas.eval.faiss_device import GPU_MAX_K, is_gpu_index, on_gpu, to_cpu, to_device
from towernas.eval.scoring import RESCORE_MARGIN, canonical_scores, excluded_mask, sort_by_score_then_id
from towernas.eval.topk import exact_topk
from towernas.runs.registry import Registry


@dataclass(frozen=True)
class IndexKind:
    """How to build, tune and recognise one kind of faiss index (registered in ``INDEX_KINDS``)."""

    faiss_class: str  # the faiss class it builds (names an index read back from disk)
    params: tuple[str, ...]  # parameter names (index_params keys)
    defaults: Callable[[dict[str, int], int], None]  # (params, n_items) -> fill in missing defaults
    create: Callable[[int, dict[str, int]], Any]  # (dim, params) -> an empty index (untrained)
    configure: Callable[[Any, dict[str, int]], None] = lambda index, params: None  # search-time parameters


def _ivf_defaults(params: dict[str, int], n_items: int) -> None:
    nlist = params.setdefault("nlist", max(1, min(int(4 * math.sqrt(n_items)), n_items // 39)))
    if nlist > n_items:
        raise ValueError(f"index_params.nlist={nlist}: more cells than the {n_items} items")
    params["nprobe"] = min(params.setdefault("nprobe", max(1, nlist // 4)), nlist)


def _ivf_create(dim: int, params: dict[str, int]):
    quantizer = faiss.IndexFlatIP(dim)  # kept alive by the Python wrapper, owned once written/read
    return faiss.IndexIVFFlat(quantizer, dim, params["nlist"], faiss.METRIC_INNER_PRODUCT)


def _hnsw_create(dim: int, params: dict[str, int]):
    index = faiss.IndexHNSWFlat(dim, params["M"], faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = params["efConstruction"]
    return index


def _hnsw_defaults(params: dict[str, int], n_items: int) -> None:
    for key, value in (("M", 32), ("efConstruction", 128), ("efSearch", 64)):
        params.setdefault(key, value)


INDEX_KINDS: Registry[IndexKind] = Registry("index kind", key="index")
INDEX_KINDS.register("flat", IndexKind("IndexFlatIP", (), lambda params, n: None,
                                       lambda dim, params: faiss.IndexFlatIP(dim)))
INDEX_KINDS.register("ivf", IndexKind("IndexIVFFlat", ("nlist", "nprobe"), _ivf_defaults, _ivf_create,
                                      lambda index, params: setattr(index, "nprobe", params["nprobe"])))
INDEX_KINDS.register("hnsw", IndexKind("IndexHNSWFlat", ("M", "efConstruction", "efSearch"), _hnsw_defaults,
                                       _hnsw_create,
                                       lambda index, params: setattr(index.hnsw, "efSearch", params["efSearch"])))


def resolve_params(kind: str, params: dict[str, Any] | None, n_items: int) -> dict[str, int]:
    """The full parameter set of an index ``kind`` for ``n_items`` vectors (defaults filled in)."""
    spec = INDEX_KINDS.get(kind)
    params = dict(params or {})
    unknown = sorted(set(params) - set(spec.params))
    if unknown:
        raise ValueError(f"index_params: unknown key(s) {unknown} for index={kind!r}; expected {list(spec.params)}")
    for key, value in params.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"index_params.{key}={value!r}: expected a positive integer")
    spec.defaults(params, n_items)
    return params


def build_index(items: np.ndarray, kind: str = "flat", params: dict[str, Any] | None = None, device="cpu"):
    """A faiss index over ``items`` (N, d) float32, trained and filled on ``device`` (a GPU when faiss-gpu can,
    except ``hnsw``; write it with ``faiss.write_index(faiss_device.to_cpu(index))``). Returns (index, resolved
    params)."""
    items = np.ascontiguousarray(items, dtype=np.float32)
    n, d = items.shape
    params = resolve_params(kind, params, n)
    index = INDEX_KINDS.get(kind).create(d, params)
    index = place(index, kind, device)
    if not index.is_trained:
        index.train(items)
    index.add(items)
    configure(index, kind, params)
    return index, params


def place(index, kind: str, device="cpu"):
    """``index`` on ``device`` when faiss can put an index of ``kind`` there (``flat``, ``ivf``), else itself."""
    return to_device(index, device) if kind != "hnsw" and on_gpu(device) else index


def configure(index, kind: str, params: dict[str, int]) -> None:
    """Apply the search-time parameters (also after ``faiss.read_index``)."""
    INDEX_KINDS.get(kind).configure(index, params)


def index_kind(index) -> str:
    """The kind of a (read back) faiss index, or the class name when it is none of ours."""
    for kind, spec in INDEX_KINDS.items():
        if isinstance(index, getattr(faiss, spec.faiss_class)):
            return kind
    return type(index).__name__


def search(index, items_t: np.ndarray, queries: np.ndarray, k: int, exclude: Ragged, *,
           cpu_index=None) -> tuple[np.ndarray, np.ndarray]:
    """Top-k item indices and canonical scores per query, skipping each query's excluded items.

    Args:
        index: a faiss index over the N item vectors (CPU or GPU).
        cpu_index: a GPU ``index``'s CPU copy, searched instead when the over-fetch passes ``GPU_MAX_K``
            (None: a GPU index is copied back for such a search).
        items_t: (d, N) float32, the item matrix transposed (for canonical re-scoring).
        queries: (B, d) float32, or (B, K, d) for K interests per query (score = max over interests).
        exclude: Ragged with B rows of item indices never returned for that query.

    Returns:
        ids (B, k) int64 and scores (B, k) float32, best first; (-1, -inf) pads missing results.
    """
    n = items_t.shape[1]
    B = len(queries)
    interests = np.ascontiguousarray(queries, dtype=np.float32).reshape(B, -1, items_t.shape[0])  # (B, K, d)
    m = min(n, k + int(exclude.lengths().max(initial=0)) + RESCORE_MARGIN)
    if is_gpu_index(index) and m > GPU_MAX_K:  # past faiss's GPU k-selection
        index = cpu_index if cpu_index is not None else to_cpu(index)
    _, ids = index.search(interests.reshape(-1, items_t.shape[0]), m)  # (B*K, m), -1 = nothing found
    ids = np.sort(ids.reshape(B, -1), axis=1)  # (B, K*m): the union of the K lists, duplicates adjacent
    ids[:, 1:][ids[:, 1:] == ids[:, :-1]] = -1
    invalid = ids < 0
    invalid |= excluded_mask(np.maximum(ids, 0), exclude.row_ids(), exclude.values, n)
    cand = np.maximum(ids, 0)
    scores = np.max([canonical_scores(interests[:, j], items_t, cand) for j in range(interests.shape[1])], axis=0)
    scores[invalid] = -np.inf
    ids = np.where(invalid, -1, ids)
    ids, scores = sort_by_score_then_id(scores, ids)
    if ids.shape[1] < k:
        ids = np.pad(ids, ((0, 0), (0, k - ids.shape[1])), constant_values=-1)
        scores = np.pad(scores, ((0, 0), (0, k - scores.shape[1])), constant_values=-np.inf)
    return ids[:, :k], scores[:, :k]


def recall_vs_exact(index, items: np.ndarray, queries: np.ndarray, k: int, exclude: Ragged) -> float:
    """Mean over queries of |index top-k ∩ exact top-k| / |exact top-k|, with the same exclusions."""
    if len(queries) == 0:
        return float("nan")
    approx, _ = search(index, np.ascontiguousarray(items.T), queries, k, exclude)
    if queries.ndim == 3:
        from towernas.eval.multi_interest import exact_topk_multi

        exact, _ = exact_topk_multi(queries, items, k, exclude)
    else:
        exact, _ = exact_topk(queries, items, k, exclude, backend="faiss")
    found = (approx[:, :, None] == exact[:, None, :]) & (exact[:, None, :] >= 0)  # (Q, k, k)
    n_exact = (exact >= 0).sum(1)
    keep = n_exact > 0
    return float((found.any(1).sum(1)[keep] / n_exact[keep]).mean()) if keep.any() else float("nan")
