"""Atomic, pickle-free supernet checkpoints.

A checkpoint is a dict of tensors, numbers, strings, lists and dicts (RNG states included, as numpy's
JSON-able ``bit_generator.state``), written with ``torch.save`` to a temporary file in the same
directory and moved into place with ``os.replace``: a crash leaves either the old or the new checkpoint,
never half of one. It is read back with ``torch.load(weights_only=True)``, which refuses arbitrary
pickled objects.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from towernas.runs.files import atomic_open

FILENAME = "supernet.pt"
FORMAT = 1


def checkpoint_path(directory: str | Path) -> Path:
    return Path(directory) / FILENAME


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Write ``state`` (plus the format version) to ``path`` atomically."""
    with atomic_open(path, "wb") as fh:
        torch.save({"format": FORMAT, **state}, fh)


def load_checkpoint(path: str | Path, map_location: torch.device | str = "cpu") -> dict[str, Any] | None:
    """The state saved at ``path``, or None when there is no checkpoint."""
    path = Path(path)
    if not path.exists():
        return None
    state = torch.load(path, map_location=map_location, weights_only=True)
    if state.get("format") != FORMAT:
        raise ValueError(f"{path}: checkpoint format {state.get('format')!r}; this TowerNAS reads format {FORMAT}")
    return state
