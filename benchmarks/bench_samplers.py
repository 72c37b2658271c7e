"""Benchmark: negative-sampler throughput (negatives/s), batch 1024 x 256 negatives over 160,000 items, one thread.

Setup (full): N = 160,000 items with Zipf(1.1) train counts, B = 1024 queries (L2-normalised Gaussian, d = 64),
positives drawn by popularity, n = 256 negatives. Each sampler is fitted once; a timed call is one training
step's ``observe(positives)`` + ``sample(query, positives, n, encode_items=...)`` (``observe`` is a no-op except
for the streaming in-batch estimator of ``in_batch`` / ``mixed``), log q included.

Two shapes, because the samplers promise two kinds of pools:

- ``per_step``: the natural call, ``n = 256``. Shared samplers (uniform, popularity, mixed; in_batch draws
  nothing) return one pool of 256 ids for the whole batch; per-row samplers (dns, cluster) return (1024, 256).
- ``per_row``: the work of giving every row its own 256 ids. For shared samplers ``sample(n = 1024 * 256)``
  (and, for popularity, the raw ``PopularitySampler.draw((1024, 256))``); for dns and cluster it is the natural
  call again.

Columns: ``ids/call``; ``negatives/s`` = ids drawn per second; ``row-negatives/s`` = B x n / seconds per call,
the (row, negative) pairs a step's loss sees (a shared pool gives each of the B rows its n negatives, so a
per-step shared call counts B x n too — that is the point of sharing a pool). References over the same
B x n ids: ``torch.randint`` (uniform) and ``torch.multinomial(probs, B * n, replacement=True)`` over the
popularity distribution of the popularity sampler (exponent 0.75, float32 probabilities).

dns: a pool of 1024 uniform candidates scored by a (N, 64) random item-vector table (the encoder is a row
lookup). cluster: 64 clusters from ``set_clusters`` (a random assignment, centroids = the clusters' mean item
vectors); the refresh is excluded from the timed loop and timed once separately: ``ClusterSampler.refresh``
on the (N, 64) table, i.e. a real ``faiss.Kmeans`` (10 iterations; faiss trains on at most 256 points per
centroid) plus the assignment search over all N items.

Timing: ``time.perf_counter``; per case warm-up calls, then a call count calibrated to last ``min_seconds``,
then ``repeats`` rounds interleaved across cases (background load hits every case alike); reported per call:
median (primary) and best. torch and faiss run single-threaded.

Run: ``python -m benchmarks.bench_samplers [--repeats N] [--quick]``; writes ``bench_results/samplers.{json,md}``.
``--quick``: 3 repeats of at least 0.05 s each (same sizes), for a smoke run.
"""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from towernas.data.train_stats import TrainStats
from benchmarks.common import benchmark_parser, markdown_table, register, write_report
from towernas.samplers import build_sampler

OUT = Path(__file__).resolve().parent.parent / "bench_results"
SAMPLER_ORDER = ("in_batch", "uniform", "popularity", "mixed", "dns", "cluster")


def setup(n_items: int, batch: int, dim: int, seed: int = 0) -> dict:
    """Train counts, a batch of queries and positives, and an item-vector table (all seeded)."""
    rng = np.random.default_rng(seed)
    zipf = 1.0 / np.arange(1, n_items + 1) ** 1.1
    counts = rng.multinomial(20 * n_items, zipf / zipf.sum())[rng.permutation(n_items)]
    stats = TrainStats(item_counts=counts, user_counts=np.ones(1, dtype=np.int64),
                       recent_item_counts=counts, pair_keys=np.zeros(1, dtype=np.int64))
    g = torch.Generator().manual_seed(seed)
    query = torch.nn.functional.normalize(torch.randn(batch, dim, generator=g), dim=1)
    items = torch.nn.functional.normalize(torch.randn(n_items, dim, generator=g), dim=1)
    positives = torch.as_tensor(rng.choice(n_items, batch, p=counts / counts.sum()), dtype=torch.long)
    return {"stats": stats, "query": query, "items": items, "positives": positives}


