"""Cost-model throughput (architectures scored per second): ``python -m benchmarks.bench_complexity``."""

from benchmarks.cost_model import benchmark_cost_model as run

if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
