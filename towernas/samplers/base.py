"""The sampler interface: which items a retrieval loss contrasts each positive with, and their log q.

A sampler draws the negatives of one training step and says how likely each was to be drawn:

    sample(query, positives, n, encode_items=...) -> Negatives(ids, log_q)

- ``ids`` is (n,) when the pool is shared by every row of the batch (one item-tower pass for the whole
  batch, as in-batch and mixed negative sampling do), or (B, n) when each row has its own negatives.
- ``log_q`` has the shape of ``ids``: the log of the **expected number of times the item is drawn** into
  that pool (per step for a shared pool, per row for a per-row one). The sampled softmax subtracts it from
  every logit (Jean et al. 2015; Yi et al. 2019), so the loss estimates the full softmax; constants cancel.
- ``includes_positives``: the pool's first B ids are the batch's own positives (row i's positive is
  pool column i), as for in-batch negatives.

``log_q(query, ids, n)`` gives the same quantity for any ids (the positives' own column), ``observe`` sees
every batch's positives before ``sample`` (streaming counts), ``fit`` sees the train counts once.
Randomness comes from the sampler's own ``torch.Generator`` (``seed``), so a seed fixes every draw, and
its state is part of ``state_dict`` for resuming.

The loss masks accidental hits (a row's own positive among its candidates) for every sampler;
``masks_positives = True`` says a sampler never even returns them (dns), so every one of its n negatives
counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import torch

from towernas.data.train_stats import TrainStats
from towernas.runs.errors import UserError
from towernas.runs.registry import Registry

ItemEncoder = Callable[[torch.Tensor], torch.Tensor]  # (m,) item ids -> (m, D) item vectors


class SamplerError(UserError):
    """A sampler that cannot run as configured (one line naming the key and what was expected)."""


@dataclass
class Negatives:
    """One step's negatives: ids (n,) shared or (B, n) per row, and their log q (same shape)."""

    ids: torch.Tensor
    log_q: torch.Tensor
    includes_positives: bool = False

    @property
    def shared(self) -> bool:
        return self.ids.dim() == 1


class Sampler:
    """Base class: no-op defaults for the hooks; subclasses implement ``sample`` and ``log_q``."""

    needs_encoder = False  # sample() scores items with the current model (hard / cluster samplers)
    masks_positives = False  # a row's own positive never appears among that row's negatives

    def __init__(self, seed: int = 0, device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(int(seed))
        self.n_items = 0

    def fit(self, stats: TrainStats) -> None:
        """See the train split's counts once, before training."""
        self.n_items = stats.n_items

    def observe(self, positives: torch.Tensor) -> None:
        """See one step's positives (B,), before ``sample`` is called for that step."""

    def sample(self, query: torch.Tensor, positives: torch.Tensor, n: int, *,
               encode_items: Optional[ItemEncoder] = None) -> Negatives:
        raise NotImplementedError

    def log_q(self, query: torch.Tensor, ids: torch.Tensor, n: int) -> torch.Tensor:
        """log q of ``ids`` ((B,) or (B, m), row b for query b) under the proposal of a pool of ``n`` draws."""
        raise NotImplementedError

    def _uniform_ids(self, shape: tuple[int, ...]) -> torch.Tensor:
        return torch.randint(0, self.n_items, shape, generator=self.generator, device=self.device)

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])


SAMPLERS: Registry[type[Sampler]] = Registry("sampler", key="sampler", error=SamplerError)


def build_sampler(name: str, *, seed: int = 0, device: torch.device | str = "cpu", key: str = "sampler",
                  **options) -> Sampler:
    """The sampler registered as ``name`` with its options (an unknown name or option: one line)."""
    SAMPLERS.get(name, key=key)
    return SAMPLERS.build(name, seed=seed, device=device, **options)
