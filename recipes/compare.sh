#!/usr/bin/env bash
# Reproduce the paper-style comparison on one dataset: search at L, M and H, retrain the top
# architectures and the four human baselines with 3 seeds each, then write the report and the leaderboard.
#   bash recipes/compare.sh [dataset] [extra hydra overrides...]
#   BUDGETS="L M" bash recipes/compare.sh synthetic 'retrain.seeds=[0]'    # fewer budgets / seeds
# Paper scale: add supernet.steps=50000 search.population=50 search.generations=50.
# Outputs: outputs/report/<dataset>/ (report.md, report.csv, recall_vs_flops.png) and
# outputs/leaderboard/<dataset>/index.html (a static site: open it in a browser, no server).
set -euo pipefail
dataset=${1:-synthetic}; shift || true
py=${PY:-.venv/bin/python}
retrains=(); searches=()
for budget in ${BUDGETS:-L M H}; do
  search="outputs/search/$dataset/$budget-compare"
  "$py" -m towernas.search dataset="$dataset" budget="$budget" hydra.run.dir="$search" "$@"
  out="outputs/retrain/$dataset/$budget/compare"
  "$py" -m towernas.retrain dataset="$dataset" budget="$budget" retrain.top_k=1 retrain.search_dir="$search" \
    'retrain.baselines=[google_dnn,senet,bst,mind]' 'retrain.seeds=[0,1,2]' hydra.run.dir="$out" "$@"
  retrains+=("$out"); searches+=("$search")
done
"$py" -m towernas.report "${retrains[@]}" --out "outputs/report/$dataset"
"$py" -m towernas.report --html "outputs/leaderboard/$dataset" "${retrains[@]}" "${searches[@]}"
