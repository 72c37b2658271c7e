"""Users' own data in the three formats the generic readers take, written from the embedded generator.

Each writer takes the generator's interactions (so a model has something to learn) and writes them as a user
would keep them: original string ids, side tables, the format's own separators and headers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from towernas.config import DatasetConfig
from towernas.data import load_dataset
from towernas.data.interactions import InteractionData


def generated(n_users: int = 200, n_items: int = 400, mean_length: int = 30, seed: int = 0) -> InteractionData:
    cfg = DatasetConfig(name="own", reader="synthetic", cache=False,
                        options={"n_users": n_users, "n_items": n_items, "mean_length": mean_length, "seed": seed})
    return load_dataset(cfg, progress=False)


def _labels(table, name: str) -> np.ndarray:
    """A single-valued field's values as text (None where missing)."""
    vocab = np.array([None, *table.vocab[name]], dtype=object)
    return vocab[table.values[name]]


def _lists(table, name: str, sep: str) -> list[str]:
    vocab = np.array(["", *table.vocab[name]], dtype=object)
    return [sep.join(v for v in vocab[row] if v) for row in table.values[name]]


def interactions_frame(data: InteractionData) -> pd.DataFrame:
    """The generator's rows with string ids ``u<id>`` / ``sku-<id>``, shuffled (a log is rarely sorted)."""
    frame = pd.DataFrame({"uid": np.char.add("u", data.user_ids[data.users].astype(str)),
                          "sku": np.char.add("sku-", data.item_ids[data.items].astype(str)),
                          "ts": data.timestamps, "stars": data.ratings})
    return frame.sample(frac=1.0, random_state=0).reset_index(drop=True)


def write_table(directory: Path, data: InteractionData, *, parquet: bool = False) -> dict:
    """``interactions.csv`` (or ``.parquet``) + ``users.csv`` + ``items.tsv``; returns the dataset.options."""
    directory.mkdir(parents=True, exist_ok=True)
    frame = interactions_frame(data)
    frame["session"] = "s"  # an undeclared column: ignored, listed in the log
    name = "interactions.parquet" if parquet else "interactions.csv"
    if parquet:
        frame.to_parquet(directory / name, index=False)
    else:
        frame.to_csv(directory / name, index=False)
    users = pd.DataFrame({"uid": np.char.add("u", data.user_ids.astype(str)),
                          **{f.name: _labels(data.user_features, f.name) for f in data.user_features.fields
                             if not f.multi}})
    users.to_csv(directory / "users.csv", index=False)
    items = pd.DataFrame({"sku": np.char.add("sku-", data.item_ids.astype(str))})
    features: dict = {f.name: "categorical" for f in data.user_features.fields if not f.multi}
    for f in data.item_features.fields:
        if f.multi:
            items[f.name] = _lists(data.item_features, f.name, ";")
            features[f.name] = {"type": "multi", "sep": ";"}
        else:
            items[f.name] = _labels(data.item_features, f.name)
            features[f.name] = "categorical"
    items["popularity"] = np.bincount(data.items, minlength=data.n_items)
    features["popularity"] = {"type": "numeric", "buckets": 4}
    items.to_csv(directory / "items.tsv", sep="\t", index=False)
    return {"interactions": str(directory / name), "users": str(directory / "users.csv"),
            "items": str(directory / "items.tsv"),
            "columns": {"user": "uid", "item": "sku", "timestamp": "ts", "rating": "stars"}, "features": features}


def write_recbole(directory: Path, name: str, data: InteractionData, *, parts: bool = False) -> None:
    """RecBole atomic files ``<name>.inter`` (or ``.train/.valid/.test.inter`` split by ``data``'s split), ``.user``,
    ``.item``, tab-separated with ``name:type`` headers and space-separated ``token_seq`` values."""
    directory.mkdir(parents=True, exist_ok=True)
    inter = pd.DataFrame({"user_id:token": np.char.add("u", data.user_ids[data.users].astype(str)),
                          "item_id:token": np.char.add("i", data.item_ids[data.items].astype(str)),
                          "rating:float": data.ratings, "timestamp:float": data.timestamps.astype(np.float64)})
    if parts:
        for code, part in enumerate(("train", "valid", "test")):
            inter[data.split == code].to_csv(directory / f"{name}.{part}.inter", sep="\t", index=False)
    else:
        inter.to_csv(directory / f"{name}.inter", sep="\t", index=False)
    users = pd.DataFrame({"user_id:token": np.char.add("u", data.user_ids.astype(str)),
                          **{f"{f.name}:token": _labels(data.user_features, f.name)
                             for f in data.user_features.fields if not f.multi}})
    users.to_csv(directory / f"{name}.user", sep="\t", index=False)
    items = pd.DataFrame({"item_id:token": np.char.add("i", data.item_ids.astype(str))})
    for f in data.item_features.fields:
        if f.multi:
            items[f"{f.name}:token_seq"] = _lists(data.item_features, f.name, " ")
        else:
            items[f"{f.name}:token"] = _labels(data.item_features, f.name)
    items["score:float"] = np.bincount(data.items, minlength=data.n_items).astype(np.float64)
    items.to_csv(directory / f"{name}.item", sep="\t", index=False)


def write_lightgcn(directory: Path, data: InteractionData, test_share: float = 0.2) -> None:
    """``train.txt`` / ``test.txt``: per user, the first (1 - test_share) of the items, then the rest (test items
    that no train line holds are left out, as in the published files); contiguous ids."""
    directory.mkdir(parents=True, exist_ok=True)
    parts = []
    for u in range(data.n_users):
        items = data.items[data.user_indptr[u]:data.user_indptr[u + 1]]
        n_test = int(len(items) * test_share) if len(items) >= 3 else 0
        parts.append((items[: len(items) - n_test], items[len(items) - n_test:]))
    seen = set(np.concatenate([train for train, _ in parts]).tolist())
    train_lines = [" ".join(map(str, [u, *train])) for u, (train, _) in enumerate(parts)]
    test_lines = [" ".join(map(str, [u, *(i for i in test if i in seen)])) for u, (_, test) in enumerate(parts)]
    (directory / "train.txt").write_text("\n".join(train_lines) + "\n")
    (directory / "test.txt").write_text("\n".join(test_lines) + "\n")
