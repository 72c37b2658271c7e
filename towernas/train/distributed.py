"""Data-parallel training on PyTorch's own engine: ``torchrun --nproc_per_node=N -m towernas.<command> …``.

Under ``torchrun`` (``WORLD_SIZE`` > 1 in the environment) every command joins one process group — gloo on
CPU, nccl on CUDA (each rank on ``cuda:LOCAL_RANK``) — and then:

- **rows are sharded**: every rank draws the same global batch of ``batch_size`` rows from the same seeded
  order and keeps its contiguous share (``shard``), so N ranks see exactly the rows one process would;
- **in-batch negatives are global**: the item vectors of all shards are gathered with their gradient
  (``gather_rows``), each rank scores its queries against the whole global batch, and the logQ estimator
  counts the global batch's items on every rank (so its state is the same everywhere);
- **gradients are all-reduced** (``all_reduce_gradients``, one flat buffer): each rank's loss is its rows'
  share of the global mean, so the summed gradient is the one-process gradient of the same global batch;
- **the same architecture** is sampled on every rank at each supernet step (same seed, same stream), and
  the evolution runs identically on every rank with its new genomes' fitness split across ranks
  (``map_split``);
- **only rank 0 writes** run files (``towernas.runs.files.writes_files``): checkpoints, logs, evolution
  state, results; the others keep what they need in memory.

A rank that dies takes the job down: gloo/nccl raise in the surviving ranks' next collective and torchrun
reports the failed rank, exit code and traceback; every run file is written atomically, so what is on disk is
the last complete state, and rerunning the same command resumes from it. Outside torchrun everything here is
a no-op (world size 1).
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.distributed as dist

from towernas.runs.errors import UserError
from towernas.runs.files import main_first, writes_files  # noqa: F401  (part of this module's API)

TIMEOUT = datetime.timedelta(minutes=int(os.environ.get("TOWERNAS_DIST_TIMEOUT_MIN", "30")))


@dataclass(frozen=True)
class World:
    """This process's place in the job."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def active(self) -> bool:
        return self.size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def describe(self) -> dict:
        return {"world_size": self.size, "backend": self.backend}


def world() -> World:
    """The current job (world size 1 when no process group is initialised)."""
    if not (dist.is_available() and dist.is_initialized()):
        return World()
    return World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)), dist.get_backend())


def launched_size() -> int:
    """``WORLD_SIZE`` set by torchrun (1 when not launched by it)."""
    value = os.environ.get("WORLD_SIZE", "1")
    try:
        return int(value)
    except ValueError:
        raise UserError(f"WORLD_SIZE={value!r}: expected an integer (set by torchrun)") from None


def setup(device: torch.device) -> tuple[World, torch.device]:
    """Join torchrun's process group (once) and return the world and this rank's device.

    ``device`` is the resolved ``device=`` setting: CUDA gives nccl and ``cuda:LOCAL_RANK``; CPU gives gloo.
    """
    if launched_size() <= 1:
        return world(), device
    cuda = device.type == "cuda"
    if not dist.is_initialized():
        local = int(os.environ.get("LOCAL_RANK", 0))
        if cuda:
            if local >= torch.cuda.device_count():
                raise UserError(f"LOCAL_RANK={local}: this machine has {torch.cuda.device_count()} GPU(s); "
                                "use --nproc_per_node at most that")
            torch.cuda.set_device(local)
        dist.init_process_group("nccl" if cuda else "gloo", timeout=TIMEOUT)
    here = world()
    return here, torch.device("cuda", here.local_rank) if cuda else device


