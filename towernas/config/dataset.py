"""Schema of ``conf/dataset/*.yaml``: which reader, where its files are, how to preprocess them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from omegaconf import MISSING, DictConfig


@dataclass
class SplitConfig:
    """Per-user chronological split. ``ratio``: first (1 - valid - test) train, then valid, then test;
    ``leave_one_out``: last interaction test, the one before validation, the rest train; ``given``: the files
    fix the split (RecBole ``benchmark_filename`` parts, LightGCN ``train.txt``/``test.txt``, a table's split
    column); without a validation part, a random ``valid`` share of each user's train rows (``seed``) is
    carved out as validation. A split the files fix is never replaced: any other method then fails."""

    method: str = "ratio"
    valid: float = 0.25
    test: float = 0.25
    seed: int = 0  # method=given: the carving of validation out of train


@dataclass
class CtrConfig:
    """Labels of the CTR task (``towernas.data.ctr``). ``rating``: an interaction is positive (1) when its
    rating is >= ``threshold``, else negative (0); it needs a reader that gives ratings. ``implicit``: every
    interaction is positive, the trainer samples the negatives. The split is the dataset's own."""

    label: str = "rating"  # rating | implicit
    threshold: float = 4.0  # used by label=rating


def _open_options() -> DictConfig:
    # Not in struct mode, unlike the rest of the config: `dataset.options.<key>=…` works without Hydra's
    # `+` for every reader option. The reader checks the keys against its ``Options`` dataclass when the
    # dataset loads, and an unknown one fails there with the list of valid keys.
    return DictConfig({}, flags={"struct": False})


@dataclass
class DatasetConfig:
    """Which reader, where its files are, and how to preprocess them.

    ``options`` are the reader's own settings, checked against that reader's ``Options`` dataclass
    (unknown keys fail with the list of valid ones).
    """

    name: str = MISSING
    reader: str = MISSING
    root: Optional[str] = None  # None: $TOWERNAS_DATA, else ~/.cache/towernas
    download: bool = True
    min_rating: Optional[float] = None
    k_core_user: int = 0
    k_core_item: int = 0
    max_len: int = 20
    split: SplitConfig = field(default_factory=SplitConfig)
    ctr: CtrConfig = field(default_factory=CtrConfig)
    cache: bool = True
    options: Any = field(default_factory=_open_options)
    # files written by a seeded generator instead of downloaded (``towernas.data.amazon_like``); None: real data
    generate: Any = None
