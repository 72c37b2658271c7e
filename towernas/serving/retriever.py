"""``ServingRetriever``: load an exported retriever artifact and recommend raw item ids.

This module is the service side: it reads only JSON, ``.npy``/``.npz`` (``allow_pickle=False``), a
``torch.export`` program and a faiss index, and never imports the model code (``towernas.retrievers.two_tower``,
``supernet``, the search space). Every artifact file is checked against the sha256 recorded in
``meta.json`` before it is parsed; a missing, corrupted or inconsistent file raises a one-line
``ArtifactError`` naming it.

Example (``directory`` written by ``towernas.serving.export_retriever``)::

    r = ServingRetriever.load(directory)
    ids, scores = r.recommend("42", history=["1193", "661"], k=10)              # a known user
    ids, scores = r.recommend({"age": "25", "gender": "F"}, history=[], k=10)   # raw features
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import torch

from towernas.data.ragged import Ragged
from towernas.runs.errors import UserError, one_line
from towernas.runs.files import sha256_file
from towernas.serving.index import configure, index_kind, place, search

log = logging.getLogger(__name__)

FORMAT = "towernas.retriever"
SCHEMA = 1
META = "meta.json"
PROGRAM, ITEMS, INDEX = "user_tower.pt2", "items.npy", "index.faiss"
ITEM_IDS, USER_IDS, USER_FEATURES = "item_ids.json", "user_ids.json", "user_features.npz"
FILES = (PROGRAM, ITEMS, INDEX, ITEM_IDS, USER_IDS, USER_FEATURES)

User = str | int | Mapping[str, Any] | None


class ColdUserError(UserError, ValueError):
    """A user the model cannot serve: unknown at export, and nothing known in its history (one line)."""


class ArtifactError(UserError):
    """A missing, corrupted or inconsistent retriever artifact (one-line message naming the file)."""


class ServingRetriever:
    """User tower program + item embeddings + faiss index, addressed by raw ids.

    Build with ``ServingRetriever.load(directory, device=...)``. Attributes: ``meta`` (the parsed meta.json),
    ``items`` (N, d) float32, ``item_ids`` / ``user_ids`` (raw ids), ``index`` (faiss: on ``device``'s GPU for
    ``flat`` and ``ivf`` when faiss-gpu is installed, else the CPU index ``cpu_index``).
    """

    def __init__(self, meta, program, items, index, item_ids, user_ids, user_features, device="cpu") -> None:
        self.meta = meta
        self.program = program
        self.items = items  # (N, d) float32
        self._items_t = np.ascontiguousarray(items.T)  # (d, N), for canonical re-scoring
        kind, params = meta["index"]["kind"], meta["index"]["params"]
        self.cpu_index = index
        self.index = place(index, kind, device)
        if self.index is not index:
            configure(self.index, kind, params)
        self.item_ids = item_ids
        self.user_ids = user_ids
        self.user_features = user_features  # field name -> (n_users,) or (n_users, width) int64
        self.fields = meta["user_fields"]
        self.max_len, self.pad = meta["max_len"], meta["pad_id"]
        self._item_row = {raw: i for i, raw in enumerate(item_ids)}
        self._user_row = {raw: i for i, raw in enumerate(user_ids)}
        self._codes = {f["name"]: {v: c + 1 for c, v in enumerate(f["vocab"])} for f in self.fields}
        self._warned = False  # about unknown history ids

    @classmethod
    def load(cls, directory: str | Path, device: torch.device | str = "cpu") -> ServingRetriever:
        """Load and verify an artifact directory (sha256 of every file, shapes, ids, the program); the index goes
        to ``device``'s GPU when faiss-gpu can hold it (the user tower program runs on CPU)."""
        directory = Path(directory)
        meta = _read_meta(directory)
        for name in FILES:
            _check_file(directory, meta, name)
        n, d = meta["n_items"], meta["dim"]
        items = _load(directory / ITEMS, lambda p: np.load(p, allow_pickle=False))
        if items.dtype != np.float32 or items.shape != (n, d):
            raise ArtifactError(f"{directory / ITEMS}: expected float32 ({n}, {d}), got {items.dtype} {items.shape}")
        item_ids = _load(directory / ITEM_IDS, lambda p: json.loads(p.read_text()))
        user_ids = _load(directory / USER_IDS, lambda p: json.loads(p.read_text()))
        _check_ids(directory / ITEM_IDS, item_ids, n)
        _check_ids(directory / USER_IDS, user_ids, len(user_ids))
        features = _load_features(directory / USER_FEATURES, meta["user_fields"], len(user_ids))
        index = _load(directory / INDEX, lambda p: faiss.read_index(str(p)))
        if index.ntotal != n or index.d != d or index_kind(index) != meta["index"]["kind"]:
            raise ArtifactError(f"{directory / INDEX}: a {index_kind(index)} index of {index.ntotal} x {index.d}, "
                                f"meta.json says {meta['index']['kind']} of {n} x {d}")
        configure(index, meta["index"]["kind"], meta["index"]["params"])
        program = _load(directory / PROGRAM, lambda p: torch.export.load(str(p)).module())
        retriever = cls(meta, program, items, index, item_ids, user_ids, features, device=device)
        out = _load(directory / PROGRAM, lambda p: retriever.encode([None], [[]]))  # smoke test
        expected = (1, *meta["user_output"])  # (1, d), or (1, K, d) for K interests
        if out.shape != expected or out.shape[-1] != d:
            raise ArtifactError(f"{directory / PROGRAM}: the user tower outputs {out.shape}, expected {expected}")
        return retriever

    def recommend(self, user: User, history: Sequence = (), k: int = 10, exclude: Sequence | None = None):
        """Top-k raw item ids and scores for one user.

        Args:
            user: a raw user id known at export (its stored features are used), a dict of raw feature
                values ``{field: value or [values]}`` (unknown values -> code 0 = missing; a field left
                out is missing), or None (all features missing).
            history: raw item ids, most recent last; only the last ``max_len`` are used; unknown ids
                are skipped.
            k: number of results.
            exclude: raw item ids never returned (default: the history); unknown ids are ignored.

        Returns:
            (item_ids: list[str], scores: (n,) float32), best first, n <= k (fewer only when the
            index finds fewer non-excluded items).
        """
        return self.recommend_batch([user], [history], k, None if exclude is None else [exclude])[0]

    def recommend_batch(self, users: Sequence[User], histories: Sequence[Sequence], k: int = 10,
                        exclude: Sequence[Sequence] | None = None) -> list[tuple[list[str], np.ndarray]]:
        """``recommend`` for several users at once (one program call, one index search)."""
        if len(histories) != len(users) or (exclude is not None and len(exclude) != len(users)):
            raise ValueError(f"{len(users)} users need as many histories (and exclude lists), got {len(histories)}")
        if k < 1:
            raise ValueError(f"k={k}: expected a positive integer")
        self.check_servable(users, histories)
        queries = self.encode(users, histories)
        masks = histories if exclude is None else exclude
        rows = Ragged.from_lists([np.unique(self._item_rows(m)) for m in masks])
        ids, scores = search(self.index, self._items_t, queries, k, rows, cpu_index=self.cpu_index)
        return [([self.item_ids[i] for i in row[row >= 0]], sc[row >= 0]) for row, sc in zip(ids, scores)]

    @torch.no_grad()
    def encode(self, users: Sequence[User], histories: Sequence[Sequence]) -> np.ndarray:
        """(B, d) float32 user embeddings from the exported user tower ((B, K, d) for K interests)."""
        history = np.full((len(users), self.max_len), self.pad, dtype=np.int64)  # (B, L), left-padded
        for b, items in enumerate(histories):
            rows = self._item_rows(items)[-self.max_len :]
            history[b, self.max_len - len(rows) :] = rows
        fields = {f["name"]: torch.from_numpy(self._field_codes(f, users)) for f in self.fields}
        return self.program(torch.from_numpy(history), fields).float().numpy()

    def check_servable(self, users: Sequence[User], histories: Sequence[Sequence]) -> None:
        """A user id unknown at export is a cold user: served from its history (features missing) when the history
        holds an item the model knows, refused otherwise (``ColdUserError``, one line). History items unknown to the
        model are skipped, and the log says how many."""
        for user, items in zip(users, histories):
            known = self._item_rows(items)
            if len(known) < len(items):  # a warning the first time, then at debug level (a serving path)
                unknown = [x for x in items if str(x) not in self._item_row]
                log.log(logging.DEBUG if self._warned else logging.WARNING, "user %r: skipped %d history item id(s) "
                        "unknown to the model (e.g. %r); later ones are logged at debug level", user, len(unknown),
                        unknown[0])
                self._warned = True
            if user is None or isinstance(user, Mapping) or str(user) in self._user_row or len(known):
                continue
            raise ColdUserError(f"user {user!r} is unknown to the model and none of its {len(items)} history item(s) "
                                "is known: nothing to serve from; pass a history of known item ids, or the user's raw "
                                "features as a dict")

    def _item_rows(self, raw_ids: Sequence) -> np.ndarray:
        rows = [self._item_row.get(str(x)) for x in raw_ids]
        return np.array([r for r in rows if r is not None], dtype=np.int64)

    def _field_codes(self, field: dict, users: Sequence[User]) -> np.ndarray:
        """(B,) or (B, width) int64 codes of one field for every user."""
        name, width, multi = field["name"], field["width"], field["multi"]
        out = np.zeros((len(users), width) if multi else (len(users),), dtype=np.int64)
        for b, user in enumerate(users):
            if user is None:
                continue
            if not isinstance(user, Mapping):
                row = self._user_row.get(str(user))
                if row is not None:  # unknown: a cold user, its features missing (``check_servable``)
                    out[b] = self.user_features[name][row]
                continue
            unknown = sorted(set(map(str, user)) - set(self._codes))
            if unknown:
                raise ValueError(f"unknown user field(s) {unknown}; expected {sorted(self._codes)}")
            value = user.get(name)
            if value is None:
                continue
            if multi:
                values = value if isinstance(value, (list, tuple, set, np.ndarray)) else [value]
                codes = [c for c in (self._codes[name].get(str(v), 0) for v in values) if c][:width]
                out[b, : len(codes)] = codes
            else:
                out[b] = self._codes[name].get(str(value), 0)
        return out


