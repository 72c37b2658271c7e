#!/usr/bin/env bash
# Reproduce the paper-style comparison on one dataset: search at L, M and H, retrain the top
# architectures and the four human baselines with 3 seeds each, then write the report.
#   bash recipes/compare.sh [dataset] [extra hydra overrides...]
# Paper scale: add supernet.steps=50000 search.population=50 search.generations=50.
set -euo pipefail
dataset=${1:-synthetic}; shift || true
py=${PY:-.venv/bin/python}
runs=()
for budget in L M H; do
  "$py" -m towernas.search dataset="$dataset" budget="$budget" "$@"
  out="outputs/retrain/$dataset/$budget/compare"
  "$py" -m towernas.retrain dataset="$dataset" budget="$budget" retrain.top_k=1 \
    'retrain.baselines=[google_dnn,senet,bst,mind]' 'retrain.seeds=[0,1,2]' hydra.run.dir="$out" "$@"
  runs+=("$out")
done
"$py" -m towernas.report "${runs[@]}" --out "outputs/report/$dataset"
