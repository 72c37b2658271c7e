"""What every reader returns: raw interactions and side features, before filtering and re-indexing."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd


@dataclass
class RawDataset:
    """A dataset as read from its source files.

    Args:
        interactions: columns ``user``, ``item`` (raw ids: int or str), ``timestamp`` (int64, seconds).
            Rows in file order; order breaks timestamp ties. An optional float ``rating`` column lets
            ``dataset.min_rating`` keep only ratings at or above a threshold and becomes
            ``InteractionData.ratings`` (the labels of the CTR task, ``dataset.ctr``). An optional int8
            ``split`` column (``TRAIN`` / ``VALID`` / ``TEST`` of ``towernas.data.interactions``) is a split the
            files fix (``dataset.split.method=given``); without VALID rows, validation is carved from train.
        user_features: one row per raw user id (the index), one column per categorical field. Values are
            scalars (str/int; NaN or None = missing) or, for fields listed in ``multi_valued``, lists.
        item_features: the same for items.
        multi_valued: names of multi-valued fields (e.g. ``genres``) in either feature table.
        timed: False when the files carry no timestamps: ``timestamp`` is then the row's position in the
            files, so file order is the order (and order-aware poolings see file order).
    """

    interactions: pd.DataFrame
    user_features: pd.DataFrame = field(default_factory=pd.DataFrame)
    item_features: pd.DataFrame = field(default_factory=pd.DataFrame)
    multi_valued: frozenset[str] = frozenset()
    timed: bool = True

    @property
    def given_split(self) -> bool:
        return "split" in self.interactions.columns
