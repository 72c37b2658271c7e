"""Training any two-tower model with in-batch softmax + logQ correction on the train split."""

from __future__ import annotations

import numpy as np
import torch
from tqdm.auto import tqdm

from towernas.batches import iterate_rows, training_batch
from towernas.data.interactions import InteractionData
from towernas.losses import in_batch_softmax


def train_two_tower(model, data: InteractionData, *, epochs: int = 5, batch_size: int = 512, lr: float = 1e-3,
                    temperature: float = 0.05, seed: int = 0, device="cpu", progress: bool = True) -> list[float]:
    """Train ``model`` in place; return the mean loss of each epoch.

    logQ uses the train-split item frequencies (exact sampling probabilities of a uniform pass over the
    train rows); the streaming estimator of Yi et al. serves the supernet, where the stream is unbounded.
    """
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    rows = data.rows("train")
    counts = np.bincount(data.items[rows], minlength=data.n_items)
    log_p = torch.as_tensor(np.log(np.maximum(counts, 1) / len(rows)), dtype=torch.float32, device=device)
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for epoch in range(epochs):
        model.train()
        total, n = 0.0, 0
        batches = iterate_rows(rows, batch_size, rng)
        n_batches = (len(rows) + batch_size - 1) // batch_size
        for batch_rows in tqdm(batches, total=n_batches, desc=f"epoch {epoch + 1}/{epochs}", disable=not progress):
            batch = training_batch(data, batch_rows, device)
            loss = in_batch_softmax(model.encode_users(batch), model.encode_items(batch), batch["item"],
                                    temperature=temperature, log_q=log_p[batch["item"]])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch_rows)
            n += len(batch_rows)
        losses.append(total / max(n, 1))
    return losses
