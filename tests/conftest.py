"""Test-wide settings: one torch thread per xdist worker (no oversubscription), wandb off, no network."""

import os

os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("TOWERNAS_OFFLINE", "1")

import torch  # noqa: E402

torch.set_num_threads(1)
