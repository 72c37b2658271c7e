"""Cluster negatives in the spirit of MIDX (Chen et al., WWW 2022, inverted-multi-index samplers): k-means
over the item vectors (faiss), then per draw a cluster given the query, then an item of that cluster.

Every ``refresh_every`` steps the current item tower encodes the whole catalogue (no gradient) and
``faiss.Kmeans`` refits ``n_clusters`` centroids mu_c. For a query u the proposal is

    P(c | u) = |c| exp(<u, mu_c> / tau) / sum_c' |c'| exp(<u, mu_c'> / tau),    P(j | c) = 1 / |c|

so q(j | u) = exp(<u, mu_c(j)> / tau) / Z(u): the softmax over items with every item vector replaced by its
centroid — a query-aware approximation of the softmax the loss estimates, hence harder negatives than
popularity at the cost of one catalogue pass per refresh. Each row draws its own ``n`` ids;
log q = log(n q(j | u)), exact for that proposal.
"""

from __future__ import annotations

import numpy as np
import torch

from towernas.samplers.base import SAMPLERS, Negatives, Sampler, SamplerError

REFRESH_CHUNK = 8192  # items per item-tower pass of a refresh


@SAMPLERS.register("cluster")
class ClusterSampler(Sampler):
    """Per row, ``n`` ids from the query-aware cluster proposal.

    Args:
        n_clusters: faiss k-means centroids over the item vectors (capped at the catalogue size);
            q(j | u) proportional to exp(<u, centroid(j)> / temperature).
        refresh_every: steps between two re-clusterings of the item vectors.
        temperature: tau of P(c | u) (the cosine scale of the query and centroid vectors).
        kmeans_iters: faiss k-means iterations per refresh.
    """

    needs_encoder = True

    def __init__(self, seed: int = 0, device: torch.device | str = "cpu", n_clusters: int = 64,
                 refresh_every: int = 200, temperature: float = 0.1, kmeans_iters: int = 10) -> None:
        super().__init__(seed, device)
        for key, value in (("n_clusters", n_clusters), ("refresh_every", refresh_every),
                           ("kmeans_iters", kmeans_iters)):
            if value < 1:
                raise SamplerError(f"sampler.cluster.{key}={value}: expected a positive integer")
        if not temperature > 0:
            raise SamplerError(f"sampler.cluster.temperature={temperature}: expected a positive number")
        self.n_clusters, self.refresh_every = int(n_clusters), int(refresh_every)
        self.temperature, self.kmeans_iters, self.seed = float(temperature), int(kmeans_iters), int(seed)
        self.steps_since, self.centroids, self.refreshes = None, None, 0

    def refresh(self, item_vectors: torch.Tensor) -> None:
        """Re-cluster (N, D) item vectors: centroids (K, D), each item's cluster, items sorted by cluster."""
        import faiss

        x = np.ascontiguousarray(item_vectors.detach().float().cpu().numpy())
        k = min(self.n_clusters, len(x))
        # a new k-means seed per refresh, from the refresh count (part of the state, so a resume re-clusters alike)
        kmeans = faiss.Kmeans(x.shape[1], k, niter=self.kmeans_iters, seed=self.seed + self.refreshes, verbose=False,
                              min_points_per_centroid=1)
        self.refreshes += 1
        kmeans.train(x)
        _, assign = kmeans.index.search(x, 1)
        self.set_clusters(torch.as_tensor(kmeans.centroids), torch.as_tensor(assign[:, 0], dtype=torch.long))

    def set_clusters(self, centroids: torch.Tensor, assign: torch.Tensor) -> None:
        """Use the given (K, D) centroids and (N,) cluster of each item (tests, and ``refresh``)."""
        self.centroids = centroids.to(self.device, torch.float32)
        self.assign = assign.to(self.device)
        self.sizes = torch.bincount(self.assign, minlength=len(self.centroids))  # (K,)
        self.order = torch.argsort(self.assign, stable=True)  # item ids grouped by cluster
        self.starts = torch.cumsum(self.sizes, 0) - self.sizes  # (K,) first slot of each cluster in order
        self.log_sizes = self.sizes.double().clamp_min(1).log().float()
        self.log_sizes[self.sizes == 0] = float("-inf")
        self.steps_since = 0

    def cluster_log_probability(self, query: torch.Tensor) -> torch.Tensor:
        """(B, K) log P(c | u)."""
        logits = query.float() @ self.centroids.T / self.temperature + self.log_sizes[None, :]
        return torch.log_softmax(logits, dim=1)

    def sample(self, query, positives, n, *, encode_items=None) -> Negatives:
        if self.steps_since is None or self.steps_since >= self.refresh_every:
            if encode_items is None:
                raise SamplerError("sampler=cluster needs the item tower to cluster the catalogue (encode_items)")
            with torch.no_grad():  # the catalogue in chunks, so a large one never makes one huge batch
                ids = torch.arange(self.n_items, device=self.device)
                self.refresh(torch.cat([encode_items(chunk) for chunk in ids.split(REFRESH_CHUNK)]))
        self.steps_since += 1
        with torch.no_grad():
            log_p = self.cluster_log_probability(query)
            clusters = torch.multinomial(log_p.exp(), n, replacement=True, generator=self.generator)  # (B, n)
            offset = (torch.rand(clusters.shape, generator=self.generator, device=self.device)
                      * self.sizes[clusters]).long().clamp_max(self.sizes[clusters] - 1)
            ids = self.order[self.starts[clusters] + offset]
        return Negatives(ids, self.log_q(query, ids, n))

    def log_q(self, query, ids, n) -> torch.Tensor:
        with torch.no_grad():
            log_p = self.cluster_log_probability(query)  # (B, K)
            c = self.assign[ids]
            rows = log_p.gather(1, c if c.dim() == 2 else c[:, None])
            rows = rows if c.dim() == 2 else rows[:, 0]
            return rows - self.log_sizes[c] + float(np.log(n))

    def state_dict(self) -> dict:
        state = super().state_dict()
        if self.centroids is not None:
            state.update(centroids=self.centroids.cpu(), assign=self.assign.cpu(), steps_since=self.steps_since,
                         refreshes=self.refreshes)
        return state

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        if "centroids" in state:
            self.set_clusters(state["centroids"], state["assign"])
            self.steps_since, self.refreshes = int(state["steps_since"]), int(state["refreshes"])
