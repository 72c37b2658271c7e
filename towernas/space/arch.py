"""``Arch``: one two-tower architecture as op names, with a versioned JSON form.

JSON (schema 1)::

    {"schema": 1, "space": "towernas", "pooling": "recency", "user": ["SA-1", "EW-ip", ...],
     "item": ["MLP-256", ...], "dims": {"embed": 64, "block": 64, "out": 64, "head": 16, "attn": 16, "recent": 1},
     "complexity": {"user": {"params": ..., "flops": ...}, "item": {...}},   # optional, informative
     "provenance": {"dataset": ..., "budget": ..., "seed": ..., "fitness": ..., ...}}  # optional

``space`` names the tower anatomy (``towernas.space.anatomy``); files written before it existed have no
``space`` key and are read as ``autotower``, the anatomy they were built with. Op names only (never indices). Unknown names or keys, a wrong depth or bad JSON give a one-line
``ArchError``. The same JSON rebuilds on any dataset.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from towernas.runs.errors import UserError
from towernas.runs.files import atomic_open
from towernas.space.anatomy import ANATOMIES, DEFAULT_ANATOMY
from towernas.space.dims import Dims
from towernas.space.ops import BLOCK_NAMES, SKIP
from towernas.space.poolings import POOLING_NAMES

SCHEMA = 1
MIN_DEPTH, MAX_DEPTH = 3, 7
_KEYS = {"schema", "space", "pooling", "user", "item", "dims", "complexity", "provenance"}


class ArchError(UserError):
    """An invalid architecture or architecture file (one-line message)."""


class ArchFile:
    """What both kinds of architecture file share (``Arch``; ``towernas.space.ranker_arch.RankerArch``): the
    optional ``complexity`` / ``provenance`` reports, JSON text, an atomic save, and reading with one-line
    errors. A subclass defines ``to_dict``, ``from_dict(data, where)`` and ``WHERE`` (its name in errors)."""

    WHERE = "arch"

    def reports(self) -> dict[str, Any]:
        """The reports carried along, when set."""
        return {k: getattr(self, k) for k in ("complexity", "provenance") if getattr(self, k) is not None}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_json(cls, text: str, where: str | None = None):
        return cls.from_dict(parse_json(text, where or cls.WHERE), where or cls.WHERE)

    @classmethod
    def load(cls, path: str | Path):
        return cls.from_dict(read_json(path), str(path))

    def save(self, path: str | Path) -> None:
        """Write the JSON atomically (temp file + rename)."""
        with atomic_open(path) as fh:
            fh.write(self.to_json() + "\n")


@dataclass(frozen=True)
class Arch(ArchFile):
    """A two-tower architecture: history pooling + user blocks + item blocks, by name.

    ``complexity`` and ``provenance`` are carried along for reports; they do not take part in
    equality or hashing (two Archs with the same ops and dims are the same architecture).

    Example:
        >>> a = Arch("avg", ("MLP-64", "EW-sum", "SA-1"), ("MLP-32", "EW-max", "EW-avg"))
        >>> Arch.from_json(a.to_json()) == a
        True
    """

    pooling: str
    user: tuple[str, ...]
    item: tuple[str, ...]
    dims: Dims = field(default_factory=Dims)
    complexity: dict[str, Any] | None = field(default=None, compare=False)
    provenance: dict[str, Any] | None = field(default=None, compare=False)
    space: str = DEFAULT_ANATOMY  # the tower anatomy (towernas.space.anatomy)

    def __post_init__(self) -> None:
        object.__setattr__(self, "user", tuple(self.user))
        object.__setattr__(self, "item", tuple(self.item))
        self.validate()

    def validate(self, where: str = "arch") -> None:
        if self.space not in ANATOMIES.names():
            raise ArchError(f"{where}.space={self.space!r}: unknown space; expected one of {list(ANATOMIES.names())}")
        if self.pooling not in POOLING_NAMES:
            raise ArchError(f"{where}.pooling={self.pooling!r}: unknown pooling; expected one of {list(POOLING_NAMES)}")
        for side in ("user", "item"):
            blocks = getattr(self, side)
            if not MIN_DEPTH <= len(blocks) <= MAX_DEPTH:
                raise ArchError(f"{where}.{side}: {len(blocks)} blocks; expected {MIN_DEPTH} to {MAX_DEPTH}")
            for i, name in enumerate(blocks):
                if name not in BLOCK_NAMES and name != SKIP:
                    raise ArchError(f"{where}.{side}[{i}]={name!r}: unknown block; expected one of {list(BLOCK_NAMES)}")
            if blocks and blocks[0] == SKIP:
                raise ArchError(f"{where}.{side}[0]='skip': the first position needs a block")

    def to_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "space": self.space, "pooling": self.pooling, "user": list(self.user),
                "item": list(self.item), "dims": self.dims.to_dict(), **self.reports()}

    @classmethod
    def from_dict(cls, data: Any, where: str = "arch") -> "Arch":
        if not isinstance(data, dict):
            raise ArchError(f"{where}: expected a JSON object, got {type(data).__name__}")
        unknown = sorted(set(data) - _KEYS)
        if unknown:
            raise ArchError(f"{where}: unknown key(s) {unknown}; expected {sorted(_KEYS)}")
        missing = sorted({"schema", "pooling", "user", "item"} - set(data))
        if missing:
            raise ArchError(f"{where}: missing key(s) {missing}")
        if data["schema"] != SCHEMA:
            raise ArchError(f"{where}.schema={data['schema']!r}: this TowerNAS reads schema {SCHEMA}")
        for side in ("user", "item"):
            if not isinstance(data[side], list) or not all(isinstance(x, str) for x in data[side]):
                raise ArchError(f"{where}.{side}: expected a list of block names")
        try:
            dims = Dims.from_dict(data.get("dims", {}), f"{where}.dims")
        except ValueError as err:
            raise ArchError(str(err)) from None
        return cls(data["pooling"], tuple(data["user"]), tuple(data["item"]), dims,
                   data.get("complexity"), data.get("provenance"), data.get("space", DEFAULT_ANATOMY))

    def with_info(self, complexity: dict | None = None, provenance: dict | None = None) -> "Arch":
        """A copy carrying ``complexity`` / ``provenance`` (the ops stay the same)."""
        return Arch(self.pooling, self.user, self.item, self.dims,
                    complexity if complexity is not None else self.complexity,
                    provenance if provenance is not None else self.provenance, self.space)


def parse_json(text: str, where: str = "arch") -> Any:
    """``text`` as JSON, or a one-line ArchError naming ``where`` and the position of the first error."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ArchError(f"{where}: invalid JSON at line {err.lineno} column {err.colno}: {err.msg}") from None


def read_json(path: str | Path) -> Any:
    """The JSON of a result file (an architecture, or any other kind ``towernas.retrievers.hand_built`` reads)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise ArchError(f"{path}: cannot read architecture file ({err.strerror})") from None
    return parse_json(text, str(path))
