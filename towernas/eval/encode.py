"""Running any two-tower model over a dataset: encode users and items, then evaluate by full ranking.

A two-tower model here is any ``nn.Module`` with ``encode_users(batch) -> (B, D)`` and
``encode_items(batch) -> (B, D)`` (see ``towernas.data.batches`` for the batch keys).
"""

from __future__ import annotations

import numpy as np
import torch

from towernas.data.batches import item_inputs, user_inputs
from towernas.data.interactions import EvalQueries, InteractionData
from towernas.data.ragged import Ragged
from towernas.eval import evaluate
from towernas.eval.bias import bias_metrics
from towernas.eval.evaluate import ranked_ids
from towernas.eval.metrics import mean_metrics

BIAS_K = 50  # the cut-off of the popularity-bias and unbiased metrics (arp@50, unbiased/recall@50, ...)


@torch.no_grad()
def encode_all_items(model, data: InteractionData, batch_size: int = 8192, device="cpu") -> np.ndarray:
    """(n_items, D) float32 item vectors."""
    model.eval()
    out = []
    for start in range(0, data.n_items, batch_size):
        ids = np.arange(start, min(start + batch_size, data.n_items))
        out.append(model.encode_items(item_inputs(data, ids, device)).float().cpu().numpy())
    return np.concatenate(out)


@torch.no_grad()
def encode_queries(model, data: InteractionData, users, positions, batch_size: int = 8192, device="cpu"):
    """(Q, D) float32 query vectors (or (Q, K, D) for multi-interest models) for users whose history ends
    right before ``positions``."""
    model.eval()
    out = []
    for start in range(0, len(users), batch_size):
        sl = slice(start, start + batch_size)
        out.append(model.encode_users(user_inputs(data, users[sl], positions[sl], device)).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 1), dtype=np.float32)


def sample_queries(queries: EvalQueries, max_users: int | None, seed: int = 0) -> EvalQueries:
    """At most ``max_users`` of the evaluation queries, drawn without replacement (seeded; all when fewer or
    None): a fixed subsample for fitness evaluation over a large catalogue."""
    if max_users is None or len(queries.users) <= max_users:
        return queries
    keep = np.sort(np.random.default_rng(seed).choice(len(queries.users), max_users, replace=False))
    return EvalQueries(queries.users[keep], queries.positions[keep],
                       Ragged.from_lists(queries.targets[i] for i in keep),
                       Ragged.from_lists(queries.exclude[i] for i in keep))


def evaluate_model(model, data: InteractionData, split: str, ks=(10, 20, 50), device="cpu", backend="auto",
                   queries: EvalQueries | None = None):
    """Full-ranking metrics of ``model`` on ``split`` ("valid" or "test") per the protocol (on ``queries``, a
    subsample of that split's, when given)."""
    queries = data.queries(split) if queries is None else queries
    users, items = encode_split(model, data, queries, device)
    return evaluate(users, ranking_items(items, device), queries.targets, queries.exclude, ks=ks, backend=backend)


def ranking_items(items: np.ndarray, device) -> np.ndarray | torch.Tensor:
    """The item matrix where the top-k should run: on a CUDA ``device`` a tensor there (a faiss-gpu index or
    torch matmul on the GPU, ``eval.backends``), else the CPU array itself."""
    return torch.from_numpy(items).to(device) if torch.device(device).type == "cuda" else items


def encode_split(model, data: InteractionData, queries: EvalQueries, device="cpu") -> tuple[np.ndarray, np.ndarray]:
    """(query vectors of ``queries``, vectors of every item)."""
    items = encode_all_items(model, data, device=device)
    return encode_queries(model, data, queries.users, queries.positions, device=device), items


def evaluate_test(model, data: InteractionData, ks=(10, 20, 50), device="cpu", backend="auto") -> dict[str, float]:
    """Test metrics by full ranking (as ``evaluate_model``) plus the popularity-bias metrics at ``BIAS_K``
    (``arp@50``, ``coverage@50``, ``tail_share@50``) and ``unbiased/recall@k``, ``unbiased/ndcg@k`` on the
    intervened test subset (``towernas.eval.bias``), all from the same ranked lists."""
    queries = data.queries("test")
    users, items = encode_split(model, data, queries, device)
    ids = ranked_ids(users, ranking_items(items, device), max(*ks, BIAS_K), queries.exclude, backend=backend)
    result: dict[str, float] = mean_metrics(ids, queries.targets, ks)
    result["n_users"] = len(ids)
    result.update(bias_metrics(ids, queries, data.item_popularity("train"), BIAS_K, sorted({*ks, BIAS_K})))
    return result
