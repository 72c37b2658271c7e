"""Users' own data at scale: a generated 10M-row interactions table (CSV and Parquet) → processed dataset.

Each load runs in a fresh subprocess. It reports the seconds, the peak resident memory above what the process
held before loading (``ru_maxrss`` minus the resident size after the imports), and that peak over the bytes of
the processed arrays (``InteractionData``'s ids, times, split, ratings and original-id arrays). Target: the
ratio ≤ 2 (issue 25).

    python -m benchmarks.bench_own_data [--quick] [--rows N] [--formats csv,parquet]

Writes bench_results/own-data.{json,md}.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import benchmark_parser, markdown_table, register, write_report

_LOAD = """
import json, resource, sys, time
import numpy as np
from towernas.config import DatasetConfig
from towernas.data import load_dataset
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()
before = rss()
cfg = DatasetConfig(name="own", reader="table", root=sys.argv[1], download=False, cache=False, max_len=50,
                    options={"interactions": sys.argv[2],
                             "columns": {"user": "uid", "item": "sku", "timestamp": "ts", "rating": "stars"}})
t = time.perf_counter()
data = load_dataset(cfg, progress=False)
elapsed = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
arrays = (data.users, data.items, data.timestamps, data.user_indptr, data.split, data.ratings, data.user_ids,
          data.item_ids)
print(json.dumps({"seconds": elapsed, "peak_rss_bytes": peak, "rss_before_bytes": before,
                  "processed_bytes": int(sum(a.nbytes for a in arrays)), "summary": data.summary()}))
"""


def write_interactions(directory: Path, rows: int, seed: int = 0) -> dict[str, Path]:
    """``interactions.csv`` and ``.parquet``: string user / item ids (Zipf-like items), unix times, ratings 1-5."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    n_users, n_items = max(10, rows // 20), max(10, rows // 100)
    users = rng.integers(0, n_users, rows)
    items = np.minimum((rng.pareto(1.2, rows) * n_items / 50).astype(np.int64), n_items - 1)

    def ids(prefix: str, values: np.ndarray) -> pa.Array:
        return pc.binary_join_element_wise(prefix, pc.cast(pa.array(values), pa.string()), "")

    table = pa.table({"uid": ids("u", users), "sku": ids("sku-", items),
                      "ts": pa.array(rng.integers(1_500_000_000, 1_700_000_000, rows)),
                      "stars": pa.array(rng.integers(1, 6, rows).astype(np.float64))})
    paths = {"csv": directory / "interactions.csv", "parquet": directory / "interactions.parquet"}
    pacsv.write_csv(table, paths["csv"])
    pq.write_table(table, paths["parquet"], row_group_size=1 << 20)
    return paths


def _load(root: Path, file: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", _LOAD, str(root), str(file)], check=True, capture_output=True,
                         text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(quick: bool = False, rows: int | None = None, formats=("csv", "parquet")) -> dict:
    rows = rows or (1_000_000 if quick else 10_000_000)
    result = {"name": "own data: a table of interactions -> processed dataset", "rows": rows, "loads": {}}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        directory = root / "raw" / "own"
        directory.mkdir(parents=True)
        t = time.perf_counter()
        paths = write_interactions(directory, rows)
        result["generate_seconds"] = round(time.perf_counter() - t, 1)
        for kind in formats:
            load = _load(root, paths[kind])
            used = load["peak_rss_bytes"] - load["rss_before_bytes"]
            result["loads"][kind] = {
                "file_mib": round(paths[kind].stat().st_size / 2**20, 1),
                "seconds": round(load["seconds"], 1),
                "peak_above_start_mib": round(used / 2**20, 1),
                "processed_arrays_mib": round(load["processed_bytes"] / 2**20, 1),
                "peak_over_processed": round(used / load["processed_bytes"], 2),
                "interactions": load["summary"]["interactions"],
            }
    result["target_peak_over_processed"] = 2.0
    result["pass"] = all(v["peak_over_processed"] <= 2.0 for v in result["loads"].values())
    return result


def to_markdown(result: dict) -> str:
    columns = ("file_mib", "seconds", "peak_above_start_mib", "processed_arrays_mib", "peak_over_processed")
    lines = [f"# Own data at scale: {result['rows']:,} interaction rows (`python -m benchmarks.bench_own_data`)", "",
             markdown_table(["format", "file MiB", "seconds", "peak above start MiB", "processed arrays MiB",
                             "peak / processed"], [[kind, *(v[c] for c in columns)]
                                                   for kind, v in result["loads"].items()])]
    lines += ["", f"Target: peak / processed ≤ {result['target_peak_over_processed']}; pass: {result['pass']}.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = benchmark_parser(__doc__, quick="1M rows instead of 10M")
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--formats", default="csv,parquet")
    args = parser.parse_args(argv)
    res = run(args.quick, args.rows, tuple(args.formats.split(",")))
    write_report(args.out, "own-data", res, to_markdown(res), echo=True)
    return res


register("own_data", "a generated 10M-row interactions table (CSV, Parquet) -> processed dataset, peak memory", run=run)

if __name__ == "__main__":
    main()
