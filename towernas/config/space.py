"""Schema of ``conf/space/*.yaml``: the search space (tower anatomy, choices, depths, widths).

Two presets: ``space=towernas`` (the default: normalised blocks, order-aware poolings, the latest item as
a token, searchable depth, D_blk = the output width) and ``space=autotower`` (the paper's space as
published, for reproducing AutoTower). ``towernas.space.arch_space.ArchSpace.from_config`` reads it.

``Dims``, the widths (part of each architecture's JSON), is defined here beside its schema ``DimsConfig``,
so the config imports no stage package; ``towernas.space`` re-exports it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from towernas.config.schema import schema_of


@dataclass(frozen=True)
class Dims:
    """Widths of the search space.

    Args:
        embed: width of every field embedding (side features, item ids).
        block: D_blk, the common width every block input and output is aligned to.
        out: tower output width (the retrieval embedding), L2-normalised.
        head: per-head width of the SA-h blocks (an SA-h block works at h * head).
        attn: width of the attention scorers of the ``self_attention`` / ``self_attentive`` poolings.
        recent: how many of the most recent history items also enter the user tower as tokens of their
            own (0: none, the AutoTower layout). Order-aware: "what came last" is not averaged away.

    Defaults (embed 64, block 32, head 8, so SA-4 works at D_blk) make the paper's budgets
    selective but rich: on the embedded dataset (5 inputs per tower, history 20, depth 5) about 7%
    of uniformly random architectures fit L, 30% fit M and 94% fit H (``towernas.complexity.budgets
    .admitted_fraction``). With block = 64 a single MLP-512 already costs ~0.2 MFLOPs (> L) and only
    0.5% of the space fits L. Cheapest: 12.5k params / 13.9k FLOPs (user), 12.5k / 12.5k (item);
    dearest (self_attention + MLP-1024 x 5): see ``CostModel.dearest()`` and the admitted shares in docs/design/search-space.md.
    """

    embed: int = 64
    block: int = 32
    out: int = 64
    head: int = 8
    attn: int = 16
    recent: int = 0

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict, where: str = "dims") -> "Dims":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {unknown}; expected {sorted(known)}")
        for key, value in data.items():
            least = 0 if key == "recent" else 1
            if not isinstance(value, int) or isinstance(value, bool) or value < least:
                kind = "a non-negative" if least == 0 else "a positive"
                raise ValueError(f"{where}.{key}={value!r}: expected {kind} integer")
        return cls(**data)


DimsConfig = schema_of(Dims, "DimsConfig", module=__name__)  # widths of the search space (see Dims)


@dataclass
class SpaceConfig:
    """The architectures a search spans."""

    name: str = "towernas"  # tower anatomy: towernas | autotower (towernas.space.anatomy)
    poolings: list[str] = field(default_factory=lambda: ["avg", "recency", "self_attention_pos",
                                                         "self_attentive_pos"])
    blocks: list[str] = field(default_factory=list)  # empty: all 16 blocks
    depth_user: int = 5
    depth_item: int = 5
    searchable_depth: bool = True  # adds the "skip" op at positions >= 2
    dims: DimsConfig = field(default_factory=DimsConfig)  # type: ignore[valid-type]
