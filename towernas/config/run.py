"""Schemas shared by every command: evaluation settings, tracking and where independent jobs run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional


@dataclass
class EvalConfig:
    ks: list[int] = field(default_factory=lambda: [10, 20, 50])
    batch_size: int = 4096
    backend: str = "auto"  # auto | faiss | torch


@dataclass
class TrackingConfig:
    wandb: bool = False
    project: str = "towernas"


@dataclass
class JobsConfig:
    """Where independent jobs (retrains of candidates × seeds) run: ``towernas.runs.jobs``. Not part of a run's
    hash: the engine changes where a job runs, not its result."""

    engine: str = "local"  # local | ray
    address: Optional[str] = None  # ray: None = start a local Ray with `workers` CPUs; auto | ray://head:10001
    workers: int = 2
    cpus_per_job: float = 1.0
    gpus_per_job: float = 0.0
