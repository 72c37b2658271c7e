"""A served cascade: a retriever artifact plus ranker weights, addressed by raw ids.

Layout of a cascade directory (``towernas.cascade.export.export_cascade``)::

    cascade.json     format, schema, k0, the ranker stages (name, hyperparameters, k, file), the catalogue
                     the rankers were built for, and the sha256 of every ranker file
    retriever/       a retriever artifact (``towernas.serving.export_retriever``), verified by its own meta.json
    ranker<i>.pt     stage i's ``state_dict`` (loaded with ``torch.load(weights_only=True)``: tensors only); a
                     ranker fused with the retriever's score (``fused``) reads the retriever's vectors

``ServingCascade.load(directory).recommend(user, history, k)`` retrieves the top-K0 raw ids, then every
ranker reorders its input list and keeps its top k. A user known at export is scored with its stored
features and id; a dict of raw features (or None) is a user unknown to the rankers (its id row is the
rankers' all-zero "unknown user" row). Files are verified before they are parsed; a missing, corrupted or
inconsistent file is a one-line ``ArtifactError`` naming it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from towernas.data.batches import RATING_BEFORE, RATINGS, TIME
from towernas.data.features import Field
from towernas.cascade.export import FORMAT, META, RETRIEVER, SCHEMA
from towernas.cascade.stages import rerank_batch
from towernas.cascade.fusion import QUERY, RetrieverScoreFusion
from towernas.rankers import Catalog, build_ranker
from towernas.runs.errors import one_line
from towernas.runs.files import sha256_file
from towernas.serving.retriever import ArtifactError, ServingRetriever, User, read_json

class ServingCascade:
    """Retriever artifact + rankers; build with ``ServingCascade.load(directory)``."""

    def __init__(self, meta: dict, retriever: ServingRetriever, rankers: list[tuple[str, torch.nn.Module, int]]):
        self.meta, self.retriever, self.rankers, self.k0 = meta, retriever, rankers, meta["k0"]
        self.n_users = meta["catalog"]["n_users"]

    @classmethod
    def load(cls, directory: str | Path) -> ServingCascade:
        directory = Path(directory)
        meta = _read_meta(directory)
        retriever = ServingRetriever.load(directory / RETRIEVER)
        c = meta["catalog"]
        if c["n_items"] != retriever.meta["n_items"] or c["n_users"] != len(retriever.user_ids):
            raise ArtifactError(f"{directory / META}: rankers built for {c['n_items']} items and {c['n_users']} users, "
                                f"the retriever artifact has {retriever.meta['n_items']} and {len(retriever.user_ids)}")
        catalog = Catalog(c["n_users"], c["n_items"], c["max_len"], tuple(Field(**f) for f in c["user_fields"]),
                          tuple(Field(**f) for f in c["item_fields"]), pair_features=tuple(c.get("pair_features", ())),
                          ratings=c.get("ratings", "none"), rating_mean=c.get("rating_mean"))
        rankers = []
        for stage in meta["stages"]:
            path = directory / stage["file"]
            if not path.is_file():
                raise ArtifactError(f"{path}: missing")
            if sha256_file(path) != meta["files"].get(stage["file"], {}).get("sha256"):
                raise ArtifactError(f"{path}: sha256 mismatch (corrupted, or not from this export)")
            ranker = build_ranker(stage["name"], catalog, **stage["hyperparameters"])
            if stage.get("fused"):  # the ranker adds the retriever's own score
                ranker = RetrieverScoreFusion(ranker, retriever.items)
            try:
                ranker.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
            except Exception as err:  # noqa: BLE001 - unreadable or mismatched weights
                raise ArtifactError(f"{path}: cannot load the {stage['name']} weights ({one_line(err)})") from None
            rankers.append((stage["name"], ranker.eval(), stage["k"]))
        return cls(meta, retriever, rankers)

    def recommend(self, user: User, history: Sequence = (), k: int = 10, exclude: Sequence | None = None,
                  ratings: Sequence[float] | None = None, time: int | None = None):
        """Top-k raw item ids and the last stage's scores for one user (see ``ServingRetriever.recommend``).
        ``ratings``: the user's explicit ratings of ``history``'s items (NaN: unknown), for rankers that read them;
        ``time``: the request's timestamp, for time-aware pair features (None: everything they learnt counts)."""
        return self.recommend_batch([user], [history], k, None if exclude is None else [exclude],
                                    None if ratings is None else [ratings], None if time is None else [time])[0]

    @torch.no_grad()
    def recommend_batch(self, users: Sequence[User], histories: Sequence[Sequence], k: int = 10,
                        exclude: Sequence[Sequence] | None = None, ratings: Sequence[Sequence[float]] | None = None,
                        times: Sequence[int] | None = None) -> list[tuple[list[str], np.ndarray]]:
        r = self.retriever
        lists = r.recommend_batch(users, histories, self.k0, exclude)
        candidates = np.full((len(users), self.k0), -1, dtype=np.int64)
        for b, (ids, _) in enumerate(lists):
            rows = r._item_rows(ids)
            candidates[b, : len(rows)] = rows
        batch = self._batch(users, histories, ratings, times)
        batch[QUERY] = torch.as_tensor(r.encode(users, histories))  # for rankers fused with the retriever
        scores = np.zeros(candidates.shape, np.float32)
        for _, ranker, stage_k in self.rankers:
            candidates, scores = rerank_batch(ranker, batch, candidates, stage_k)
        k = min(k, candidates.shape[1])
        return [([r.item_ids[i] for i in row[:k][row[:k] >= 0]], sc[:k][row[:k] >= 0])
                for row, sc in zip(candidates, scores)]

    def _batch(self, users: Sequence[User], histories: Sequence[Sequence], ratings=None,
               times=None) -> dict[str, torch.Tensor]:
        """The rankers' query inputs: user rows (unknown: ``n_users``), left-padded history rows, field codes; with
        ``ratings`` the history's ratings and the mean of all of them, with ``times`` the request times (as
        ``towernas.data.batches.user_inputs`` gives them in training)."""
        r = self.retriever
        rows = [r._user_row.get(str(u), self.n_users) if u is not None and not isinstance(u, dict) else self.n_users
                for u in users]
        history = np.full((len(users), r.max_len), r.pad, dtype=np.int64)
        for b, items in enumerate(histories):
            ids = r._item_rows(items)[-r.max_len:]
            history[b, r.max_len - len(ids):] = ids
        batch = {"user": torch.as_tensor(rows), "history": torch.from_numpy(history)}
        for f in r.fields:
            batch[f"user:{f['name']}"] = torch.from_numpy(r._field_codes(f, users))
        if times is not None:
            batch[TIME] = torch.as_tensor(np.asarray(times, dtype=np.int64))
        if ratings is not None:
            rated = np.zeros(history.shape, np.float32)
            before = np.zeros(len(users), np.float32)
            for b, (items, values) in enumerate(zip(histories, ratings)):
                values = np.asarray(values, dtype=np.float64)
                if len(values) != len(items):
                    raise ValueError(f"user {b}: {len(values)} ratings for a history of {len(items)} items")
                known = values[np.isfinite(values)]
                before[b] = known.mean() if len(known) else 0.0
                known_items = np.array([str(x) in r._item_row for x in items], dtype=bool)  # as _item_rows keeps
                tail = np.nan_to_num(values[known_items], nan=0.0)[-r.max_len:]
                rated[b, r.max_len - len(tail):] = tail
            batch[RATINGS], batch[RATING_BEFORE] = torch.from_numpy(rated), torch.from_numpy(before)
        return batch


def _read_meta(directory: Path) -> dict:
    path = directory / META
    meta = read_json(path, "not a TowerNAS cascade directory")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("schema") != SCHEMA:
        raise ArtifactError(f"{path}: not a TowerNAS cascade of schema {SCHEMA} (format {FORMAT!r})")
    missing = sorted({"k0", "stages", "files", "catalog"} - set(meta))
    if missing:
        raise ArtifactError(f"{path}: missing key(s) {missing}")
    return meta
