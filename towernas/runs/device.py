"""``device=auto`` resolution, so the same config runs on a laptop CPU and a CUDA box.

A device that does not exist here fails at once, as a one-line ``UserError``, before a command does any
work (rather than as torch's assertion at the first tensor moved to it).
"""

from __future__ import annotations

import os

import torch

from towernas.runs.errors import UserError


def resolve_device(name: str) -> torch.device:
    """"auto" → CUDA when available, else CPU (under torchrun, ``cuda`` is ``cuda:LOCAL_RANK``); anything else
    is passed to ``torch.device`` and, for CUDA, checked against the GPUs this machine has."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and int(os.environ.get("WORLD_SIZE", "1") or 1) > 1:  # torchrun: one GPU per local rank
        name = f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise UserError(f"device={name!r}: {err}; expected auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda":
        _check_cuda(name, device.index)
    return device


def _check_cuda(name: str, index: int | None) -> None:
    """Raise a UserError unless CUDA is available and has a GPU number ``index`` (None: the current one)."""
    if not torch.cuda.is_available():
        raise UserError(f"device={name!r}: CUDA requested but not available; use device=cpu or auto")
    count = torch.cuda.device_count()
    if index is not None and index >= count:
        valid = "cuda:0" if count == 1 else f"cuda:0 to cuda:{count - 1}"
        raise UserError(f"device={name!r}: no CUDA device {index}, this machine has {count} ({valid}); "
                        "use one of them, or device=cpu or auto")