def read_json(path: Path, missing_note: str = "") -> Any:
    """The JSON in ``path``; ArtifactError naming the file if it is missing (``missing_note``: why that
    matters) or unreadable."""
    if not path.is_file():
        raise ArtifactError(f"{path}: missing" + (f" ({missing_note})" if missing_note else ""))
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ArtifactError(f"{path}: unreadable ({one_line(err)})") from None


def _read_meta(directory: Path) -> dict:
    path = directory / META
    if not directory.is_dir():
        raise ArtifactError(f"{directory}: no such artifact directory")
    meta = read_json(path)
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ArtifactError(f"{path}: not a TowerNAS retriever artifact (format != {FORMAT!r})")
    if meta.get("schema") != SCHEMA:
        raise ArtifactError(f"{path}: schema {meta.get('schema')!r}, this TowerNAS reads schema {SCHEMA}")
    required = {"n_items", "dim", "max_len", "pad_id", "user_output", "user_fields", "index", "files"}
    missing = sorted(required - set(meta))
    if missing:
        raise ArtifactError(f"{path}: missing key(s) {missing}")
    return meta


def _check_file(directory: Path, meta: dict, name: str) -> None:
    path = directory / name
    expected = meta["files"].get(name, {}).get("sha256")
    if expected is None:
        raise ArtifactError(f"{directory / META}: no sha256 recorded for {name}")
    if not path.is_file():
        raise ArtifactError(f"{path}: missing")
    if sha256_file(path) != expected:
        raise ArtifactError(f"{path}: sha256 mismatch (corrupted, or not from this export)")


