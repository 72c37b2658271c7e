#!/usr/bin/env bash
# Transfer: an architecture searched on dataset A, retrained on dataset B (the JSON is dataset-agnostic;
# its complexity is recomputed for B's fields and history length).
#   bash recipes/transfer.sh recipes/synthetic-L.json ml-1m
set -euo pipefail
arch=${1:-recipes/synthetic-L.json}; target=${2:-ml-1m}; shift 2 || true
py=${PY:-.venv/bin/python}
"$py" -m towernas.retrain dataset="$target" "retrain.archs=[$arch]" 'retrain.baselines=[google_dnn]' \
  'retrain.seeds=[0,1,2]' hydra.run.dir="outputs/retrain/$target/transfer-$(basename "$arch" .json)" "$@"
