"""A cascade: the retriever's top-K0, then ranker stages, each rescoring its input list and keeping its top K.

``Cascade(retriever, k0, [RankerStage(ranker, k1), RankerStage(ranker2, k2)])``; ``topk(data, queries)``
returns every stage's output list (Q, K_stage) in pipeline order plus each stage's seconds, so the stages
are evaluated on the same queries and targets: the first list is "retriever alone", the last the cascade.
A ranker stage only reorders and truncates its input: a ranker can never bring back an item the retriever
missed, which is why the retriever's Recall@K0 is the ceiling of everything after it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from towernas.data.batches import user_inputs
from towernas.data.interactions import EvalQueries, InteractionData
from towernas.cascade.fusion import QUERY
from towernas.cascade.retriever_stage import RetrieverStage


@torch.no_grad()
def score_batch(ranker, batch: dict[str, torch.Tensor], candidates: np.ndarray) -> np.ndarray:
    """(B, C) ``ranker``'s scores of ``candidates`` (B, C) item rows for the queries of ``batch``; -inf at -1
    entries (padding)."""
    device = batch["history"].device
    items = torch.as_tensor(np.where(candidates >= 0, candidates, 0), device=device)
    return np.where(candidates >= 0, ranker.score(batch, items).float().cpu().numpy(), -np.inf)


def top_of(candidates: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The top ``k`` of ``candidates`` by ``scores`` (ties keep the input order, padding stays last): ids, scores."""
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(candidates, order, 1), np.take_along_axis(scores, order, 1)


def rerank_batch(ranker, batch: dict[str, torch.Tensor], candidates: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The top ``k`` of ``candidates`` (B, C) item rows by ``ranker``'s score for the queries of ``batch``
    (-1 entries, padding, stay last; ties keep the input order): ids (B, k) and scores (B, k)."""
    return top_of(candidates, score_batch(ranker, batch, candidates), k)


def query_batch(data: InteractionData, queries: EvalQueries, index, device="cpu",
                vectors: np.ndarray | None = None) -> dict[str, torch.Tensor]:
    """The rankers' inputs for ``queries`` at ``index``: ``user_inputs`` plus, when given, the retriever's query
    ``vectors`` (``towernas.cascade.fusion.QUERY``)."""
    batch = user_inputs(data, queries.users[index], queries.positions[index], device)
    if vectors is not None:
        batch[QUERY] = torch.as_tensor(vectors[index], device=device)
    return batch


def score_lists(ranker, data: InteractionData, queries: EvalQueries, candidates: np.ndarray, batch_size: int = 256,
                device="cpu", vectors: np.ndarray | None = None) -> np.ndarray:
    """(Q, C) ``ranker``'s scores of ``candidates`` (Q, C) (-inf at padding), in evaluation mode. ``vectors``: the
    retriever's query vectors, for a ranker fused with its score."""
    was_training = ranker.training
    ranker.eval()
    try:
        scores = [score_batch(ranker, query_batch(data, queries, slice(start, start + batch_size), device, vectors),
                              candidates[start:start + batch_size])
                  for start in range(0, len(candidates), batch_size)]
    finally:
        ranker.train(was_training)
    return np.concatenate(scores) if scores else np.zeros(candidates.shape, np.float32)


def rerank(ranker, data: InteractionData, queries: EvalQueries, candidates: np.ndarray, k: int,
           batch_size: int = 256, device="cpu", vectors: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(Q, k) ids of ``candidates`` (Q, C) reordered by ``ranker``'s score (-1 entries stay last), and scores.
    ``vectors``: the retriever's query vectors, for a ranker fused with its score."""
    if not len(candidates):
        return np.zeros((0, k), np.int64), np.zeros((0, k), np.float32)
    return top_of(candidates, score_lists(ranker, data, queries, candidates, batch_size, device, vectors), k)


@dataclass
class RankerStage:
    """A ranker that keeps its top ``k`` of its input list."""

    name: str
    ranker: torch.nn.Module
    k: int


@dataclass
class StageOutput:
    name: str
    k: int
    ids: np.ndarray  # (Q, k)
    seconds: float


class Cascade:
    """Args: retriever: stage 1; k0: its list length; rankers: the ranker stages, each k at most the previous (a
    stage keeping its whole input only reorders it)."""

    def __init__(self, retriever: RetrieverStage, k0: int, rankers: list[RankerStage], device="cpu") -> None:
        ks = [k0, *(s.k for s in rankers)]
        if any(b > a for a, b in zip(ks, ks[1:])) or min(ks) < 1:
            raise ValueError(f"cascade stage lengths {ks}: each stage keeps at most the items it receives "
                             "(K1 <= K0, K2 <= K1) and at least 1")
        self.retriever, self.k0, self.rankers, self.device = retriever, k0, rankers, device

    def retrieve(self, data: InteractionData, queries: EvalQueries) -> tuple[StageOutput, np.ndarray]:
        """Stage 1 alone: its output list, and the query vectors it used (what a fused ranker reads)."""
        started = time.perf_counter()
        vectors = self.retriever.encode(data, queries.users, queries.positions)
        ids, _ = self.retriever.search(vectors, queries, self.k0)
        return StageOutput(self.retriever.name, self.k0, ids, time.perf_counter() - started), vectors

    def topk(self, data: InteractionData, queries: EvalQueries) -> list[StageOutput]:
        """Every stage's output list on ``queries``, in pipeline order."""
        first, vectors = self.retrieve(data, queries)
        ids, outputs = first.ids, [first]
        for stage in self.rankers:
            started = time.perf_counter()
            ids, _ = rerank(stage.ranker, data, queries, ids, stage.k, device=self.device, vectors=vectors)
            outputs.append(StageOutput(stage.name, stage.k, ids, time.perf_counter() - started))
        return outputs
