"""Benchmark: ranker training throughput vs plain PyTorch, and cascade inference time per stage.

1. **Training throughput** (pairs/s, batch 4096, forward + backward + Adam step) of our ``deepfm`` and ``din``
   against a plain-PyTorch reference of the same model written here from ``nn.Embedding`` / ``nn.Linear``
   only (same fields, widths and maths; no TowerNAS code). Target: ours >= 0.8x the reference.
2. **Cascade inference** per 1,000 users at K0 = 200: stage 1 (a user MLP + exact top-K0 with masking over
   the catalogue) and each ranker stage (``rerank_batch`` of 200 candidates, keeping 50), timed apart.

Setup: 10k users, 20k items (full; quick: 2k / 4k), 4 user and 4 item fields, histories of 20, embed 16,
MLP (256, 128) for DeepFM and (200, 80) with a (36,) activation unit for DIN (items with their side features,
recency in the keys: the ranker's defaults). Median of ``repeats`` timed
steps after one warm-up step. Threads: library defaults (``OMP_NUM_THREADS=1`` for a load-robust number).

Run: ``python -m benchmarks.bench_rankers [--quick]`` (also ``make bench``).
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from benchmarks.common import print_run, register
from towernas.data.features import Field
from towernas.data.ragged import Ragged
from towernas.eval.topk import exact_topk
from towernas.cascade.stages import rerank_batch
from towernas.rankers import Catalog, build_ranker

TARGET_RATIO = 0.8
EMBED, L, BATCH = 16, 20, 4096
CARD = 50  # codes per side field


def make_catalog(n_users: int, n_items: int, seed: int = 0) -> Catalog:
    rng = np.random.default_rng(seed)
    user_fields = tuple(Field(f"u{i}", CARD) for i in range(4))
    item_fields = tuple(Field(f"i{i}", CARD) for i in range(4))
    return Catalog(n_users, n_items, L, user_fields, item_fields,
                   {f.name: rng.integers(1, CARD, n_items) for f in item_fields})


def make_batch(catalog: Catalog, b: int, c: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    batch = {"user": torch.randint(0, catalog.n_users, (b,), generator=g),
             "history": torch.randint(0, catalog.n_items, (b, L), generator=g)}
    for f in catalog.user_fields:
        batch[f"user:{f.name}"] = torch.randint(1, CARD, (b,), generator=g)
    items = torch.randint(0, catalog.n_items, (b, c), generator=g)
    return batch, items, torch.randint(0, 2, (b, c), generator=g).float()


# -- the plain-PyTorch references ------------------------------------------------------------------------------
class PlainFields(nn.Module):
    """Field embeddings written out: user id, 4 user fields, history length, latest item, mean history, item id,
    4 item fields -> (B, C, 13, E)."""

    def __init__(self, catalog: Catalog, dim: int) -> None:
        super().__init__()
        self.n_items = catalog.n_items
        self.user = nn.Embedding(catalog.n_users + 1, dim)
        self.item = nn.Embedding(catalog.n_items + 1, dim, padding_idx=catalog.n_items)
        self.length = nn.Embedding(L + 1, dim)
        self.user_fields = nn.ModuleList(nn.Embedding(CARD, dim) for _ in catalog.user_fields)
        self.item_fields = nn.ModuleList(nn.Embedding(CARD, dim) for _ in catalog.item_fields)
        codes = torch.stack([torch.as_tensor(catalog.item_values[f.name]) for f in catalog.item_fields], 1)
        self.register_buffer("codes", torch.cat([codes, codes.new_zeros(1, codes.shape[1])]))
        self.user_names = [f"user:{f.name}" for f in catalog.user_fields]

    def forward(self, batch, items):
        h = batch["history"]
        mask = (h != self.n_items).float()
        seq = self.item(h)
        mean = (seq * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp_min(1)
        q = torch.stack([self.user(batch["user"]), *(t(batch[n]) for t, n in zip(self.user_fields, self.user_names)),
                         self.length(mask.sum(1).long()), seq[:, -1], mean], 1)  # (B, 8, E)
        codes = self.codes[items]  # (B, C, 4)
        c = torch.stack([self.item(items), *(t(codes[..., j]) for j, t in enumerate(self.item_fields))], 2)
        return q, seq, mask, c

    def items_with_fields(self, items):
        """(B, C) ids -> (B, C, E): id embedding + the 4 item field embeddings, summed."""
        codes = self.codes[items]
        return self.item(items) + sum(t(codes[..., j]) for j, t in enumerate(self.item_fields))


class PlainDeepFM(nn.Module):
    def __init__(self, catalog: Catalog) -> None:
        super().__init__()
        self.fields, self.linear = PlainFields(catalog, EMBED), PlainFields(catalog, 1)
        self.bias = nn.Parameter(torch.zeros(()))
        self.deep = nn.Sequential(nn.Linear(13 * EMBED, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                                  nn.Linear(128, 1))

    def forward(self, batch, items):
        q, _, _, c = self.fields(batch, items)
        x = torch.cat([q[:, None].expand(-1, c.shape[1], -1, -1), c], 2)  # (B, C, 13, E)
        lq, _, _, lc = self.linear(batch, items)
        first = lq.sum((1, 2))[:, None] + lc.sum((2, 3)) + self.bias
        fm = 0.5 * (x.sum(2) ** 2 - (x ** 2).sum(2)).sum(-1)
        return first + fm + self.deep(x.flatten(2)).squeeze(-1)


class LastDimPReLU(nn.Module):
    """PReLU over the last dimension (``nn.PReLU`` puts channels on dim 1)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.full((width,), 0.25))

    def forward(self, x):
        return torch.where(x > 0, x, self.a * x)


