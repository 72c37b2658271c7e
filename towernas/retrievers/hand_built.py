"""A hand-built tower at an in-budget size as a result file, beside the searched ``Arch``.

With ``search.baselines``, the search carries the in-budget baselines a user would try first (GoogleDNN, BST,
every grid size that fits, short-retrained like its own candidates) through its final selection; when one of
them wins, ``best.json`` names it::

    {"schema": 1, "kind": "hand-built", "baseline": "bst", "size": {"layers": [64], "heads": 1, ...},
     "complexity": {...}, "provenance": {...}}

``load_tower(path)`` reads either kind (an ``Arch`` file has no ``kind``, or ``"kind": "searched"``), so
``retrain.archs=[best.json]`` retrains whatever won. Unknown keys, a family without a grid or a size that is
not a member of its grid are one-line errors naming the file and the key.

Example:
    >>> h = HandBuilt("google_dnn", grid_size("google_dnn", "[128,64]"))
    >>> HandBuilt.from_dict(h.to_dict()) == h, h.label
    (True, 'google_dnn [128,64]')
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from towernas.retrievers.sizing import GRIDS, Size, grid_size
from towernas.runs.errors import UserError
from towernas.runs.files import atomic_open
from towernas.space.arch import SCHEMA, Arch, ArchError, read_json

KIND = "hand-built"
SEARCHED = "searched"
_KEYS = {"schema", "kind", "baseline", "size", "complexity", "provenance"}


@dataclass(frozen=True)
class HandBuilt:
    """In-budget baseline ``baseline`` (a family of ``sizing.GRIDS``) at grid member ``size``."""

    baseline: str
    size: Size
    complexity: dict | None = None
    provenance: dict | None = None

    @property
    def label(self) -> str:
        return f"{self.baseline} {self.size.label}"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"schema": SCHEMA, "kind": KIND, "baseline": self.baseline, "size": self.size.to_dict()}
        if self.complexity is not None:
            out["complexity"] = self.complexity
        if self.provenance is not None:
            out["provenance"] = self.provenance
        return out

    def with_info(self, complexity: dict | None = None, provenance: dict | None = None) -> "HandBuilt":
        return HandBuilt(self.baseline, self.size, complexity if complexity is not None else self.complexity,
                         provenance if provenance is not None else self.provenance)

    def save(self, path: str | Path) -> None:
        """Write the JSON atomically (temp file + rename)."""
        with atomic_open(path) as fh:
            fh.write(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def from_dict(cls, data: dict, where: str = "hand-built") -> "HandBuilt":
        unknown = sorted(set(data) - _KEYS)
        if unknown:
            raise UserError(f"{where}: unknown key(s) {unknown}; expected {sorted(_KEYS)}")
        missing = sorted({"schema", "baseline", "size"} - set(data))
        if missing:
            raise UserError(f"{where}: missing key(s) {missing}")
        if data["schema"] != SCHEMA:
            raise UserError(f"{where}.schema={data['schema']!r}: this TowerNAS reads schema {SCHEMA}")
        name = data["baseline"]
        if name not in GRIDS.names():
            raise UserError(f"{where}.baseline={name!r}: expected one of {list(GRIDS.names())}")
        size = data["size"]
        if not isinstance(size, dict) or not isinstance(size.get("layers"), list):
            raise UserError(f"{where}.size: expected an object with a 'layers' list, got {size!r}")
        options = tuple((k, v) for k, v in size.items() if k != "layers")
        label = Size(tuple(size["layers"]), options).label
        try:
            member = grid_size(name, label)
        except UserError as err:
            raise UserError(f"{where}.size: {err}") from None
        return cls(name, member, data.get("complexity"), data.get("provenance"))


def load_tower(path: str | Path) -> Arch | HandBuilt:
    """A result file of either kind: a searched ``Arch`` or a ``HandBuilt`` baseline (by its ``kind``)."""
    data = read_json(path)
    kind = data.get("kind", SEARCHED) if isinstance(data, dict) else SEARCHED
    if kind == KIND:
        return HandBuilt.from_dict(data, str(path))
    if kind != SEARCHED:
        raise ArchError(f"{path}.kind={kind!r}: expected {SEARCHED!r} (an architecture) or {KIND!r}")
    if isinstance(data, dict):
        data = {k: v for k, v in data.items() if k != "kind"}
    return Arch.from_dict(data, str(path))  # a non-object: its one-line error
