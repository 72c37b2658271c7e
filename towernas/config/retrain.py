"""Schema of ``conf/retrain/*.yaml``: retraining architectures and baselines from scratch."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional


@dataclass
class RetrainConfig:
    """Retraining architectures (and human baselines) from scratch, selected on validation."""

    archs: list[str] = field(default_factory=list)  # Arch JSON paths; empty: top_k of the latest search run
    search_dir: Optional[str] = None  # a search run directory; None: the latest for this dataset and budget
    top_k: int = 3
    baselines: list[str] = field(default_factory=list)  # in budget: google_dnn, senet, bst, mind; or <name>_paper
    seeds: list[int] = field(default_factory=lambda: [0])
    max_epochs: int = 30
    patience: int = 5
    batch_size: int = 512
    lr: float = 0.002
    temperature: float = 0.2
    weight_decay: float = 0.0  # > 0: AdamW's decoupled decay on every parameter (0: Adam, no decay)
    learn_weight_decay: bool = False  # learn it on validation by hypergradient, from weight_decay (train/weight_decay.py)
    decay_every: int = 10  # steps between two hypergradient updates of the decay
    decay_lr: float = 0.05  # Adam's step size on log(weight decay)
    history_dropout: float = 0.2  # drop each history item of a training example with this probability
    sampler: str = "in_batch"  # in_batch | uniform | popularity | mixed | dns | cluster (options: sampler.<name>)
    loss: str = "softmax"  # softmax (with the sampler's logQ) | infonce | bpr | bce
    addons: list[str] = field(default_factory=list)  # e.g. [pda], [ips, cl4srec] (options: addon.<name>)
    select: str = "recall@50"  # validation metric for early stopping / model selection
    sizing_epochs: int = 10  # in-budget baselines: schedule of each grid size's trial (first seed, validation)
    sizing_patience: int = 2
    export: bool = True  # export the best model (by validation) as a retriever artifact
    index: str = "flat"  # faiss index of the artifact: flat (exact) | ivf | hnsw