def _load(path: Path, reader):
    try:
        return reader(path)
    except ArtifactError:
        raise
    except Exception as err:  # noqa: BLE001 - any parser failure is reported as an artifact error
        raise ArtifactError(f"{path}: cannot load ({one_line(err)})") from None


def _check_ids(path: Path, ids, n: int) -> None:
    if not isinstance(ids, list) or len(ids) != n or not all(isinstance(x, str) for x in ids):
        raise ArtifactError(f"{path}: expected a list of {n} string ids")
    if len(set(ids)) != n:
        raise ArtifactError(f"{path}: ids are not unique")


def _load_features(path: Path, fields: list[dict], n_users: int) -> dict[str, np.ndarray]:
    with _load(path, lambda p: np.load(p, allow_pickle=False)) as npz:
        out = {}
        for i, f in enumerate(fields):
            key = f"f{i}"
            if key not in npz.files:
                raise ArtifactError(f"{path}: no array for user field {f['name']!r}")
            values = npz[key]
            shape = (n_users, f["width"]) if f["multi"] else (n_users,)
            if values.dtype != np.int64 or values.shape != shape:
                raise ArtifactError(f"{path}: field {f['name']!r} is {values.dtype} {values.shape}, "
                                    f"expected int64 {shape}")
            if values.size and (values.min() < 0 or values.max() >= f["cardinality"]):
                raise ArtifactError(f"{path}: field {f['name']!r} holds codes outside [0, {f['cardinality']})")
            out[f["name"]] = values
    return out
