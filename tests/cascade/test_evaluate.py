"""``towernas.cascade.evaluate``: what limits a cascade, against hand-computed cases."""

import math

import numpy as np
import pytest

from towernas.cascade.evaluate import evaluate_stages, limits
from towernas.cascade.stages import StageOutput
from towernas.data.interactions import EvalQueries
from towernas.data.ragged import Ragged


def _queries(targets):
    n = len(targets)
    return EvalQueries(np.arange(n), np.arange(n), Ragged.from_lists(targets), Ragged.from_lists([[]] * n))


def test_reachable_share_oracle_and_reachable_ndcg_match_hand_computed_values():
    queries = _queries([[3], [9], [5, 6]])
    first = StageOutput("retriever", 4, np.array([[1, 2, 3, 4], [4, 5, 6, 7], [6, 1, 2, 5]]), 0.0)
    ranked = StageOutput("ranker", 2, np.array([[3, 1], [4, 5], [1, 2]]), 0.0)
    out = limits([first, ranked], queries)
    assert out[0]["reachable_share"] == pytest.approx(2 / 3)  # query 1's target 9 is not in its list
    # the oracle moves every target to the front: query 0 -> [3, ...] (1.0), query 2 -> [6, 5, ...] (1.0)
    assert out[0]["oracle_ndcg@10"] == pytest.approx((1.0 + 0.0 + 1.0) / 3)
    # stage 1 over the reachable queries: query 0's hit at rank 3; query 2's hits at ranks 1 and 4
    idcg2 = 1 + 1 / math.log2(3)
    assert out[0]["reachable_ndcg@10"] == pytest.approx((1 / math.log2(4) + (1 + 1 / math.log2(5)) / idcg2) / 2)
    assert out[1]["reachable_ndcg@10"] == pytest.approx((1.0 + 0.0) / 2)
    assert set(out[1]) == {"reachable_ndcg@10"}
    stages = evaluate_stages([first, ranked], queries, ks=(2,))
    assert stages[0]["oracle_ndcg@10"] == out[0]["oracle_ndcg@10"] and "reachable_ndcg@10" in stages[1]
