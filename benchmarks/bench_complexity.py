"""Cost-model throughput (architectures scored per second): ``python -m benchmarks.bench_complexity``."""

from benchmarks.common import print_run, register
from benchmarks.cost_model import benchmark_cost_model as run

register("complexity", "cost-model throughput: architectures scored per second", run=run)

if __name__ == "__main__":
    print_run(run)
