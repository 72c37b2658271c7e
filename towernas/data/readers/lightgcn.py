"""``dataset=lightgcn``: the ``train.txt`` / ``test.txt`` split files of LightGCN, NGCF and BARS-Match.

Each line is ``user item item ...`` (whitespace-separated integers; the Gowalla, Yelp2018 and Amazon-Book
files of those papers), ids already contiguous. A user may have a line without items. There are no
timestamps: file order is the order (``train.txt``'s items, then ``test.txt``'s), so order-aware poolings
see file order.

The split is given (``dataset.split.method=given``): test is ``test.txt``; validation is carved from each
user's train items at random (``dataset.split.valid`` share, ``dataset.split.seed``; ``conf/dataset/lightgcn.yaml``
states both), so the model trains on the rest. Test then masks every ``train.txt`` item, as the BARS protocol
does (full ranking, Recall@20 / NDCG@20).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from towernas.data.errors import DataError
from towernas.data.interactions import TEST, TRAIN
from towernas.data.raw import RawDataset
from towernas.data.readers._arrow import open_text, require_file
from towernas.data.readers.base import Reader
from towernas.data.readers.columns import Rows, check_unseen, drop_duplicates


@dataclass
class LightGCNOptions:
    """Settings of ``dataset=lightgcn`` (``dataset.options``).

    Args:
        train_file, test_file: the split files in the dataset directory.
        duplicates: an item repeated on a user's line: ``drop`` (counted in the log) or ``refuse``.
        unseen: test users or items never in ``train.txt``: ``refuse``, ``drop`` or ``keep`` (counted in the log).
    """

    train_file: str = "train.txt"
    test_file: str = "test.txt"
    duplicates: str = "drop"
    unseen: str = "refuse"


def read_lines(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(users, items, lines)`` of one ``user item item ...`` file, one entry per (user, item), in file order."""
    require_file(path)
    users, items, lines = [], [], []
    with open_text(path) as text:
        for number, line in enumerate(text, 1):
            fields = line.split()
            if not fields:
                continue
            try:
                ids = np.array(fields, dtype=np.int64)
            except OverflowError:
                raise DataError.at(path, number, "an id does not fit in 64 bits; expected contiguous integer ids") \
                    from None
            except ValueError:
                bad = next(f for f in fields if not f.lstrip("-").isdigit())
                raise DataError.at(path, number, f"expected whitespace-separated integer ids (user item item ...), "
                                                 f"got {bad[:30]!r}") from None
            if (ids < 0).any():
                raise DataError.at(path, number, f"expected non-negative ids, got {int(ids[ids < 0][0])}")
            users.append(np.full(len(ids) - 1, ids[0]))
            items.append(ids[1:])
            lines.append(np.full(len(ids) - 1, number))
    if not users:
        raise DataError.at(path, None, "file is empty; expected lines 'user item item ...'")
    return np.concatenate(users), np.concatenate(items), np.concatenate(lines)


def read_lightgcn(directory: Path, options: LightGCNOptions, progress: bool = False) -> RawDataset:
    directory = Path(directory)
    files = [directory / options.train_file, directory / options.test_file]
    parts = [read_lines(path) for path in files]
    if not len(parts[0][1]):
        raise DataError.at(files[0], None, "no interactions (every line is a user without items)")
    users = np.concatenate([p[0] for p in parts])
    items = np.concatenate([p[1] for p in parts])
    split = np.concatenate([np.full(len(p[0]), code, dtype=np.int8) for p, code in zip(parts, (TRAIN, TEST))])
    frame = pd.DataFrame({"user": users, "item": items, "timestamp": np.arange(len(users), dtype=np.int64),
                          "split": split})
    source = np.concatenate([np.full(len(p[0]), i, dtype=np.int8) for i, p in enumerate(parts)])
    line = lambda number: number  # noqa: E731  (positions are line numbers already: one line holds many rows)
    rows = Rows(frame, files, source, np.concatenate([p[2] for p in parts]), [line, line])
    rows = drop_duplicates(_without_time(rows), options.duplicates, "dataset.options.duplicates")
    rows.frame["timestamp"] = np.arange(len(rows.frame), dtype=np.int64)  # file order is the order
    rows = check_unseen(rows, options.unseen, "dataset.options.unseen")
    return RawDataset(rows.frame[["user", "item", "timestamp", "split"]], timed=False)


def _without_time(rows: Rows) -> Rows:
    """The rows without the position column, so that a repeated (user, item, part) counts as a duplicate."""
    return Rows(rows.frame.drop(columns="timestamp"), rows.files, rows.source, rows.position, rows.locate)


LIGHTGCN = Reader(
    name="lightgcn",
    read=read_lightgcn,
    files=lambda options: [options.train_file, options.test_file],
    options=LightGCNOptions,
    manual="put the LightGCN / BARS split files train.txt and test.txt (lines 'user item item ...') in the dataset "
           "directory, e.g. from https://github.com/kuandeng/LightGCN/tree/master/Data",
    progress=True,
)
