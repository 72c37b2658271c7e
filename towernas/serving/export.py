"""``export_retriever``: a trained two-tower model → a self-contained serving artifact directory.

Layout (every file but meta.json is covered by a sha256 in meta.json)::

    <directory>/
      meta.json           format/schema, sizes, max_len, pad id, user fields (+ vocab), arch, index kind,
                          params and recall vs exact, file checksums, free-form metadata
      user_tower.pt2      torch.export program: (history (B, L) int64, {field: (B,) | (B, W) int64}) -> (B, d)
      items.npy           (N, d) float32 item embeddings, as the item tower outputs them (L2-normalised)
      index.faiss         faiss index over items.npy (flat / ivf / hnsw, inner product)
      item_ids.json       raw item id of each row of items.npy
      user_ids.json       raw ids of the users known at export
      user_features.npz   their encoded features: f<i> = (n_users,) or (n_users, W) int64 per user field

The user tower is exported with ``torch.export`` (strict mode, dynamic batch size), on a CPU copy of
the model, so the artifact runs without the training code and on any machine. The directory is
assembled in a temp dir next to the target, loaded back and checked against the in-process model,
and only then renamed into place: a failure leaves nothing half-written.

Example::

    meta = export_retriever(model, data, "runs/x/retriever", index="hnsw", index_params={"efSearch": 128})
    meta["index"]["recall"]   # {"k": 10, "split": "valid", "queries": 1000, "value": 0.98}
"""

from __future__ import annotations

import copy
import datetime
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import torch
from torch import nn

from towernas.data.batches import user_inputs
from towernas.data.interactions import InteractionData
from towernas.data.ragged import Ragged
from towernas.eval.encode import encode_all_items, encode_queries
from towernas.eval.faiss_device import to_cpu
from towernas.runs.files import sha256_file
from towernas.serving.index import build_index, recall_vs_exact, resolve_params
from towernas.serving.retriever import (
    FILES,
    FORMAT,
    INDEX,
    ITEM_IDS,
    ITEMS,
    META,
    PROGRAM,
    SCHEMA,
    USER_FEATURES,
    USER_IDS,
    ArtifactError,
    ServingRetriever,
)

PROGRAM_TOLERANCE = 1e-4  # max |program - model| on the check queries before the export is refused


class UserTowerProgram(nn.Module):
    """The user side of a two-tower model with explicit tensor inputs: what ``torch.export`` traces.

    ``forward(history (B, L) int64, fields {name: (B,) or (B, W) int64}) -> (B, d)`` calls
    ``model.encode_users`` with the batch keys of ``towernas.data.batches`` (``history``, ``user:<field>``).
    The user index (``user``) is not an input: a served user may be new. The output is (B, d), or
    (B, K, d) for a multi-interest tower (served by max_k <u_k, v>).
    """

    def __init__(self, model: nn.Module, field_names: list[str]) -> None:
        super().__init__()
        self.model = model
        self.field_names = list(field_names)

    def forward(self, history: torch.Tensor, fields: dict[str, torch.Tensor]) -> torch.Tensor:
        batch = {"history": history, **{f"user:{name}": fields[name] for name in self.field_names}}
        return self.model.encode_users(batch)


def export_user_tower(model: nn.Module, data: InteractionData, path: str | Path) -> str:
    """``torch.export`` the user tower of (a CPU copy of) ``model`` to ``path``; returns the mode used.

    Strict mode (TorchDynamo) is tried first: it keeps ``len(tensor)`` symbolic, where non-strict
    tracing would pin the batch size. The example batch has 2 users (sizes 0/1 get specialised).
    """
    names = [f.name for f in data.user_features.fields]
    program = UserTowerProgram(copy.deepcopy(model).cpu().eval(), names)
    users = np.array([0, min(1, data.n_users - 1)])
    batch = user_inputs(data, users, data.user_indptr[users + 1] - 1)  # histories before each last row
    args = (batch["history"], {n: batch[f"user:{n}"] for n in names})
    dim = torch.export.Dim("batch", min=1)
    shapes = ({0: dim}, {n: {0: dim} for n in names})
    errors = []
    for strict in (True, False):
        try:
            exported = torch.export.export(program, args, dynamic_shapes=shapes, strict=strict)
        except Exception as err:  # noqa: BLE001 - try the other tracer, report both if neither works
            errors.append(f"strict={strict}: {str(err).strip().splitlines()[0] if str(err).strip() else err!r}")
            continue
        torch.export.save(exported, str(path))
        return "strict" if strict else "non-strict"
    raise RuntimeError(f"cannot torch.export the user tower ({'; '.join(errors)})")


