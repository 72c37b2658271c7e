"""``RankerArch``: one ranker architecture as block names, with a versioned JSON form (``"kind": "ranker"``).

A ranker architecture is a chain of blocks over the tokens of one (query, candidate) pair
(``towernas.rankers.arch.ArchRanker`` builds it): every pair field aligned to width D, plus, with
``history="target"``, DIN's attention-pooled history for this candidate as one more token. Block k sees those
tokens and the outputs of blocks 1..k-1 (``towernas.space.ranker_ops``: MLP, element-wise, self-attention, FM,
dot product, cross network; ``skip`` after the first position), and the logit is a Linear of the last output plus
the tokens' mean, plus the first-order terms of every field, plus, with ``pairwise``, the factorization
machine's pairwise term of the raw field embeddings: the chain is then DeepFM's deep part over an FM, and starts
as that FM (its logit Linear starts at zero). ``pairwise`` is off unless asked for, so a ranker saved before it
existed (a cascade export's hyperparameters) rebuilds as it was trained.

JSON (schema 2)::

    {"schema": 2, "kind": "ranker", "blocks": ["FM", "MLP-64", "skip"], "history": "target", "pairwise": true,
     "dims": {"embed": 16, "block": 16, "head": 8},
     "complexity": {"params": ..., "flops_per_candidate": ...},   # optional, informative
     "provenance": {"dataset": ..., "budget": ..., "fitness": ...}}  # optional

A schema-1 file (written before ``pairwise`` existed) has no such key and reads as ``pairwise: false``, the
ranker it was searched as; a reader of schema 1 refuses the key in one line.

Unknown names or keys, a wrong depth, a tower architecture or bad JSON give a one-line ``ArchError``. The same
JSON rebuilds on any dataset (the pair fields come from the dataset; the blocks do not depend on them).

Example:
    >>> a = RankerArch(("FM", "MLP-64", "skip"), history="target")
    >>> RankerArch.from_json(a.to_json()) == a, a.hyperparameters()["blocks"]
    (True, ['FM', 'MLP-64', 'skip'])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from towernas.space.arch import ArchError, ArchFile
from towernas.space.ops import SKIP
from towernas.space.ranker_ops import RANKER_BLOCK_NAMES

SCHEMA = 2
SCHEMAS = (1, 2)  # what this TowerNAS reads: 1 has no "pairwise" (false), 2 has it
KIND = "ranker"
MIN_BLOCKS, MAX_BLOCKS = 1, 7
HISTORIES = ("mean", "target")  # the history as the pair fields' mean only, or also DIN's attention per candidate
DIMS = {"embed": 16, "block": 16, "head": 8}  # the defaults: field width, block width D, attention head width
_KEYS = {"schema", "kind", "blocks", "history", "pairwise", "dims", "complexity", "provenance"}


@dataclass(frozen=True)
class RankerArch(ArchFile):
    """A ranker architecture: blocks by name, the history token, widths. ``complexity`` and ``provenance`` are
    carried for reports and take no part in equality."""

    blocks: tuple[str, ...]
    history: str = "mean"
    embed: int = DIMS["embed"]
    block: int = DIMS["block"]
    head: int = DIMS["head"]
    pairwise: bool = False
    complexity: dict[str, Any] | None = field(default=None, compare=False)
    provenance: dict[str, Any] | None = field(default=None, compare=False)
    WHERE: ClassVar[str] = "ranker arch"

    def __post_init__(self) -> None:
        object.__setattr__(self, "blocks", tuple(self.blocks))
        self.validate()

    def validate(self, where: str = "ranker arch") -> None:
        """One-line ``ArchError`` naming ``where`` and the key for anything no ranker can be built from."""
        if not MIN_BLOCKS <= len(self.blocks) <= MAX_BLOCKS:
            raise ArchError(f"{where}.blocks: {len(self.blocks)} blocks; expected {MIN_BLOCKS} to {MAX_BLOCKS}")
        for i, name in enumerate(self.blocks):
            if name not in RANKER_BLOCK_NAMES and name != SKIP:
                raise ArchError(f"{where}.blocks[{i}]={name!r}: unknown block; expected one of "
                                f"{list(RANKER_BLOCK_NAMES)} or 'skip'")
        if self.blocks[0] == SKIP:
            raise ArchError(f"{where}.blocks[0]='skip': the first position needs a block")
        if self.history not in HISTORIES:
            raise ArchError(f"{where}.history={self.history!r}: expected one of {list(HISTORIES)}")
        if not isinstance(self.pairwise, bool):
            raise ArchError(f"{where}.pairwise={self.pairwise!r}: expected true or false")
        for key in DIMS:
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ArchError(f"{where}.dims.{key}={value!r}: expected a positive integer")

    def hyperparameters(self) -> dict[str, Any]:
        """The ``arch`` ranker's constructor arguments (``ranker=arch``'s config keys) for this architecture."""
        return {"blocks": list(self.blocks), "history": self.history, **{k: getattr(self, k) for k in DIMS},
                "pairwise": self.pairwise}

    def to_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "kind": KIND, "blocks": list(self.blocks), "history": self.history,
                "pairwise": self.pairwise, "dims": {k: getattr(self, k) for k in DIMS}, **self.reports()}

    @classmethod
    def from_dict(cls, data: Any, where: str = "ranker arch") -> RankerArch:
        if not isinstance(data, dict):
            raise ArchError(f"{where}: expected a JSON object, got {type(data).__name__}")
        if data.get("kind") != KIND:
            raise ArchError(f"{where}: kind={data.get('kind')!r}; expected a ranker architecture (\"kind\": "
                            f"\"ranker\", written by python -m towernas.search task=ctr); a file without a kind "
                            "holds towers (retrain.arch=…)")
        unknown = sorted(set(data) - _KEYS)
        if unknown:
            raise ArchError(f"{where}: unknown key(s) {unknown}; expected {sorted(_KEYS)}")
        schema = data.get("schema")
        if isinstance(schema, bool) or schema not in SCHEMAS:
            raise ArchError(f"{where}.schema={schema!r}: this TowerNAS reads schema {' or '.join(map(str, SCHEMAS))}")
        if schema == 1 and "pairwise" in data:
            raise ArchError(f"{where}.pairwise: schema 1 has no such key (it reads as false); write schema 2")
        blocks = data.get("blocks")
        if not isinstance(blocks, list) or not all(isinstance(x, str) for x in blocks):
            raise ArchError(f"{where}.blocks: expected a list of block names")
        dims = data.get("dims", {})
        if not isinstance(dims, dict) or set(dims) - set(DIMS):
            raise ArchError(f"{where}.dims: expected an object with keys among {sorted(DIMS)}")
        try:
            return cls(tuple(blocks), data.get("history", "mean"), **{k: dims.get(k, v) for k, v in DIMS.items()},
                       pairwise=data.get("pairwise", False),
                       complexity=data.get("complexity"), provenance=data.get("provenance"))
        except ArchError as err:  # name the file, not the class
            raise ArchError(str(err).replace("ranker arch", where, 1)) from None