def random_clusters(items: torch.Tensor, k: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A random assignment of the items to ``k`` clusters and each cluster's mean vector."""
    g = torch.Generator().manual_seed(seed)
    assign = torch.randint(0, k, (len(items),), generator=g)
    sums = torch.zeros(k, items.shape[1]).index_add_(0, assign, items)
    return sums / torch.bincount(assign, minlength=k).clamp_min(1)[:, None].float(), assign


def calibrate(fn: Callable[[], object], warmup: int, min_seconds: float) -> int:
    """Calls per timed round: enough for ``min_seconds`` (after ``warmup`` untimed calls)."""
    for _ in range(warmup):
        fn()
    start = time.perf_counter()
    fn()
    once = time.perf_counter() - start
    return max(1, int(np.ceil(min_seconds / max(once, 1e-9))))


def time_cases(cases: dict[str, Callable[[], object]], repeats: int, warmup: int,
               min_seconds: float) -> dict[str, dict]:
    """Seconds per call of every case: ``repeats`` rounds, interleaved across the cases."""
    number = {name: calibrate(fn, warmup, min_seconds) for name, fn in cases.items()}
    rounds: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeats):
        for name, fn in cases.items():
            start = time.perf_counter()
            for _ in range(number[name]):
                fn()
            rounds[name].append((time.perf_counter() - start) / number[name])
    return {name: {"median_s": statistics.median(t), "best_s": min(t), "calls_per_round": number[name],
                   "rounds_s": t} for name, t in rounds.items()}


def run(n_items: int = 160_000, batch: int = 1024, n: int = 256, dim: int = 64, pool: int = 1024,
        n_clusters: int = 64, kmeans_iters: int = 10, repeats: int = 7, warmup: int = 2, min_seconds: float = 0.2,
        seed: int = 0) -> dict:
    """Time every sampler and the two references; returns a JSON-serialisable dict (params, rows, refresh)."""
    data = setup(n_items, batch, dim, seed)
    stats, query, items, positives = data["stats"], data["query"], data["items"], data["positives"]
    encode = items.__getitem__  # ids -> (m, d) rows of the item-vector table
    total = batch * n
    options = {"dns": {"pool": pool}, "cluster": {"n_clusters": n_clusters, "refresh_every": 10**9,
                                                  "kmeans_iters": kmeans_iters}}
    samplers = {}
    for name in SAMPLER_ORDER:
        samplers[name] = build_sampler(name, seed=seed, **options.get(name, {}))
        samplers[name].fit(stats)
    samplers["cluster"].set_clusters(*random_clusters(items, n_clusters, seed))

    def step(name: str, k: int) -> Callable[[], object]:
        sampler = samplers[name]

        def call():
            sampler.observe(positives)
            return sampler.sample(query, positives, k, encode_items=encode)

        return call

    popularity = samplers["popularity"]
    probs = popularity.probability.float()
    g = torch.Generator().manual_seed(seed)
    # name -> (kind, shape, call, fn)
    cases: dict[str, tuple[str, str, str, Callable[[], object]]] = {
        "torch.randint": ("reference", "per_row", f"torch.randint(0, N, ({total},))",
                          lambda: torch.randint(0, n_items, (total,), generator=g)),
        "torch.multinomial": ("reference", "per_row", f"torch.multinomial(probs, {total}, replacement=True)",
                              lambda: torch.multinomial(probs, total, replacement=True, generator=g)),
    }
    for name in SAMPLER_ORDER:
        cases[f"{name}/per_step"] = ("sampler", "per_step", f"sample(n={n})", step(name, n))
    for name in ("uniform", "popularity", "mixed"):
        cases[f"{name}/per_row"] = ("sampler", "per_row", f"sample(n={batch}*{n})", step(name, total))
    cases["popularity.draw/per_row"] = ("sampler", "per_row", f"draw(({batch}, {n}))",
                                        lambda: popularity.draw((batch, n)))
    ids_per_call = {key: _ids(fn()) for key, (_, _, _, fn) in cases.items()}
    timings = time_cases({key: fn for key, (_, _, _, fn) in cases.items()}, repeats, warmup, min_seconds)

    reference = timings["torch.randint"]["median_s"]
    rows = []
    for key, (kind, shape, call, _) in cases.items():
        t = timings[key]
        name = key.split("/")[0]
        natural_per_row = name in ("dns", "cluster")
        rows.append({"name": name, "kind": kind, "shape": shape if not natural_per_row else "per_row",
                     "call": call, "ids_per_call": ids_per_call[key], "median_s": t["median_s"],
                     "best_s": t["best_s"],
                     "calls_per_round": t["calls_per_round"], "rounds_s": t["rounds_s"],
                     "negatives_per_s": ids_per_call[key] / t["median_s"],
                     "row_negatives_per_s": total / t["median_s"],
                     "vs_randint": t["median_s"] / reference})

    cluster = build_sampler("cluster", seed=seed, n_clusters=n_clusters, kmeans_iters=kmeans_iters)
    cluster.fit(stats)
    start = time.perf_counter()
    cluster.refresh(items)
    refresh_s = time.perf_counter() - start
    import faiss

    params = {"n_items": n_items, "batch": batch, "n_negatives": n, "dim": dim, "dns_pool": pool,
              "n_clusters": n_clusters, "kmeans_iters": kmeans_iters, "repeats": repeats, "warmup": warmup,
              "min_seconds": min_seconds, "seed": seed,
              "threads": {"torch": torch.get_num_threads(), "faiss": faiss.omp_get_max_threads()},
              "torch": torch.__version__, "faiss": faiss.__version__, "platform": platform.platform()}
    return {"params": params, "rows": rows,
            "cluster_refresh": {"seconds": refresh_s, "n_items": n_items, "dim": dim,
                                "n_clusters": len(cluster.centroids), "kmeans_iters": kmeans_iters,
                                "steps_to_amortise_at_refresh_every_200": refresh_s / 200}}


