"""Schemas shared by every command: evaluation settings and tracking."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class EvalConfig:
    ks: list[int] = field(default_factory=lambda: [10, 20, 50])
    batch_size: int = 4096
    backend: str = "auto"  # auto | faiss | torch


@dataclass
class TrackingConfig:
    wandb: bool = False
    project: str = "towernas"
