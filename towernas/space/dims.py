"""Widths shared by every op of the search space; part of each architecture's JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields


@dataclass(frozen=True)
class Dims:
    """Widths of the search space.

    Args:
        embed: width of every field embedding (side features, item ids).
        block: D_blk, the common width every block input and output is aligned to.
        out: tower output width (the retrieval embedding), L2-normalised.
        head: per-head width of the SA-h blocks (an SA-h block works at h * head).
        attn: width of the attention scorers of the ``self_attention`` / ``self_attentive`` poolings.

    With embed = block = 64, a single MLP-512 block on the 5 user inputs of ML-style data costs
    ~0.2 MFLOPs, already above budget L (0.15 MFLOPs for both towers).
    """

    embed: int = 64
    block: int = 64
    out: int = 64
    head: int = 16
    attn: int = 16

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict, where: str = "dims") -> "Dims":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {unknown}; expected {sorted(known)}")
        for key, value in data.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{where}.{key}={value!r}: expected a positive integer")
        return cls(**data)