def _ids(out) -> int:
    return int((out.ids if hasattr(out, "ids") else out).numel())


def markdown(result: dict) -> str:
    p = result["params"]
    title = (f"# Negative-sampler throughput: B = {p['batch']}, n = {p['n_negatives']}, N = {p['n_items']:,}, "
             f"d = {p['dim']}, one thread")
    note = (f"torch {p['torch']}, faiss {p['faiss']}; median of {p['repeats']} interleaved rounds per call "
            "(best in brackets). negatives/s = ids drawn per second; row-negatives/s = B x n / seconds per call "
            "(a shared pool gives every row its n negatives). A timed call is observe + sample, log q included.")
    header = ["sampler", "shape", "call", "ids/call", "ms/call", "negatives/s", "row-negatives/s",
              "time / randint(B x n)"]
    rows = [[r["name"], r["shape"], f"`{r['call']}`", f"{r['ids_per_call']:,}",
             f"{1e3 * r['median_s']:.3f} ({1e3 * r['best_s']:.3f})", f"{r['negatives_per_s']:.3g}",
             f"{r['row_negatives_per_s']:.3g}", f"{r['vs_randint']:.2f}"] for r in result["rows"]]
    lines = [title, "", note, "", markdown_table(header, rows)]
    c = result["cluster_refresh"]
    refresh = (f"cluster refresh (not in the loop above): faiss k-means, {c['n_clusters']} centroids, "
               f"{c['kmeans_iters']} iterations, over {c['n_items']:,} x {c['dim']} item vectors + assignment: "
               f"{c['seconds']:.2f} s ({1e3 * c['steps_to_amortise_at_refresh_every_200']:.1f} ms per step at "
               "refresh_every=200, plus the catalogue pass of the item tower, not measured here).")
    lines += ["", refresh]
    return "\n".join(lines) + "\n"


def write(result: dict, out: Path = OUT) -> None:
    """``<out>/samplers.{json,md}``."""
    write_report(out, "samplers", result, markdown(result))


def main(argv: list[str] | None = None) -> dict:
    parser = benchmark_parser(__doc__, quick="3 rounds of >= 0.05 s per case, same sizes", out=str(OUT))
    parser.add_argument("--repeats", type=int, default=None, help="timed rounds per case (default 7; quick 3)")
    args = parser.parse_args(argv)
    import faiss

    torch.set_num_threads(1)
    faiss.omp_set_num_threads(1)
    repeats = args.repeats if args.repeats is not None else (3 if args.quick else 7)
    result = run(repeats=repeats, min_seconds=0.05 if args.quick else 0.2, warmup=1 if args.quick else 2)
    result["params"]["quick"] = args.quick
    write(result, Path(args.out))
    print(markdown(result))
    return result


register("samplers", "negative-sampler throughput (B 1024 x 256 negatives over 160k items) vs torch baselines")

if __name__ == "__main__":
    main()
