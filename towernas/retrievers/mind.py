"""MIND: Multi-Interest Network with Dynamic routing (Li et al., CIKM 2019) as a two-tower model.

User tower (serving), for history embeddings e_t (B, L, E), validity mask m (B, L):

1. Number of interests from the history length n: K_u = clamp(floor(log2 n), 1, K) (K = 4 by default,
   capped at floor(log2 max_len)), so short histories get fewer interests. Interest k (0-based) is valid
   iff k == 0 or n >= 2^(k+1).
2. B2I dynamic routing with a shared bilinear map S (E -> C, capsule width C = E by default):
   \\hat e_t = S e_t; routing logits b (K, L) start from a fixed random draw (a buffer, not trained:
   with a shared S it is what tells the capsules apart), then for 3 iterations:
       w_kt = softmax_k(b_kt) over the valid interests, times m_t      (padded items do not route)
       z_k = sum_t w_kt \\hat e_t;   c_k = squash(z_k) = |z|^2 / (1 + |z|^2) * z / |z|
       b_kt += <c_k, \\hat e_t>
3. Each capsule (C wide) is concatenated with the user field embeddings and passed through the budget's
   DNN (shared across interests), then L2-normalised: u_k (B, K, D). Invalid interests are replaced by a
   copy of interest 0, so that serving by max_k <u_k, v> (``towernas.eval.multi_interest``) is
   unchanged by them.

Training (label-aware attention): for the target item vector v,
    a_k = softmax_k(<u_k, v>^p) over the valid interests (p = 2),   user = normalize(sum_k a_k u_k),
and the score is <user, v>. For in-batch softmax every (user i, item j) pair needs its own attention:
``MIND.train_scores(batch)`` returns that (B, B) cosine matrix (before temperature and logQ).

Example:
    >>> from towernas.data.spec import DatasetSpec
    >>> model = MIND(DatasetSpec((), (), n_items=20, max_len=16), (32, 16))
    >>> batch = {"history": torch.arange(16).view(1, 16), "item": torch.tensor([4])}
    >>> model.encode_users(batch).shape, model.train_scores(batch).shape
    (torch.Size([1, 4, 16]), torch.Size([1, 1]))
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from towernas.data.spec import DatasetSpec
from towernas.nn.mlp import mlp
from towernas.retrievers.dnn import BaselineTwoTower, DNNItemTower
from towernas.space.dims import Dims

N_INTERESTS = 4
ROUTING_ITERATIONS = 3
ATTENTION_POWER = 2


def squash(z: torch.Tensor, eps: float = 1e-9) -> torch.Tensor:
    """Capsule non-linearity over the last dim: |z|^2 / (1 + |z|^2) * z / |z| (zero stays zero)."""
    sq = (z * z).sum(-1, keepdim=True)
    return z * (sq / (1 + sq) / torch.sqrt(sq + eps))


class InterestExtractor(nn.Module):
    """B2I dynamic routing: history (B, L, E) + mask (B, L) -> capsules (B, K, C), valid (B, K)."""

    def __init__(self, max_len: int, embed: int, n_interests: int = N_INTERESTS,
                 iterations: int = ROUTING_ITERATIONS, capsule: int | None = None) -> None:
        super().__init__()
        self.iterations = iterations
        self.bilinear = nn.Linear(embed, capsule or embed, bias=False)  # S, shared by all interests
        generator = torch.Generator().manual_seed(0)
        self.register_buffer("routing_init", torch.randn(n_interests, max_len, generator=generator))
        # interest k is valid when the history has at least thresholds[k] items (k = 0: always)
        thresholds = [0] + [2 ** (k + 1) for k in range(1, n_interests)]
        self.register_buffer("thresholds", torch.tensor(thresholds, dtype=torch.long), persistent=False)

    def forward(self, history: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, l, _ = history.shape
        valid = mask.sum(1, keepdim=True) >= self.thresholds  # (B, K)
        invalid = ~valid.unsqueeze(-1)  # (B, K, 1)
        items = mask.unsqueeze(1).to(history.dtype)  # (B, 1, L)
        mapped = self.bilinear(history)  # (B, L, C)
        logits = self.routing_init[:, -l:].expand(b, -1, -1)  # (B, K, L), right-aligned like the history
        for it in range(self.iterations):
            weights = logits.masked_fill(invalid, torch.finfo(logits.dtype).min).softmax(1) * items  # (B, K, L)
            capsules = squash(weights @ mapped)  # (B, K, C)
            if it + 1 < self.iterations:
                logits = logits + capsules @ mapped.transpose(1, 2)  # (B, K, L)
        return capsules, valid


class MINDUserTower(nn.Module):
    """Interest extractor, then DNN([user fields; capsule_k]) per interest: (B, K, D) unit vectors."""

    def __init__(self, n_fields: int, max_len: int, layers: Sequence[int], embed: int,
                 n_interests: int = N_INTERESTS, capsule: int | None = None) -> None:
        super().__init__()
        self.extractor = InterestExtractor(max_len, embed, n_interests, capsule=capsule)
        self.dnn = mlp(n_fields * embed + (capsule or embed), layers)

    def interests(self, fields: torch.Tensor, history: torch.Tensor, mask: torch.Tensor):
        """(interests (B, K, D) L2-normalised, valid (B, K)); invalid rows are not meaningful."""
        capsules, valid = self.extractor(history, mask)  # (B, K, C), (B, K)
        b, k, _ = capsules.shape
        profile = fields.flatten(1).unsqueeze(1).expand(b, k, -1)  # (B, K, F_u E)
        return F.normalize(self.dnn(torch.cat([profile, capsules], dim=-1)), dim=-1), valid

    def forward(self, fields: torch.Tensor, history: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        interests, valid = self.interests(fields, history, mask)
        keep = valid.unsqueeze(-1).to(interests.dtype)  # (B, K, 1)
        replace = (~valid).unsqueeze(-1).to(interests.dtype)
        return interests * keep + interests[:, :1] * replace  # invalid interests -> copies of interest 0


def label_aware_scores(interests: torch.Tensor, valid: torch.Tensor, items: torch.Tensor,
                       p: int = ATTENTION_POWER) -> torch.Tensor:
    """Cosine of every user's label-aware vector with every item: (B, N).

    Args:
        interests: (B, K, D) unit interest vectors u_ik. valid: (B, K) bool, interest 0 always valid.
        items: (N, D) unit item vectors v_j. p: attention power.

    Returns:
        s_ij = <normalize(sum_k a_ijk u_ik), v_j> with a_ij = softmax_k over valid k of <u_ik, v_j>^p.
        The norm comes from the K x K Gram matrix of each user's interests (no (B, N, D) tensor).
    """
    dots = torch.einsum("ikd,jd->ijk", interests, items)  # (B, N, K)
    weights = dots.pow(p).masked_fill(~valid.unsqueeze(1), float("-inf")).softmax(-1)  # (B, N, K)
    gram = interests @ interests.transpose(1, 2)  # (B, K, K)
    norm_sq = torch.einsum("ijk,ikl,ijl->ij", weights, gram, weights)  # |sum_k a_ijk u_ik|^2
    return (weights * dots).sum(-1) / norm_sq.clamp_min(1e-24).sqrt()


class MIND(BaselineTwoTower):
    """Multi-interest user tower (``encode_users`` -> (B, K, D)), GoogleDNN item tower.

    ``train_scores(batch)`` is the label-aware (B, B) cosine matrix to train with (see the module
    docstring); serve with ``towernas.eval.multi_interest.exact_topk_multi`` (score = max_k <u_k, v>).
    ``n_interests`` (K) and ``capsule`` (C, None: E) are the widths the in-budget sizes vary.
    """

    def __init__(self, spec: DatasetSpec, layers: Sequence[int], dims: Dims = Dims(),
                 n_interests: int = N_INTERESTS, p: int = ATTENTION_POWER, capsule: int | None = None) -> None:
        super().__init__(spec, layers, dims)
        self.p = p
        # no interest beyond floor(log2(max_len)) could ever be valid (step 1): don't build it
        n_interests = max(1, min(n_interests, spec.max_len.bit_length() - 1))
        self.user_tower = MINDUserTower(len(spec.user_fields), spec.max_len, layers, dims.embed, n_interests,
                                        capsule)
        self.item_tower = DNNItemTower(spec.n_item_inputs, layers, dims.embed)

    def score_matrix(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """(B, B) raw cosine scores: row i = user i with label-aware attention w.r.t. item j (column j)."""
        interests, valid = self.user_tower.interests(*self.embedder.user_inputs(batch))
        return label_aware_scores(interests, valid, self.encode_items(batch), self.p)

    def train_scores(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The training contract: (B, B) cosine scores, before temperature / logQ / accidental-hit masking."""
        return self.score_matrix(batch)