def shard(rows: np.ndarray | torch.Tensor, w: World | None = None):
    """This rank's contiguous share of a global batch (sizes differ by at most one row)."""
    w = w or world()
    if not w.active:
        return rows
    n = len(rows)
    return rows[w.rank * n // w.size : (w.rank + 1) * n // w.size]


def place(n_global: int, w: World | None = None) -> tuple[int, int]:
    """``(offset, n_global)``: where this rank's ``shard`` sits in a global batch of ``n_global`` rows (what
    ``towernas.data.batches.drop_history`` takes as ``within``, so a shard draws the global batch's masks)."""
    return share(n_global, w)[0], n_global


def share(n_global: int, w: World | None = None) -> tuple[int, int]:
    """``(offset, size)`` of this rank's rows in a global batch of ``n_global`` (as ``shard`` cuts it)."""
    w = w or world()
    start = w.rank * n_global // w.size
    return start, (w.rank + 1) * n_global // w.size - start


def _all_gather(x: torch.Tensor, sizes: tuple[int, ...]) -> torch.Tensor:
    """All ranks' (b_r, …) rows of ``x`` concatenated in rank order (padded to the largest share to gather)."""
    padded = x.new_zeros((max(sizes), *x.shape[1:]))
    padded[: len(x)] = x
    parts = [torch.empty_like(padded) for _ in sizes]
    dist.all_gather(parts, padded)
    return torch.cat([p[:s] for p, s in zip(parts, sizes)])


class _GatherRows(torch.autograd.Function):
    """``_all_gather`` with a gradient: the backward returns to each rank the summed gradient of its own rows
    (every rank's loss uses every rank's rows)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, sizes: tuple[int, ...], rank: int) -> torch.Tensor:
        ctx.sizes, ctx.rank = sizes, rank
        return _all_gather(x, sizes)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        grad = grad.contiguous()
        dist.all_reduce(grad)
        start = sum(ctx.sizes[: ctx.rank])
        return grad[start : start + ctx.sizes[ctx.rank]], None, None


def gather_rows(x: torch.Tensor) -> tuple[torch.Tensor, int]:
    """``(all ranks' rows of x in rank order, offset of this rank's rows)``; differentiable for float ``x``.
    Identity (offset 0) outside a distributed job."""
    w = world()
    if not w.active:
        return x, 0
    sizes = tuple(int(s) for s in all_gather_object(len(x)))
    offset = sum(sizes[: w.rank])
    if x.is_floating_point() and x.requires_grad:
        return _GatherRows.apply(x, sizes, w.rank), offset
    return _all_gather(x.detach(), sizes), offset


def all_reduce_gradients(parameters: Sequence[torch.nn.Parameter], *values: float) -> list[float]:
    """Sum every parameter's gradient over ranks, in one flat buffer that also carries ``values`` (e.g. the
    step's loss share, for the log); returns their sums. Parameters without a gradient are skipped: every rank
    trains the same path, so the same ones have gradients everywhere. Outside a job: ``values`` unchanged."""
    w = world()
    if not w.active:
        return [float(v) for v in values]
    grads = [p.grad for p in parameters if p.grad is not None]
    device = grads[0].device if grads else torch.device("cuda" if w.backend == "nccl" else "cpu")
    extra = torch.tensor([float(v) for v in values], dtype=grads[0].dtype if grads else torch.float32,
                         device=device)
    flat = torch.cat([*(g.reshape(-1) for g in grads), extra])
    dist.all_reduce(flat)
    start = 0
    for g in grads:
        g.copy_(flat[start : start + g.numel()].view_as(g))
        start += g.numel()
    return flat[start:].tolist()


def backward(loss: torch.Tensor, share: float, parameters: Sequence[torch.nn.Parameter]) -> float:
    """Back-propagate one step's loss and return the global loss. Alone: ``loss.backward()``, ``loss.item()``.
    In a job: ``loss`` is the mean over this rank's rows and ``share`` their part of the global batch; the
    gradients end up summed over ranks (``all_reduce_gradients``), i.e. those of the global mean, on every rank."""
    if not world().active:
        loss.backward()
        return loss.item()
    (loss * share).backward()
    return all_reduce_gradients(parameters, loss.item() * share)[0]


def broadcast_parameters(module: torch.nn.Module) -> None:
    """Make every rank start from rank 0's weights (and buffers)."""
    if not world().active:
        return
    for tensor in [*module.parameters(), *module.buffers()]:
        dist.broadcast(tensor.data, src=0)


def all_gather_object(obj: Any) -> list[Any]:
    """Every rank's ``obj``, in rank order."""
    w = world()
    if not w.active:
        return [obj]
    out: list[Any] = [None] * w.size
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj: Any) -> Any:
    """Rank 0's ``obj`` on every rank."""
    if not world().active:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def map_split(fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
    """``[fn(x) for x in items]`` with the items dealt round-robin to ranks and the results merged in order
    (every rank returns the whole list). A plain loop outside a distributed job."""
    w = world()
    if not w.active:
        return [fn(x) for x in items]
    mine = [fn(x) for x in items[w.rank :: w.size]]
    parts = all_gather_object(mine)
    return [parts[i % w.size][i // w.size] for i in range(len(items))]


def barrier() -> None:
    if world().active:
        dist.barrier()


def cleanup() -> None:
    """Leave the process group (end of a command)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