class PlainDIN(nn.Module):
    def __init__(self, catalog: Catalog) -> None:
        super().__init__()
        self.fields = PlainFields(catalog, EMBED)
        self.recency = nn.Parameter(torch.zeros(L, EMBED))  # added to the attention keys
        self.unit = nn.Sequential(nn.Linear(4 * EMBED, 36), LastDimPReLU(36), nn.Linear(36, 1))
        self.deep = nn.Sequential(nn.Linear(13 * EMBED, 200), nn.ReLU(), nn.Linear(200, 80), nn.ReLU(),
                                  nn.Linear(80, 1))

    def forward(self, batch, items):
        q, _, mask, c = self.fields(batch, items)
        seq = self.fields.items_with_fields(batch["history"])  # (B, L, E) history items with their fields
        t = c.sum(2)  # (B, C, E) candidates with their fields
        h = (seq + self.recency)[:, None].expand(-1, t.shape[1], -1, -1)
        tt = t[:, :, None].expand_as(h)
        w = self.unit(torch.cat([h, tt, h - tt, h * tt], -1)).squeeze(-1) * mask[:, None]  # (B, C, L)
        interest = w @ seq  # (B, C, E)
        x = torch.cat([q[:, None, :-1].expand(-1, t.shape[1], -1, -1), interest[:, :, None], c], 2)
        return self.deep(x.flatten(2)).squeeze(-1)


# -- measurements ------------------------------------------------------------------------------------------------
def train_step_seconds(model: nn.Module, batch, items, labels, repeats: int) -> float:
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        loss = F.binary_cross_entropy_with_logits(model(batch, items), labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def throughput(catalog: Catalog, repeats: int) -> dict:
    batch, items, labels = make_batch(catalog, BATCH, 1)
    out = {}
    for name, plain, hp in (("deepfm", PlainDeepFM, {"embed": EMBED, "hidden": [256, 128]}),
                            ("din", PlainDIN, {"embed": EMBED, "hidden": [200, 80], "attention_hidden": [36]})):
        torch.manual_seed(0)
        ours = build_ranker(name, catalog, **hp)
        reference = plain(catalog)
        t_ours = t_ref = 0.0
        for _ in range(2):  # interleaved, so background load hits both alike
            t_ours += train_step_seconds(ours, batch, items, labels, repeats)
            t_ref += train_step_seconds(reference, batch, items, labels, repeats)
        out[name] = {"ours_pairs_per_s": round(2 * BATCH / t_ours), "reference_pairs_per_s": round(2 * BATCH / t_ref),
                     "ratio": round(t_ref / t_ours, 3), "meets_target": t_ref / t_ours >= TARGET_RATIO}
    return out


@torch.no_grad()
def cascade_inference(catalog: Catalog, n_users: int = 1000, k0: int = 200, k1: int = 50, dim: int = 64) -> dict:
    rng = np.random.default_rng(0)
    tower = nn.Sequential(nn.Linear(8 * EMBED, 128), nn.ReLU(), nn.Linear(128, dim))
    fields = PlainFields(catalog, EMBED)
    items = rng.standard_normal((catalog.n_items, dim)).astype(np.float32)
    exclude = Ragged.from_lengths(np.full(n_users, L), rng.integers(0, catalog.n_items, n_users * L))
    batch, _, _ = make_batch(catalog, n_users, 1)
    start = time.perf_counter()
    q, _, _, _ = fields(batch, torch.zeros(n_users, 1, dtype=torch.long))
    ids, _ = exact_topk(tower(q.flatten(1)).numpy(), items, k0, exclude)
    out = {"retriever_ms_per_1000_users": round(1000 * (time.perf_counter() - start) * 1000 / n_users, 1)}
    for name, hp in (("deepfm", {"embed": EMBED}), ("din", {"embed": EMBED})):
        ranker = build_ranker(name, catalog, **hp).eval()
        start = time.perf_counter()
        for s in range(0, n_users, 256):
            sub = {k: v[s:s + 256] for k, v in batch.items()}
            rerank_batch(ranker, sub, ids[s:s + 256], k1)
        out[f"{name}_ms_per_1000_users"] = round(1000 * (time.perf_counter() - start) * 1000 / n_users, 1)
    return out


def run(quick: bool = False) -> dict:
    catalog = make_catalog(2_000, 4_000) if quick else make_catalog(10_000, 20_000)
    return {"name": "ranker training throughput vs plain PyTorch (batch 4096) and cascade inference (K0=200)",
            "target_ratio": TARGET_RATIO, "throughput": throughput(catalog, repeats=2 if quick else 5),
            "cascade_inference": cascade_inference(catalog, n_users=200 if quick else 1000)}




register("rankers", "ranker training throughput vs plain PyTorch, and cascade inference time per stage", run=run)

if __name__ == "__main__":
    print_run(run, description=__doc__)
