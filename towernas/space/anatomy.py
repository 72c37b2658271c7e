"""How a tower wraps its blocks: the two anatomies of the search space, registered by name.

Every tower is ``inputs ─► align ─► [input norm] ─► blocks (each [→ norm]) ─► project(last + mean(inputs))
─► L2-normalise`` (``towernas.retrievers.two_tower.run_blocks``). The anatomies differ in the normalisation:

- ``autotower``: the paper's op set as published, no normalisation. The tokens keep the embeddings'
  scale (std ≈ 0.05), so an ``EW-ip`` of five tokens outputs ≈ 1e-6 and the tower falls back on the
  global shortcut: a dead path that the supernet still rates well (measured in issue 8).
- ``towernas`` (the default): a LayerNorm on every input token and a LayerNorm after every block
  (``skip`` excepted: it is a copy). Every token the blocks see is unit-scale, so products, sums and
  maxima stay well-scaled whatever their position, and the residual ``last + mean(inputs)`` adds two
  unit-scale terms: no block output can vanish next to the shortcut. (AutoTower's released code gets
  the same effect with Linear + BatchNorm + ReLU after every block; LayerNorm needs no batch
  statistics, so a supernet path and its exported child compute the same function, train or eval.)

Example:
    >>> ANATOMIES["towernas"].block_norm, ANATOMIES["autotower"].block_norm
    (True, False)
"""

from __future__ import annotations

from dataclasses import dataclass

from towernas.runs.registry import Registry


@dataclass(frozen=True)
class Anatomy:
    """Where a tower normalises: its input tokens, and the output of each (non-skip) block."""

    input_norm: bool
    block_norm: bool


ANATOMIES: Registry[Anatomy] = Registry("space", key="space.name")
ANATOMIES.register("towernas", Anatomy(input_norm=True, block_norm=True))
ANATOMIES.register("autotower", Anatomy(input_norm=False, block_norm=False))
DEFAULT_ANATOMY = "autotower"  # what an Arch JSON without a "space" key was built with (schema 1 files)
