"""Mixed precision for the trainers (``precision=fp32|bf16|fp16|auto``): towers in low precision, losses in fp32.

What runs in low precision is what is safe there: the towers' and rankers' layers run under
``torch.autocast`` (matmuls in bf16/fp16, reductions such as norms and batch-norm statistics kept in fp32 by
autocast), and their outputs are cast back to float32 *before* any loss. The in-batch scores ``u @ v.T / tau``,
the logQ correction and the softmax therefore stay in fp32: at ``tau = 0.05`` a bf16 logit near 20 would be
rounded to a multiple of 0.125, and ``log q`` of a rare item (about -12) to a multiple of 0.06, which is
larger than the corrections being learned. Evaluation and exported vectors are always fp32.

- ``bf16`` has fp32's exponent range: no loss scaling needed. CPU autocast supports it (fast on CPUs with
  AMX/AVX512-BF16), and CUDA GPUs from Ampere on.
- ``fp16`` has a 5-bit exponent: gradients are loss-scaled (``torch.amp.GradScaler``, the step skipped and the
  scale halved on an overflow); the scaler's state is part of the supernet's checkpoint. Loss scaling cannot
  save a *forward* overflow: an activation past 65,504 is inf. Measured on the paper's space at Amazon size
  (``bench_results/precision.md``): a path with wide MLPs after element-wise products reached it at step 277
  and the loss became NaN. So fp16 is opt-in only, and a non-finite loss under it says so.
- ``auto``: bf16 on a CUDA device that supports it natively, else fp32 (never fp16, for the reason above; the
  default ``fp32`` reproduces every earlier run bit for bit).

Usage in a loop::

    precision = Precision("bf16", device)
    loss = objective(batch, precision.tower(model.encode_users), precision.tower(model.encode_items))
    value = precision.backward(loss, share, parameters)  # the global loss, unscaled
    precision.step(optimizer)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import nullcontext
from typing import Any

import torch

from towernas.runs.errors import UserError
from towernas.train import distributed

PRECISIONS = ("fp32", "bf16", "fp16", "auto")
DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_precision(name: str, device: torch.device | str) -> str:
    """``auto`` -> bf16 / fp16 / fp32 for ``device``; a bad name, or bf16 on a GPU without it, is a UserError."""
    device = torch.device(device)
    if name not in PRECISIONS:
        raise UserError(f"precision={name!r}: expected one of {', '.join(PRECISIONS)}")
    if name == "auto":
        return "bf16" if device.type == "cuda" and _cuda_bf16(device) else "fp32"
    if name == "bf16" and device.type == "cuda" and not _cuda_bf16(device):
        raise UserError(f"precision=bf16: {torch.cuda.get_device_name(device)} has no native bfloat16; "
                        "use precision=fp16 (loss-scaled) or auto")
    return name


def _cuda_bf16(device: torch.device) -> bool:
    with torch.cuda.device(device):
        return torch.cuda.is_bf16_supported(including_emulation=False)


class Precision:
    """One trainer's precision: the autocast context, the tower wrapper and the (scaled) backward and step."""

    def __init__(self, name: str = "fp32", device: torch.device | str = "cpu") -> None:
        device = torch.device(device)
        self.name = resolve_precision(name, device)
        self.device_type = device.type
        self.dtype = DTYPES[self.name]
        self.scaler = torch.amp.GradScaler(self.device_type) if self.name == "fp16" else None

    @property
    def mixed(self) -> bool:
        return self.dtype is not None

    def autocast(self):
        """The context the towers' forward runs in (a no-op at fp32)."""
        return torch.autocast(self.device_type, dtype=self.dtype) if self.mixed else nullcontext()

    def tower(self, encode: Callable[..., torch.Tensor] | None) -> Callable[..., torch.Tensor] | None:
        """``encode`` run under autocast, its output cast to float32 (``encode`` itself at fp32, or None)."""
        if not self.mixed or encode is None:
            return encode

        def low_precision(*args: Any, **kwargs: Any) -> torch.Tensor:
            with self.autocast():
                out = encode(*args, **kwargs)
            return out.float()

        return low_precision

    def backward(self, loss: torch.Tensor, share: float, parameters: Sequence[torch.nn.Parameter]) -> float:
        """``distributed.backward`` of the (loss-scaled at fp16) loss; returns the global loss, unscaled."""
        if self.scaler is None:
            return distributed.backward(loss, share, parameters)
        scale = self.scaler.get_scale()  # a power of two: dividing back is exact
        return distributed.backward(self.scaler.scale(loss), share, parameters) / scale

    def unscale(self, optimizer: torch.optim.Optimizer) -> None:
        """Bring the gradients to their true scale before anything reads them (a learned weight decay)."""
        if self.scaler is not None:
            self.scaler.unscale_(optimizer)

    def step(self, optimizer: torch.optim.Optimizer) -> None:
        """``optimizer.step()``; at fp16 skipped when a gradient overflowed, and the loss scale updated."""
        if self.scaler is None:
            optimizer.step()
            return
        self.scaler.step(optimizer)
        self.scaler.update()

    def diverged_hint(self) -> str:
        """What to add to a non-finite-loss error under this precision ("" unless fp16)."""
        return ("; under precision=fp16 an activation past 65504 overflows in the forward (loss scaling "
                "cannot help): use precision=bf16 or fp32") if self.name == "fp16" else ""

    def state_dict(self) -> dict:
        return {"name": self.name, "scaler": self.scaler.state_dict() if self.scaler is not None else None}

    def load_state_dict(self, state: dict) -> None:
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
