"""Schema of ``conf/supernet/*.yaml``: SPOS training of the weight-sharing supernet (its space: ``conf/space/``)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SupernetConfig:
    """Weight-sharing supernet and its SPOS training."""

    steps: int = 3000  # upper bound: training stops early when validation stops improving
    batch_size: int = 512
    lr: float = 1e-3
    temperature: float = 0.05
    checkpoint_every: int = 500
    monitor_every: int = 100  # steps between validation checks (0: no early stopping)
    patience: int = 4  # checks without improvement before stopping (0: train all steps)
    monitor_archs: int = 6  # fixed feasible architectures whose mean validation loss is monitored
    feasible_sampling: bool = True  # train only the paths the budget admits (what the search can return)
    balance: int = 1  # feasible paths drawn per step, the least-trained kept (supernet.sampler.ArchSampler); 1: uniform
    embedding_decay: float = 0.0  # L2 weight decay on the shared embedding tables
    history_dropout: float = 0.0  # drop each history item of a training example with this probability
    sampler: str = "in_batch"  # the training objective, as retrain.sampler / loss / addons (options: sampler.<name>)
    loss: str = "softmax"
    addons: list[str] = field(default_factory=list)
