"""Writing a trained cascade as a directory the serving side loads (``towernas.serving.cascade``, which
documents the layout): the retriever artifact copied in, every ranker stage's weights, ``cascade.json``."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import torch

from towernas.cascade.fusion import RetrieverScoreFusion
from towernas.runs.files import sha256_file

FORMAT, SCHEMA, META, RETRIEVER = "towernas.cascade", 1, "cascade.json", "retriever"


def export_cascade(directory: str | Path, retriever_dir: str | Path, k0: int, stages: Sequence[tuple], *,
                   metadata: dict | None = None) -> dict:
    """Write a cascade directory; ``stages``: ``(name, hyperparameters, ranker, k)`` in pipeline order.

    Written under a temporary name and renamed into place (an existing directory there is replaced)."""
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", suffix=".tmp", dir=directory.parent))
    try:
        shutil.copytree(retriever_dir, tmp / RETRIEVER)
        entries, files = [], {}
        catalog = stages[0][2].catalog
        for i, (name, hyperparameters, ranker, k) in enumerate(stages):
            file = f"ranker{i}.pt"
            torch.save({k_: v.detach().cpu() for k_, v in ranker.state_dict().items()}, tmp / file)
            entries.append({"name": name, "hyperparameters": hyperparameters, "k": int(k), "file": file,
                            "fused": isinstance(ranker, RetrieverScoreFusion)})
            files[file] = {"sha256": sha256_file(tmp / file)}
        meta = {"format": FORMAT, "schema": SCHEMA, "k0": int(k0), "stages": entries, "files": files,
                "catalog": {"n_users": catalog.n_users, "n_items": catalog.n_items, "max_len": catalog.max_len,
                            "user_fields": [vars(f) for f in catalog.user_fields],
                            "item_fields": [vars(f) for f in catalog.item_fields],
                            "pair_features": list(catalog.pair_features), "ratings": catalog.ratings,
                            "rating_mean": catalog.rating_mean},
                "metadata": metadata or {}}
        (tmp / META).write_text(json.dumps(meta, indent=1))
        if directory.exists():
            shutil.rmtree(directory)
        os.replace(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return meta
