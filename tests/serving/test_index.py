"""Loop over the index registry: every faiss index kind builds, never returns an excluded item, orders
results canonically, reads back with its search parameters, and ``flat`` equals exact top-k."""

import faiss
import numpy as np
import pytest

from towernas.data.ragged import Ragged
from towernas.eval.topk import exact_topk
from towernas.serving.index import INDEX_KINDS, build_index, configure, index_kind, recall_vs_exact, search


def _data(n=2000, d=16, q=50, seed=0):
    rng = np.random.default_rng(seed)
    items = rng.standard_normal((n, d)).astype(np.float32)
    items /= np.linalg.norm(items, axis=1, keepdims=True)
    queries = rng.standard_normal((q, d)).astype(np.float32)
    exclude = Ragged.from_lists([rng.choice(n, size=rng.integers(0, 30), replace=False) for _ in range(q)])
    return items, queries, exclude


@pytest.mark.parametrize("kind", INDEX_KINDS.names())
def test_every_index_kind(kind, tmp_path):
    items, queries, exclude = _data()
    index, params = build_index(items, kind)
    assert index_kind(index) == kind and set(params) == set(INDEX_KINDS.get(kind).params)
    ids, scores = search(index, np.ascontiguousarray(items.T), queries, 10, exclude)
    assert ids.shape == (50, 10) and np.isfinite(scores[ids >= 0]).all()
    for row in range(len(exclude)):
        excluded = exclude[row]
        assert not set(ids[row].tolist()) & set(excluded.tolist())
        valid = scores[row][ids[row] >= 0]
        assert np.all(np.diff(valid) <= 0)
    recall = recall_vs_exact(index, items, queries, 10, exclude)
    assert recall == 1.0 if kind == "flat" else recall >= 0.5
    if kind == "flat":
        exact, _ = exact_topk(queries, items, 10, exclude)
        np.testing.assert_array_equal(ids, exact)
    faiss.write_index(index, str(tmp_path / "index.faiss"))
    loaded = faiss.read_index(str(tmp_path / "index.faiss"))
    configure(loaded, kind, params)
    np.testing.assert_array_equal(search(loaded, np.ascontiguousarray(items.T), queries, 10, exclude)[0], ids)


def test_unknown_kind_and_parameters_are_one_line_errors():
    items, _, _ = _data(n=100)
    with pytest.raises(ValueError, match=r"index='annoy': unknown index kind; expected one of \['flat', 'ivf', 'hnsw'\]"):
        build_index(items, "annoy")
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['nprobe'\] for index='hnsw'"):
        build_index(items, "hnsw", {"nprobe": 3})
    with pytest.raises(ValueError, match="nlist=500: more cells than the 100 items"):
        build_index(items, "ivf", {"nlist": 500})
