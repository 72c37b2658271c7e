"""Mechanical op counters: the independent check of the analytic tables, and a way to cost any
module built outside the search space (baselines).

Both counters apply the same rule (see ``towernas.complexity``) to a real forward pass:

- ``count_ops``: ``torch.utils.flop_counter.FlopCounterMode`` for matmul-like ops (it reports
  2 * MACs; we halve it), plus ``OpRecorder``, a ``TorchDispatchMode`` that sees every aten op and
  records its output size for the computing ops.
- ``count_ops_torchprofile``: ``torchprofile.profile_macs`` (``torch.jit.trace`` graph) with its
  handler table swapped, for the duration of the call, for one built from ours: torchprofile's own
  handlers for matmul-like ops, one-per-output-element for computing ops, ``None`` (free) for data
  movement. An op in none of the sets makes torchprofile warn "No handlers found", turned into an error.

Ops are classified by name in ``MATMUL_OPS`` / ``COMPUTING_OPS`` / ``FREE_OPS``; an op in none of
them raises ``UnclassifiedOpError`` so a new op in a module can never be silently counted as zero.

Example:
    >>> import torch
    >>> count_ops(torch.nn.Linear(8, 4), torch.randn(1, 8))
    OpCount(macs=32, elementwise=0)
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Callable
from unittest import mock

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

# One MAC per multiply-accumulate (bias adds folded in). Dispatch-level and jit-level spellings.
MATMUL_OPS = frozenset({"mm", "addmm", "bmm", "baddbmm", "matmul", "linear", "mv", "addmv", "dot"})
# One FLOP per floating-point output element.
COMPUTING_OPS = frozenset({
    "add", "sub", "mul", "div", "neg", "relu", "tanh", "sigmoid", "exp", "sqrt", "rsqrt", "maximum",
    "minimum", "masked_fill", "clamp", "clamp_min", "clamp_max", "nan_to_num", "softmax", "_softmax",
    "sum", "mean", "prod", "amax", "amin", "linalg_vector_norm", "norm", "where", "log1p", "scatter_add_",
    "scatter_add", "searchsorted", "rsub",
})
# Free: data movement, dtype conversion, shape bookkeeping, boolean mask logic, table lookups (a ranker
# reads its embeddings inside forward; a tower is handed them), sorting (comparisons, no arithmetic: a fused
# ranker's retriever rank), and export's shape checks (a served program).
FREE_OPS = frozenset({
    "embedding", "index",
    "view", "_unsafe_view", "reshape", "_reshape_alias", "flatten", "t", "transpose", "permute",
    "expand", "expand_as", "select", "slice", "split", "split_with_sizes", "chunk", "unbind",
    "unsqueeze", "squeeze", "cat", "stack", "clone", "contiguous", "_to_copy", "to", "copy_", "detach",
    "alias", "lift_fresh", "size", "int", "numtotensor", "bitwise_not", "logical_not", "eq", "ne",
    "gt", "lt", "ge", "le", "constant", "listconstruct", "listunpack", "tupleconstruct",
    "bitwise_and", "logical_and", "scalar_tensor", "zeros", "zeros_like", "ones_like", "full", "new_zeros", "gather",
    "fill_", "detach_", "_local_scalar_dense", "item", "_assert_tensor_metadata", "sort",
})
_FLOATING_JIT = frozenset({"float", "double", "half", "bfloat16"})


class UnclassifiedOpError(RuntimeError):
    """An op the complexity rule does not classify (add it to one of the op sets, deliberately)."""


@dataclass
class OpCount:
    """A mechanical count: MACs of matmul-like ops, outputs of computing ops, and FLOPs per op name."""

    macs: int = 0
    elementwise: int = 0
    per_op: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    @property
    def flops(self) -> int:
        return self.macs + self.elementwise

    def add(self, op: str, n: int, matmul: bool) -> None:
        if matmul:
            self.macs += n
        else:
            self.elementwise += n
        self.per_op[op] = self.per_op.get(op, 0) + n


def _short(name: str) -> str:
    """"aten::addmm", "aten::sum.dim_IntList", "aten.addmm", "prim::Constant" -> "addmm", "sum", ..."""
    if "::" in name:
        name = name.split("::", 1)[1]
    elif "." in name:
        name = name.split(".")[1]
    return name.split(".")[0].lower()


def _classify(name: str) -> str:
    short = _short(name)
    for kind, ops in (("matmul", MATMUL_OPS), ("computing", COMPUTING_OPS), ("free", FREE_OPS)):
        if short in ops:
            return kind
    raise UnclassifiedOpError(f"op {name!r} is not classified as matmul, computing or free")


class OpRecorder(TorchDispatchMode):
    """Records every aten op run inside it: element-wise counts for computing ops, matmul op names."""

    def __init__(self) -> None:
        super().__init__()
        self.count = OpCount()
        self.matmuls: set = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        kind = _classify(func.name())
        if kind == "matmul":
            self.matmuls.add(func._overloadpacket)
        elif kind == "computing" and isinstance(out, torch.Tensor) and out.is_floating_point():
            self.count.add(_short(func.name()), out.numel(), matmul=False)
        return out


def count_ops(module: nn.Module | Callable, *inputs: Any) -> OpCount:
    """Count ``module(*inputs)`` at the dispatch level (FlopCounterMode + ``OpRecorder``)."""
    with torch.no_grad(), FlopCounterMode(display=False) as flops, OpRecorder() as recorder:
        module(*inputs)  # the recorder was entered last: it sees ops before FlopCounterMode does
    count = recorder.count
    for packet, n in flops.get_flop_counts().get("Global", {}).items():
        if _classify(str(packet)) != "matmul" or n % 2:
            raise UnclassifiedOpError(f"FlopCounterMode counted {packet} ({n}), not a matmul-like op")
        count.add(_short(str(packet)), n // 2, matmul=True)
    missing = [p for p in recorder.matmuls if p not in flops.flop_registry]
    if missing:
        raise UnclassifiedOpError(f"matmul-like ops without a FlopCounterMode formula: {missing}")
    return count


def _elementwise_handler(node) -> int:
    out = node.outputs[0]
    if out.dtype not in _FLOATING_JIT:
        return 0
    total = 1
    for size in out.shape:
        total *= size
    return total


def count_ops_torchprofile(module: nn.Module, *inputs: Any) -> OpCount:
    """Count ``module(*inputs)`` with ``torchprofile.profile_macs`` on a swapped handler table."""
    from torchprofile import handlers, profile_macs

    table: dict[str, Any] = {}
    for op, handler in handlers.HANDLER_MAP.items():
        if _short(op) in MATMUL_OPS and handler is not None:
            table[op] = handler  # torchprofile's own MAC formulas
    table.update({f"aten::{op}": _elementwise_handler for op in COMPUTING_OPS})
    table.update({f"aten::{op}": None for op in FREE_OPS})
    table.update({f"prim::{op}": None for op in FREE_OPS})
    with mock.patch.dict(handlers.HANDLER_MAP, table, clear=True), warnings.catch_warnings():
        warnings.filterwarnings("error", message="No handlers found")
        try:
            per_node = profile_macs(module, inputs, reduction=None)
        except UserWarning as err:
            raise UnclassifiedOpError(f"torchprofile: {err}") from None
    count = OpCount()
    for node, n in per_node.items():
        if n:
            count.add(_short(node.operator), int(n), matmul=_short(node.operator) in MATMUL_OPS)
    return count
