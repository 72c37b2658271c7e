"""Exact complexity (params, FLOPs) of TowerNAS towers.

Definition (what every number in a report, a budget or an Arch JSON means):

- **params**: trainable parameters of one tower: history pooling (user tower), input alignment,
  blocks, global shortcut and output projection. Embedding tables (ids and side fields) are excluded.
- **FLOPs**: cost of ONE forward of one user (resp. one item): batch size 1, and for the user tower a
  full history of ``max_len`` valid items (mask all True). Embedding lookups, multi-valued field
  pooling and the mask comparison happen in the embedder and are excluded. Inside a tower:

  * matmul-like ops (linear/addmm/mm/bmm/matmul) count multiply-accumulates: a Linear(in, out) on
    t tokens is ``t * in * out``; its bias add is not counted separately; ``A @ B`` with
    A (.., m, k), B (.., k, p) is ``batch * m * k * p``;
  * every other computing op counts ONE per element of its floating-point output: element-wise
    (add, sub, mul, div, relu, tanh, masked_fill, clamp/clamp_min, nan_to_num, ...), softmax, and
    reductions (sum, mean, prod, amax, amin, vector norm) — a reduction of n tokens of width D
    counts D, whatever n;
  * free: data movement and bookkeeping (view/reshape/flatten, permute/transpose, cat/stack,
    expand, select/slice/chunk, (un)squeeze, clone/contiguous, dtype conversion ``to``), and boolean
    mask logic (``~mask``, comparisons): ops whose output is not floating point; sorting (comparisons).

  So ``F.normalize`` of an O-vector costs O + 2 (norm 1, clamp_min 1, div O) and the masked mean of
  (L, W) costs L*W + 2W + 2. The closed forms per op are in ``towernas.complexity.formulas``; the
  mechanical counters in ``towernas.complexity.counting`` apply this rule to real forward passes and
  the tests assert exact equality.

Example:
    >>> from towernas.complexity import CostModel, synthetic_spec
    >>> from towernas.space import Arch
    >>> model = CostModel(synthetic_spec())
    >>> arch = Arch("avg", ("MLP-64", "EW-sum", "SA-1", "EW-max", "EW-ip"), ("MLP-32",) + ("EW-avg",) * 4)
    >>> model.cost(arch).to_dict()["item"]
    {'params': 17664, 'flops': 17698}
"""

from towernas.runs.lazy import lazy_exports

# Exported names, imported on first use: the search space registers each op's cost formula next to its
# factory (``towernas.space.ops``) using ``complexity.formulas``, while ``complexity.model`` tabulates those
# ops, so importing the whole package eagerly from either side would be circular.
_EXPORTS = {
    "OpCount": "counting", "UnclassifiedOpError": "counting", "count_ops": "counting",
    "count_ops_torchprofile": "counting", "OpCost": "formulas", "TowerCost": "formulas", "CostModel": "model",
    "admitted_fraction": "model", "random_blocks": "model",
    "synthetic_spec": "model", "Budget": "budgets", "BudgetError": "budgets", "tower_cost": "towers",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
