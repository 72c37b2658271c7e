"""``device=auto`` resolution, so the same config runs on a laptop CPU and a CUDA box."""

from __future__ import annotations

import torch


def resolve_device(name: str) -> torch.device:
    """"auto" → CUDA when available, else CPU; anything else is passed to ``torch.device``."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(name)
    except RuntimeError as err:
        raise ValueError(f"device={name!r}: {err}; expected auto, cpu, cuda or cuda:N") from None
