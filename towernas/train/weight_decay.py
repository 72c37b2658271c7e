"""Weight decay learned on validation by a one-step hypergradient (RecStudio's "learned weight decay", after
λOpt, Chen et al. 2019), as an alternative to tuning it with a sweeper.

The optimiser is AdamW, whose decay is decoupled: one step is ``θ' = θ (1 - η λ) - η u(g)`` with ``u`` Adam's
update of the training gradient ``g``. So ``∂θ'/∂λ = -η θ`` exactly, and the derivative of the validation loss
after the step with respect to λ is

    ∂L_val(θ') / ∂λ = -η ⟨∇L_val(θ'), θ⟩.

Every ``every`` steps :class:`HypergradientWeightDecay` draws one batch of validation rows, computes that
hypergradient (one extra forward and backward pass, no second-order terms: the greedy one-step horizon) and
takes an Adam step on log λ (so λ stays positive and its step is scale-free), then writes λ into the
optimiser's parameter groups. The validation loss is the in-batch softmax at the training temperature with a
logQ correction from training popularity (a random validation batch samples its items by that popularity).

Validation is thus read by training as well as by model selection (RecStudio does the same); test never is.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from towernas.data.batches import training_batch
from towernas.data.interactions import InteractionData
from towernas.losses.retrieval import in_batch_softmax_scores

MIN_DECAY, MAX_DECAY = 1e-8, 1.0  # log λ is clamped into this range


class HypergradientWeightDecay:
    """Adjusts the ``weight_decay`` of an AdamW ``optimizer`` training ``model`` to lower the validation loss.

    Call :meth:`before_step` right before ``optimizer.step()`` and :meth:`after_step` right after it.
    ``history`` holds ``(step, λ)`` after each update.
    """

    def __init__(self, model, optimizer: torch.optim.AdamW, data: InteractionData, *, initial: float,
                 temperature: float, batch_size: int, every: int = 10, lr: float = 0.05, seed: int = 0,
                 device="cpu") -> None:
        if not isinstance(optimizer, torch.optim.AdamW):
            raise TypeError("a learned weight decay needs AdamW (decoupled decay): the hypergradient assumes it")
        if not MIN_DECAY <= initial <= MAX_DECAY:
            raise ValueError(f"initial weight decay {initial}: expected a value in [{MIN_DECAY}, {MAX_DECAY}]")
        if every < 1:
            raise ValueError(f"every={every}: expected a positive integer")
        self.model, self.optimizer, self.data, self.device = model, optimizer, data, device
        self.temperature, self.batch_size, self.every = temperature, batch_size, every
        self.params = [p for group in optimizer.param_groups for p in group["params"] if p.requires_grad]
        self.log_decay = torch.tensor(math.log(initial), dtype=torch.float64, requires_grad=True)
        self.meta = torch.optim.Adam([self.log_decay], lr=lr)
        self.rng = np.random.default_rng([seed, 0x5EED])
        self.valid_rows = data.rows("valid")
        if len(self.valid_rows) < 2:
            raise ValueError("a learned weight decay needs at least 2 validation interactions")
        counts = torch.as_tensor(np.asarray(data.item_popularity("train"), dtype=np.float64)) + 1.0
        self.log_q = torch.log(counts / counts.sum()).float().to(device)
        self.steps, self.snapshot, self.history = 0, None, []
        self._write()

    @property
    def decay(self) -> float:
        return float(self.log_decay.detach().exp())

    def _write(self) -> None:
        for group in self.optimizer.param_groups:
            group["weight_decay"] = self.decay

    def before_step(self) -> None:
        """Keep θ when this step is followed by an update of λ."""
        self.snapshot = [p.detach().clone() for p in self.params] if self.steps % self.every == 0 else None

    def validation_loss(self) -> torch.Tensor:
        rows = self.rng.choice(self.valid_rows, size=min(self.batch_size, len(self.valid_rows)), replace=False)
        batch = training_batch(self.data, np.sort(rows), self.device)
        scores_fn = getattr(self.model, "train_scores", None)
        scores = (scores_fn(batch) if scores_fn is not None
                  else self.model.encode_users(batch) @ self.model.encode_items(batch).T)
        return in_batch_softmax_scores(scores, batch["item"], temperature=self.temperature,
                                       log_q=self.log_q[batch["item"]])

    def hypergradient(self) -> float:
        """∂L_val(θ')/∂λ for the step just taken from the kept θ to the current θ'."""
        was_training = self.model.training
        self.model.eval()
        try:
            loss = self.validation_loss()
            grads = torch.autograd.grad(loss, self.params, allow_unused=True)
        finally:
            self.model.train(was_training)
        lr = self.optimizer.param_groups[0]["lr"]
        inner = sum(float((g.double() * p.double()).sum()) for g, p in zip(grads, self.snapshot) if g is not None)
        return -lr * inner

    def after_step(self) -> None:
        if self.snapshot is not None:
            h = self.hypergradient()
            self.meta.zero_grad()
            self.log_decay.grad = torch.tensor(h * self.decay, dtype=torch.float64)  # chain rule through exp
            self.meta.step()
            with torch.no_grad():
                self.log_decay.clamp_(math.log(MIN_DECAY), math.log(MAX_DECAY))
            self._write()
            self.history.append((self.steps, self.decay))
            self.snapshot = None
        self.steps += 1
