"""The retrieval objective of one training step: sampler + loss + add-ons, for any two-tower trainer.

``RetrievalObjective(data, sampler=..., loss=..., addons=...)(batch, encode_users, encode_items)`` returns
the loss of one batch. The retrainer calls it with a model's towers, the supernet with one path's. Per step:

1. the query vectors u (B, D) and the positives' vectors (B, D);
2. the sampler's negatives (``towernas.samplers``): a shared pool (one item-tower pass), per-row ids, or
   the in-batch pool whose first B columns are the positives themselves;
3. the candidate matrix ``scores`` (B, C) of cosines, each row's ``target`` column, the candidates' ids and
   log q; columns holding a row's own positive other than its target are ``invalid`` (accidental hits);
4. logits = scores / tau, changed by each add-on's ``adjust``; minus log q for the corrected softmax;
5. the loss (``towernas.losses.retrieval.LOSSES``) with the add-ons' weights, plus their extra losses.

With the defaults (``in_batch``, ``softmax``, no add-ons) this is exactly the in-batch softmax with logQ
correction of ``towernas.losses.retrieval.in_batch_softmax`` (a test pins it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch

from towernas.addons.base import AddOn, add_extra_losses, apply_training_hooks
from towernas.data.batches import item_inputs
from towernas.data.interactions import InteractionData
from towernas.data.train_stats import TrainStats
from towernas.losses.retrieval import CORRECTED, LOSSES
from towernas.samplers.base import Sampler, SamplerError, build_sampler
from towernas.train import distributed

Batch = dict[str, torch.Tensor]
Encoder = Callable[[Batch], torch.Tensor]


@dataclass
class Step:
    """Everything the add-ons of one training step may look at.

    ``layout`` says how the C columns are laid out: ``"prefix"`` (in-batch: column j < B is row j's
    positive, then shared extras), ``"shared"`` (column 0 the row's positive, then n shared negatives) or
    ``"per_row"`` (column 0 the positive, then the row's own n negatives).
    """

    batch: Batch
    query: torch.Tensor  # (B, D)
    positive_vectors: torch.Tensor  # (B, D)
    negative_vectors: torch.Tensor | None  # (n, D) shared, (B, n, D) per row, None (in-batch only)
    layout: str
    ids: torch.Tensor  # (B, C) candidate item ids
    scores: torch.Tensor  # (B, C) cosines
    log_q: torch.Tensor  # (B, C)
    target: torch.Tensor  # (B,)
    invalid: torch.Tensor  # (B, C) bool
    temperature: float
    loss: str
    encode_users: Encoder
    logits: torch.Tensor | None = None  # (B, C), after the add-ons' adjust (before the logQ correction)
    extras: dict = field(default_factory=dict)

    @property
    def positives(self) -> torch.Tensor:
        """(B,) each row's positive item (its target column)."""
        return self.batch["item"]

    @property
    def has_positive(self) -> torch.Tensor:
        """(B,) bool: every retrieval row has its positive."""
        return torch.ones(len(self.target), dtype=torch.bool, device=self.target.device)

    @property
    def norm(self) -> int:
        """How many terms the main loss averages over (rows): an extra per-term loss divides by it."""
        return len(self.target)

    def labels(self) -> torch.Tensor:
        """(B, C) float: 1 in each row's target column, else 0."""
        out = torch.zeros_like(self.scores)
        return out.scatter(1, self.target[:, None], 1.0)


class RetrievalObjective:
    """Sampler + loss + add-ons for a two-tower model trained on ``data``'s train split.

    Args:
        data: the dataset (its train counts fit the sampler and add-ons; its item features encode negatives).
        sampler: a registered sampler name, or a built ``Sampler``.
        loss: softmax (logQ-corrected sampled softmax) | infonce | bpr | bce.
        n_negatives: negatives per step (shared pool) or per row; ignored by ``in_batch``.
        temperature: tau of the cosine logits.
        addons: built add-ons (``towernas.addons.build_addons``).
        sampler_options: options of a sampler given by name.
    """

    def __init__(self, data: InteractionData, *, sampler: str | Sampler = "in_batch", loss: str = "softmax",
                 n_negatives: int = 128, temperature: float = 0.05, addons: Sequence[AddOn] = (),
                 sampler_options: dict | None = None, seed: int = 0, device: torch.device | str = "cpu",
                 stats: TrainStats | None = None, loss_key: str = "loss") -> None:
        if loss not in LOSSES:
            raise SamplerError(f"{loss_key}={loss!r}: unknown loss; expected one of {list(LOSSES)}")
        if n_negatives < 1:
            raise SamplerError(f"n_negatives={n_negatives}: expected a positive integer")
        self.data, self.loss, self.n, self.temperature = data, loss, int(n_negatives), float(temperature)
        self.device = torch.device(device)
        stats = TrainStats.from_data(data) if stats is None else stats
        self.sampler_name = sampler if isinstance(sampler, str) else type(sampler).__name__
        self.sampler_options = dict(sampler_options or {})
        if isinstance(sampler, str):
            sampler = build_sampler(sampler, seed=seed, device=self.device, **(sampler_options or {}))
        self.sampler = sampler
        self.sampler.fit(stats)
        self.addons = list(addons)
        for addon in self.addons:
            addon.temperature = self.temperature
            addon.fit(stats)

    def check(self, model) -> None:
        """Refuse (one line) a model the sampler or an add-on cannot train."""
        from towernas.samplers.in_batch import InBatchSampler

        check_model(model, sampler=self.sampler_name, in_batch=type(self.sampler) is InBatchSampler, loss=self.loss,
                    addons=self.addons)

    def item_batch(self, ids: torch.Tensor) -> Batch:
        return item_inputs(self.data, ids.detach().cpu().numpy().astype(np.int64), self.device)

    def __call__(self, batch: Batch, encode_users: Encoder, encode_items: Encoder,
                 scores_fn: Callable[[Batch], torch.Tensor] | None = None) -> torch.Tensor:
        """The loss of one batch. ``scores_fn(batch) -> (B, B)``: in-batch cosines of a model whose query
        depends on the candidate (then no other vectors are computed)."""
        step = self.step(batch, encode_users, encode_items, scores_fn)
        logits, weights, pair_weights = apply_training_hooks(step.scores / self.temperature, step, self.addons)
        if self.loss in CORRECTED:
            logits = logits - step.log_q
        total = LOSSES[self.loss](logits, step.target, step.invalid, weights, pair_weights)
        return add_extra_losses(total, step, self.addons)

    def step(self, batch: Batch, encode_users: Encoder, encode_items: Encoder, scores_fn=None) -> Step:
        positives = batch["item"]
        b = len(positives)
        if scores_fn is None and self._in_batch and distributed.world().active:
            return self._gathered_step(batch, encode_users, encode_items)
        self.sampler.observe(positives)
        if scores_fn is not None:
            query = positive_vectors = None
            scores = scores_fn(batch)
            negatives = self.sampler.sample(None, positives, self.n)
            negative_vectors, layout = None, "prefix"
        else:
            query, positive_vectors = encode_users(batch), encode_items(batch)
            encode_ids = lambda ids: encode_items(self.item_batch(ids))  # noqa: E731
            negatives = self.sampler.sample(query.detach(), positives, self.n,
                                            encode_items=encode_ids if self.sampler.needs_encoder else None)
            if negatives.includes_positives:
                layout, extra = "prefix", negatives.ids[b:]
                negative_vectors = encode_ids(extra) if len(extra) else None
                columns = positive_vectors if negative_vectors is None else torch.cat([positive_vectors,
                                                                                       negative_vectors])
                scores = query @ columns.T
            elif negatives.shared:
                layout, negative_vectors = "shared", encode_ids(negatives.ids)
                scores = torch.cat([(query * positive_vectors).sum(-1, keepdim=True), query @ negative_vectors.T], 1)
            else:
                layout = "per_row"
                unique, inverse = torch.unique(negatives.ids, return_inverse=True)
                negative_vectors = encode_ids(unique)[inverse]  # (B, n, D)
                scores = torch.cat([(query * positive_vectors).sum(-1, keepdim=True),
                                    torch.einsum("bd,bnd->bn", query, negative_vectors)], 1)
        if layout == "prefix":
            ids = negatives.ids.unsqueeze(0).expand(b, -1)
            log_q = negatives.log_q.unsqueeze(0).expand(b, -1)
            target = torch.arange(b, device=scores.device)
        else:
            n_ids = negatives.ids if not negatives.shared else negatives.ids.unsqueeze(0).expand(b, -1)
            n_log_q = negatives.log_q if not negatives.shared else negatives.log_q.unsqueeze(0).expand(b, -1)
            ids = torch.cat([positives[:, None], n_ids], 1)
            pos_log_q = self.sampler.log_q(None if query is None else query.detach(), positives, self.n)
            log_q = torch.cat([pos_log_q[:, None], n_log_q], 1)
            target = torch.zeros(b, dtype=torch.long, device=scores.device)
        invalid = (ids == positives[:, None]).scatter(1, target[:, None], False)
        return Step(batch=batch, query=query, positive_vectors=positive_vectors, negative_vectors=negative_vectors,
                    layout=layout, ids=ids, scores=scores, log_q=log_q.to(scores.dtype), target=target,
                    invalid=invalid, temperature=self.temperature, loss=self.loss, encode_users=encode_users)

    @property
    def _in_batch(self) -> bool:
        from towernas.samplers.in_batch import InBatchSampler

        return type(self.sampler) is InBatchSampler

    def _gathered_step(self, batch: Batch, encode_users: Encoder, encode_items: Encoder) -> Step:
        """Data parallel, in-batch sampler: this rank's queries against every rank's positives (gathered with
        their gradient), the estimator counting the global batch: the one-process step of the global batch,
        restricted to this rank's rows. (Other samplers draw their negatives on each rank.)"""
        positives = batch["item"]
        b = len(positives)
        ids, offset = distributed.gather_rows(positives)
        self.sampler.observe(ids)
        query, positive_vectors = encode_users(batch), encode_items(batch)
        columns, _ = distributed.gather_rows(positive_vectors)
        target = torch.arange(offset, offset + b, device=columns.device)
        all_ids = ids.unsqueeze(0).expand(b, -1)
        invalid = (all_ids == positives[:, None]).scatter(1, target[:, None], False)
        log_q = self.sampler.log_q(None, ids, self.n).unsqueeze(0).expand(b, -1)
        scores = query @ columns.T
        return Step(batch=batch, query=query, positive_vectors=positive_vectors, negative_vectors=None,
                    layout="prefix", ids=all_ids, scores=scores, log_q=log_q.to(scores.dtype), target=target,
                    invalid=invalid, temperature=self.temperature, loss=self.loss, encode_users=encode_users)

    def describe(self) -> dict:
        """What makes two objectives the same (a resumed run must use the same one)."""
        return {"sampler": self.sampler_name, "sampler_options": dict(self.sampler_options), "loss": self.loss,
                "n_negatives": self.n, "temperature": self.temperature,
                "addons": {a.name: dict(getattr(a, "options", {})) for a in self.addons}}

    def state_dict(self) -> dict:
        return {"sampler": self.sampler.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.sampler.load_state_dict(state["sampler"])


def check_model(model, *, sampler: str, in_batch: bool, loss: str, addons: Sequence[AddOn],
                key: str = "sampler") -> None:
    """Refuse (one line) a model — an instance or its class — that ``sampler`` (``in_batch``: the plain
    in-batch sampler) or one of ``addons`` with ``loss`` cannot train."""
    if hasattr(model, "train_scores") and not in_batch:
        raise SamplerError(f"{key}={sampler}: this model's query depends on the candidate (label-aware attention); "
                           "it trains on in-batch candidates only (sampler=in_batch)")
    for addon in addons:
        addon.check(loss=loss, sampler=sampler, model=model)
