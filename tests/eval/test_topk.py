"""Exact top-k: hand-computed cases, the (-score, id) tie rule, backend/batch-size invariance, and an
independent numpy brute-force reference."""

import numpy as np
import pytest
import torch

from towernas.data.ragged import Ragged
from towernas.eval import ExactTopK, Retriever, exact_topk
from towernas.eval.backends import BACKENDS as BACKEND_REGISTRY

BACKENDS = BACKEND_REGISTRY.names()  # every registered top-k backend


def reference_topk(queries, items, k, exclude=None):
    """Brute force in numpy: canonical scores (float64, sequential over d, rounded to float32), excluded
    items removed, order by (-score, id) via lexsort, pad with (-1, -inf)."""
    q64, x64 = queries.astype(np.float64), items.astype(np.float64)
    acc = np.zeros((len(queries), len(items)))
    for j in range(queries.shape[1]):
        acc += q64[:, j, None] * x64[None, :, j]
    scores = acc.astype(np.float32)
    ids_out = np.full((len(queries), k), -1, dtype=np.int64)
    sc_out = np.full((len(queries), k), -np.inf, dtype=np.float32)
    for q in range(len(queries)):
        keep = np.setdiff1d(np.arange(len(items)), exclude[q] if exclude is not None else [])
        order = keep[np.lexsort((keep, -scores[q, keep]))][:k]
        ids_out[q, : len(order)] = order
        sc_out[q, : len(order)] = scores[q, order]
    return ids_out, sc_out


@pytest.mark.parametrize("backend", BACKENDS)
def test_hand_computed_ties_exclusions_and_padding(backend):
    # items (d=2):   0:(1,0) 1:(0,1) 2:(1,0) 3:(2,0) 4:(1,1)
    items = np.array([[1, 0], [0, 1], [1, 0], [2, 0], [1, 1]], dtype=np.float32)
    queries = np.array([[1, 0], [0, 1], [1, 1]], dtype=np.float32)
    # query 0 = (1,0): scores [1,0,1,2,1] -> 3 (2.0), then the tie {0,2,4} at 1.0 by id: 0, 2, 4, then 1 (0.0)
    # query 1 = (0,1): scores [0,1,0,0,1]; exclude 4 and 1 -> the 0.0 tie {0,2,3} by id: 0, 2, 3; then
    #                  only 3 items remain for k=4 -> pad with (-1, -inf)
    # query 2 = (1,1): scores [1,1,1,2,2]; exclude 3 -> 4 (2.0), then 0, 1, 2 (1.0)
    exclude = Ragged.from_lists([[], [4, 1], [3]])
    ids, scores = exact_topk(queries, items, k=4, exclude=exclude, backend=backend)
    assert ids.tolist() == [[3, 0, 2, 4], [0, 2, 3, -1], [4, 0, 1, 2]]
    assert scores.tolist() == [[2, 1, 1, 1], [0, 0, 0, -np.inf], [2, 1, 1, 1]]
    assert ids.dtype == np.int64 and scores.dtype == np.float32


@pytest.mark.parametrize("backend", BACKENDS)
def test_k_larger_than_catalog_and_empty_exclusion_rows(backend):
    items = np.array([[3.0], [1.0], [2.0]], dtype=np.float32)
    # query (1): scores 3, 1, 2 -> 0, 2, 1, then two pads; query (-1): -3, -1, -2 -> 1, 2, 0, pads
    ids, scores = exact_topk(np.array([[1.0], [-1.0]], dtype=np.float32), items, k=5,
                             exclude=Ragged.empty(2), backend=backend)
    assert ids.tolist() == [[0, 2, 1, -1, -1], [1, 2, 0, -1, -1]]
    assert scores.tolist() == [[3, 2, 1, -np.inf, -np.inf], [-1, -2, -3, -np.inf, -np.inf]]
    # everything excluded -> all padding
    ids, scores = exact_topk(np.array([[1.0]], dtype=np.float32), items, k=2,
                             exclude=Ragged.from_lists([[0, 1, 2]]), backend=backend)
    assert ids.tolist() == [[-1, -1]] and np.isneginf(scores).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_boundary_tie_larger_than_fetch_window_returns_smallest_ids(backend):
    # 300 identical items: every score ties, far more than k + margin are tied at the boundary, so the
    # backend's own pick is arbitrary; the answer must be the smallest non-excluded ids.
    items = np.ones((300, 4), dtype=np.float32)
    items[7] = 2.0  # the single best item: score 8 vs 4 for the others
    exclude = Ragged.from_lists([[0, 2, 3], [7, 1]])
    ids, scores = exact_topk(np.ones((2, 4), dtype=np.float32), items, k=5, exclude=exclude, backend=backend)
    assert ids.tolist() == [[7, 1, 4, 5, 6], [0, 2, 3, 4, 5]]
    assert scores.tolist() == [[8, 4, 4, 4, 4], [4, 4, 4, 4, 4]]


