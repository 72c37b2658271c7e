"""Processed-dataset cache: one directory per (dataset, preprocessing, source files) key.

Layout: ``<root>/processed/<name>-<key>/{arrays.npz, meta.json}``; ``arrays.npz`` holds ``ratings`` only when
the dataset has them. A directory is written under a temporary name and renamed into place, so an
interrupted run never leaves a half-written entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from towernas.data.features import FeatureTable, Field
from towernas.data.interactions import InteractionData

CACHE_VERSION = 2  # 2: InteractionData.ratings
_ARRAYS = ("users", "items", "timestamps", "user_indptr", "split", "user_ids", "item_ids")


def cache_key(description: dict[str, Any], files: list[Path]) -> str:
    """Hash of what determines the processed data: settings plus each source file's size and mtime."""
    fingerprint = [(str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files]
    blob = json.dumps({"v": CACHE_VERSION, "d": description, "f": fingerprint}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def save(data: InteractionData, directory: Path) -> None:
    """Write ``data`` to ``directory`` atomically (temp dir + rename)."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        arrays = {name: getattr(data, name) for name in _ARRAYS}
        if data.ratings is not None:
            arrays["ratings"] = data.ratings
        meta: dict[str, Any] = {"name": data.name, "n_users": data.n_users, "n_items": data.n_items}
        for side in ("user", "item"):
            table: FeatureTable = getattr(data, f"{side}_features")
            meta[f"{side}_fields"] = [asdict(f) for f in table.fields]
            meta[f"{side}_vocab"] = table.vocab
            arrays.update({f"{side}__{k}": v for k, v in table.values.items()})
        np.savez(tmp / "arrays.npz", **arrays)
        (tmp / "meta.json").write_text(json.dumps(meta))
        if directory.exists():  # another process won the race; keep theirs
            shutil.rmtree(tmp)
            return
        os.replace(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def load(directory: Path, max_len: int) -> InteractionData | None:
    """Read a cache entry, or None if it is absent or unreadable (it is then rebuilt)."""
    try:
        meta = json.loads((directory / "meta.json").read_text())
        with np.load(directory / "arrays.npz", allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, KeyError):
        return None
    tables = {}
    for side in ("user", "item"):
        fields = [Field(**f) for f in meta[f"{side}_fields"]]
        values = {f.name: arrays[f"{side}__{f.name}"] for f in fields}
        tables[side] = FeatureTable(fields, values, meta[f"{side}_vocab"])
    return InteractionData(
        name=meta["name"],
        n_users=meta["n_users"],
        n_items=meta["n_items"],
        user_features=tables["user"],
        item_features=tables["item"],
        max_len=max_len,
        ratings=arrays.get("ratings"),
        **{name: arrays[name] for name in _ARRAYS},
    )