def export_retriever(
    model: nn.Module,
    data: InteractionData,
    directory: str | Path,
    *,
    index: str = "flat",
    index_params: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    recall_k: int = 10,
    recall_queries: int = 1000,
) -> dict[str, Any]:
    """Write a serving artifact for ``model`` (any module with ``encode_users`` / ``encode_items``).

    Args:
        model: a trained two-tower model (any device); left in its train/eval mode.
        data: the dataset it was trained on (ids, user features, max_len, validation queries).
        directory: the artifact directory; an existing artifact there is replaced.
        index: "flat" (exact, default), "ivf" or "hnsw"; ``index_params`` see ``towernas.serving.index``.
        metadata: free-form JSON-serialisable info stored under ``meta["metadata"]``.
        recall_k, recall_queries: recall@k of the index vs exact search is measured on up to this
            many validation queries (their real histories, with their train items excluded).

    Returns:
        The contents of meta.json (``meta["index"]["recall"]["value"]`` is the measured recall).
    """
    directory = Path(directory)
    params = resolve_params(index, index_params, data.n_items)  # fail before any work
    json.dumps(metadata)  # so must this
    _check_target(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", suffix=".tmp", dir=directory.parent))
    training = model.training
    try:
        meta = _write_artifact(model, data, tmp, index, params, metadata, recall_k, recall_queries)
        _publish(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        model.train(training)
    return meta


def _write_artifact(model, data, tmp: Path, kind, params, metadata, recall_k, recall_queries) -> dict:
    device = next(iter(model.parameters()), torch.empty(0)).device
    items = encode_all_items(model, data, device=device)  # (N, d) float32
    np.save(tmp / ITEMS, items)
    (tmp / ITEM_IDS).write_text(json.dumps([str(x) for x in data.item_ids]))
    (tmp / USER_IDS).write_text(json.dumps([str(x) for x in data.user_ids]))
    fields = data.user_features.fields
    np.savez(tmp / USER_FEATURES, **{f"f{i}": np.asarray(data.user_features.values[f.name], dtype=np.int64)
                                     for i, f in enumerate(fields)})
    mode = export_user_tower(model, data, tmp / PROGRAM)
    index, params = build_index(items, kind, params, device=device)  # on the model's GPU when faiss-gpu can
    faiss.write_index(to_cpu(index), str(tmp / INDEX))

    users, positions, exclude = _check_queries(data, recall_queries)
    probe = encode_queries(model, data, np.array([0]), data.user_indptr[1:2] - 1, device=device)
    queries = encode_queries(model, data, users, positions, device=device)  # (Q, d), in-process model
    recall = recall_vs_exact(index, items, queries, recall_k, exclude) if len(users) else None
    arch = getattr(model, "arch", None)
    meta = {
        "format": FORMAT,
        "schema": SCHEMA,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "versions": {"torch": torch.__version__, "faiss": faiss.__version__, "numpy": np.__version__},
        "dataset": data.name,
        "n_items": int(data.n_items),
        "n_users": int(data.n_users),
        "dim": int(items.shape[1]),
        "max_len": int(data.max_len),
        "pad_id": int(data.pad_item),
        "user_output": list(probe.shape[1:]),  # [d], or [K, d] for a multi-interest user tower (MIND)
        "program": {"file": PROGRAM, "format": "torch.export", "mode": mode, "device": "cpu",
                    "inputs": {"history": ["batch", int(data.max_len)],
                               "fields": {f.name: ["batch", f.width] if f.multi else ["batch"] for f in fields}}},
        "user_fields": [{"name": f.name, "cardinality": f.cardinality, "width": f.width, "multi": f.multi,
                         "vocab": list(map(str, data.user_features.vocab.get(f.name, [])))} for f in fields],
        "arch": arch.to_dict() if hasattr(arch, "to_dict") else None,
        "index": {"kind": kind, "params": params, "metric": "inner_product",
                  "recall": {"k": recall_k, "split": "valid", "queries": len(users), "value": recall}},
        "metadata": metadata or {},
        "files": {name: {"sha256": sha256_file(tmp / name), "bytes": (tmp / name).stat().st_size} for name in FILES},
    }
    (tmp / META).write_text(json.dumps(meta, indent=1))
    _verify(ServingRetriever.load(tmp), data, users, positions, queries)
    return meta


def _check_queries(data: InteractionData, limit: int) -> tuple[np.ndarray, np.ndarray, Ragged]:
    """Up to ``limit`` validation queries (seeded sample): users, history end rows, train items."""
    valid = data.queries("valid")
    pick = np.arange(len(valid.users))
    if len(pick) > limit:
        pick = np.sort(np.random.default_rng(0).choice(len(pick), limit, replace=False))
    return valid.users[pick], valid.positions[pick], Ragged.from_lists([valid.exclude[i] for i in pick])


def _verify(retriever: ServingRetriever, data: InteractionData, users, positions, queries: np.ndarray) -> None:
    """The loaded artifact, fed raw ids, must reproduce the in-process user embeddings."""
    if not len(users):
        return
    hist = data.histories(positions)  # (Q, L) item rows, pad = n_items
    raw = [[str(data.item_ids[i]) for i in row if i != data.pad_item] for row in hist]
    served = retriever.encode([str(data.user_ids[u]) for u in users], raw)
    diff = float(np.abs(served - queries).max())
    if not diff <= PROGRAM_TOLERANCE:
        raise RuntimeError(f"the exported user tower disagrees with the model (max |diff| = {diff:.3g})")


def _check_target(directory: Path) -> None:
    """Only an empty directory or an earlier artifact may be replaced."""
    if not directory.exists():
        return
    if not directory.is_dir() or (any(directory.iterdir()) and not (directory / META).is_file()):
        raise ArtifactError(f"{directory}: exists and is not a retriever artifact; refusing to replace it")


def _publish(tmp: Path, directory: Path) -> None:
    """Rename ``tmp`` to ``directory``; an earlier artifact there is moved aside first, then deleted."""
    old = None
    if directory.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", suffix=".old", dir=directory.parent))
        os.replace(directory, old / "artifact")
    os.replace(tmp, directory)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