def _random_case(seed, n_q=53, n_items=400, d=8, ties=False):
    rng = np.random.default_rng(seed)
    if ties:  # 0/1 entries: exact float32 scores in 0..d, so most scores tie and many items repeat
        items = rng.integers(0, 2, size=(n_items, d)).astype(np.float32)
        queries = rng.integers(0, 2, size=(n_q, d)).astype(np.float32)
    else:
        items = rng.standard_normal((n_items, d), dtype=np.float32)
        queries = rng.standard_normal((n_q, d), dtype=np.float32)
    lengths = rng.integers(0, 40, size=n_q)
    lengths[3] = n_items - 5  # one heavy user: only 5 items left
    exclude = Ragged.from_lists([rng.choice(n_items, size=n, replace=False) for n in lengths])
    return queries, items, exclude


@pytest.mark.parametrize("ties", [False, True])
def test_matches_reference_for_every_backend_and_batch_size(ties):
    queries, items, exclude = _random_case(seed=1, ties=ties)
    ref_ids, ref_scores = reference_topk(queries, items, k=20, exclude=exclude)
    for backend in BACKENDS:
        for batch_size in (1, 7, len(queries)):
            ids, scores = exact_topk(queries, items, 20, exclude, batch_size=batch_size, backend=backend)
            np.testing.assert_array_equal(ids, ref_ids, err_msg=f"{backend} batch {batch_size}")
            np.testing.assert_array_equal(scores, ref_scores, err_msg=f"{backend} batch {batch_size}")
    assert (ref_ids[3, 5:] == -1).all() and (ref_ids[3, :5] >= 0).all()  # heavy user is padded


def test_excluded_items_never_returned():
    queries, items, exclude = _random_case(seed=2)
    # exclude each user's unmasked top-10 so exclusions sit exactly where top-k would pick them
    top10, _ = exact_topk(queries, items, 10)
    exclude = Ragged.from_lists([np.concatenate([exclude[q], top10[q]]) for q in range(len(queries))])
    for backend in BACKENDS:
        ids, _ = exact_topk(queries, items, 30, exclude, backend=backend)
        for q in range(len(queries)):
            assert not set(ids[q].tolist()) & set(exclude[q].tolist())


def test_rerank_guard_fires_on_ties_and_not_on_generic_data(monkeypatch):
    calls = []
    original = ExactTopK._rerank_exactly
    monkeypatch.setattr(ExactTopK, "_rerank_exactly", lambda self, q, *a: calls.append(len(q)) or original(self, q, *a))
    queries, items, exclude = _random_case(seed=3)
    exact_topk(queries, items, 10, exclude, backend="faiss")
    assert calls == []  # continuous data: the margin keeps the k-th score clear of the cutoff
    queries, items, exclude = _random_case(seed=3, ties=True)
    exact_topk(queries, items, 10, exclude, backend="faiss")
    assert sum(calls) > 0


def test_torch_tensor_inputs_and_validation():
    queries, items, exclude = _random_case(seed=4)
    ids_np, _ = exact_topk(queries, items, 5, exclude, backend="torch")
    ids_t, _ = exact_topk(torch.from_numpy(queries), torch.from_numpy(items), 5, exclude, backend="auto")
    np.testing.assert_array_equal(ids_np, ids_t)
    with pytest.raises(ValueError, match="outside"):
        exact_topk(queries[:1], items, 5, Ragged.from_lists([[len(items)]]))
    with pytest.raises(ValueError, match="rows"):
        exact_topk(queries, items, 5, Ragged.empty(1))
    with pytest.raises(ValueError, match="backend"):
        exact_topk(queries, items, 5, backend="annoy")
    with pytest.raises(ValueError, match="NaN"):
        exact_topk(np.full((1, 8), np.nan, dtype=np.float32), items, 5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():  # pragma: no cover - no GPU in CI
    queries, items, exclude = _random_case(seed=5, ties=True)
    cpu = exact_topk(queries, items, 10, exclude, backend="faiss")
    gpu = exact_topk(torch.from_numpy(queries).cuda(), torch.from_numpy(items).cuda(), 10, exclude)
    np.testing.assert_array_equal(cpu[0], gpu[0])
    np.testing.assert_array_equal(cpu[1], gpu[1])


@pytest.mark.parametrize("backend", BACKENDS)
def test_retriever_maps_item_ids(backend):
    items = np.array([[1, 0], [0, 1], [1, 0], [0.5, 0.5]], dtype=np.float32)
    r = Retriever(items, item_ids=np.array([40, 10, 30, 20]), backend=backend)
    assert r.backend == backend
    # query (1,0): scores 1, 0, 1, 0.5 by row; exclude id 40 (row 0) -> rows 2, 3, 1 -> ids 30, 20, 10
    ids, scores = r.search(np.array([[1, 0]], dtype=np.float32), k=4, exclude=Ragged.from_lists([[40]]))
    assert ids.tolist() == [[30, 20, 10, -1]]
    assert scores.tolist() == [[1.0, 0.5, 0.0, -np.inf]]
    # without item_ids the rows are the ids; tie between rows 0 and 2 -> 0 first
    ids, _ = Retriever(items, backend=backend).search(np.array([[1, 0]], dtype=np.float32), k=2)
    assert ids.tolist() == [[0, 2]]
    with pytest.raises(ValueError, match="not in item_ids"):
        r.search(np.array([[1, 0]], dtype=np.float32), k=1, exclude=Ragged.from_lists([[99]]))
    with pytest.raises(ValueError, match="unique"):
        Retriever(items, item_ids=np.array([1, 1, 2, 3]))
