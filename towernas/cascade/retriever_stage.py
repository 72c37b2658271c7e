"""Stage 1 of a cascade: a retriever artifact (``towernas.serving``) and its exact top-K0 over the catalogue.

The artifact's user tower is run on the dataset's own encoded inputs (internal item rows, feature codes), so
the artifact must come from this dataset: the same items in the same order, the same users and user fields.
A mismatch is one line naming what differs. Candidates are the exact inner-product top-K0 of the artifact's
item embeddings with the protocol's masking (``towernas.eval.topk``), not its approximate index, so the
stage's Recall@K0 is the true ceiling of the stages after it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from towernas.data.interactions import EvalQueries, InteractionData
from towernas.eval.multi_interest import exact_topk_multi
from towernas.eval.topk import exact_topk
from towernas.serving.retriever import ArtifactError, ServingRetriever


LEGACY_TEMPERATURE = 0.05  # retrain.temperature's default when artifacts did not record theirs


class RetrieverStage:
    """Args: artifact: a loaded retriever; directory: where it was loaded from (for messages and results)."""

    name = "retriever"

    def __init__(self, artifact: ServingRetriever, directory: Path, program=None, items: np.ndarray | None = None):
        self.artifact, self.directory = artifact, Path(directory)
        self.program = artifact.program if program is None else program  # the user tower
        self.items = artifact.items if items is None else items  # (N, d)

    def temperature(self, configured: float | None = None) -> float:
        """``configured`` if set, else the softmax temperature the retriever was trained at, as ``retrain`` records
        it in the artifact's metadata (``LEGACY_TEMPERATURE``, the default before it was recorded, without it)."""
        if configured is not None:
            return float(configured)
        return float((self.artifact.meta.get("metadata") or {}).get("temperature", LEGACY_TEMPERATURE))

    def with_weights(self, program, items: np.ndarray) -> RetrieverStage:
        """The same stage with another user tower and item embeddings (a distilled retriever)."""
        return RetrieverStage(self.artifact, self.directory, program, items)

    @classmethod
    def load(cls, directory: str | Path, data: InteractionData) -> RetrieverStage:
        """Load (sha256-verified) and check the artifact was built on ``data``."""
        directory = Path(directory)
        artifact = ServingRetriever.load(directory)
        check_same_dataset(artifact, directory, data)
        return cls(artifact, directory)

    def inputs(self, data: InteractionData, users: np.ndarray, positions: np.ndarray):
        """The user tower's inputs: history rows (B, L) and ``{field: codes}``."""
        history = torch.from_numpy(data.histories(positions, self.artifact.max_len))
        fields = {f["name"]: torch.from_numpy(np.ascontiguousarray(data.user_features.values[f["name"]][users]))
                  for f in self.artifact.fields}
        return history, fields

    @torch.no_grad()
    def encode(self, data: InteractionData, users: np.ndarray, positions: np.ndarray,
               batch_size: int = 8192) -> np.ndarray:
        """(Q, d) query vectors ((Q, K, d) for a multi-interest tower) through the user tower program."""
        out = []
        for start in range(0, len(users), batch_size):
            sl = slice(start, start + batch_size)
            out.append(self.program(*self.inputs(data, users[sl], positions[sl])).detach().float().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.items.shape[1]), np.float32)

    def topk(self, data: InteractionData, queries: EvalQueries, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(Q, k) candidate item rows (-1 pads a row with fewer than k allowed items) and their scores."""
        return self.search(self.encode(data, queries.users, queries.positions), queries, k)

    def search(self, vectors: np.ndarray, queries: EvalQueries, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact top-k of already encoded query ``vectors`` with ``queries.exclude`` masked."""
        search = exact_topk_multi if vectors.ndim == 3 else exact_topk
        return search(vectors, self.items, k, queries.exclude)


def check_same_dataset(artifact: ServingRetriever, directory: Path, data: InteractionData) -> None:
    """One-line ArtifactError naming the first difference between the artifact's dataset and ``data``."""
    meta = artifact.meta
    where = f"retriever artifact {directory}"
    if meta["n_items"] != data.n_items:
        raise ArtifactError(f"{where}: built on {meta['n_items']} items, dataset {data.name} has {data.n_items}; "
                            "retrain on this dataset or pass cascade.retriever=<its artifact>")
    if [str(x) for x in data.item_ids] != list(artifact.item_ids):
        raise ArtifactError(f"{where}: its item vocabulary differs from dataset {data.name}'s (same count, other "
                            "ids or order)")
    if [str(x) for x in data.user_ids] != list(artifact.user_ids):
        raise ArtifactError(f"{where}: its users differ from dataset {data.name}'s")
    mine = [(f.name, f.cardinality) for f in data.user_features.fields]
    theirs = [(f["name"], f["cardinality"]) for f in artifact.fields]
    if mine != theirs:
        raise ArtifactError(f"{where}: user fields {theirs}, dataset {data.name} has {mine}")
