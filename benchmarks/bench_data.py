"""Data benchmark: a generated 5M-interaction Amazon-style CSV → processed dataset.

Measures the first (uncached) load and the cached reload, each in a fresh subprocess so that peak
resident memory (ru_maxrss) belongs to that load alone. Targets: first load ≤ 60 s and ≤ 4 GiB;
reload ≥ 10× faster.

    python -m benchmarks.bench_data [--quick]
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import print_run, register

_LOAD = """
import json, resource, sys, time
from towernas.config import DatasetConfig
from towernas.data import load_dataset
cfg = DatasetConfig(name="amazon", reader="amazon", root=sys.argv[1], download=False,
                    k_core_user=5, k_core_item=5, max_len=50, options={"meta_file": None})
t = time.perf_counter()
data = load_dataset(cfg, progress=False)
elapsed = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": elapsed, "peak_rss_bytes": peak, "summary": data.summary()}))
"""


def _load(root: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", _LOAD, str(root)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(quick: bool = False) -> dict:
    from tests.fakes.amazon import write_amazon_csv

    n_rows = 500_000 if quick else 5_000_000
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        raw = root / "raw" / "amazon"
        raw.mkdir(parents=True)
        t = time.perf_counter()
        write_amazon_csv(raw / "Books.csv", n_rows=n_rows, n_users=n_rows // 10, n_items=n_rows // 25, seed=0)
        generate_s = time.perf_counter() - t
        first = _load(root)
        again = _load(root)
    gib = first["peak_rss_bytes"] / 2**30
    return {
        "name": "data: amazon-style CSV -> processed dataset",
        "rows": n_rows,
        "csv_generate_seconds": round(generate_s, 2),
        "first_load_seconds": round(first["seconds"], 2),
        "first_load_peak_rss_gib": round(gib, 3),
        "cached_reload_seconds": round(again["seconds"], 3),
        "cached_reload_peak_rss_gib": round(again["peak_rss_bytes"] / 2**30, 3),
        "reload_speedup": round(first["seconds"] / max(again["seconds"], 1e-9), 1),
        "processed": first["summary"],
        "targets": {"first_load_seconds": 60, "first_load_peak_rss_gib": 4, "reload_speedup": 10},
        "pass": bool(first["seconds"] <= 60 and gib <= 4 and first["seconds"] >= 10 * again["seconds"]),
    }


register("data", "a generated 5M-interaction Amazon-style CSV -> processed dataset: first load and cached reload",
         run=run)

if __name__ == "__main__":
    print_run(run)
