#!/usr/bin/env bash
# Reproduce the ranker tables of docs/results/rankers.md and cascade.md on one dataset: the CTR task for every ranker (3 seeds), then the
# cascade on a retrained retriever for every negative mode (3 ranker seeds) and the joint mode.
#   bash recipes/rankers.sh [dataset] [arch.json]
# Default retriever: recipes/synthetic-L-seed0.json (bench_compare's searched L towers, seed 0), retrained
# with the defaults. Every command resumes when rerun (same run directories).
set -euo pipefail
dataset=${1:-synthetic}
arch=${2:-recipes/synthetic-L-seed0.json}
py=${PY:-.venv/bin/python}
out="outputs/recipes/rankers/$dataset"
for ranker in lr fm wide_deep deepfm dcn dcnv2 xdeepfm autoint fibinet din two_tower; do
  "$py" -m towernas.rank dataset="$dataset" ranker="$ranker" 'rank.seeds=[0,1,2]' hydra.run.dir="$out/rank/$ranker"
done
"$py" -m towernas.retrain dataset="$dataset" "retrain.archs=[$arch]" hydra.run.dir="$out/retrain"
for ranker in deepfm din dcnv2 two_tower; do
  "$py" -m towernas.cascade dataset="$dataset" ranker="$ranker" "cascade.rankers=[$ranker]" \
    cascade.retriever="$out/retrain/retriever" 'cascade.negatives=[uniform,top,top_random,dns]' \
    'cascade.seeds=[0,1,2]' hydra.run.dir="$out/cascade/$ranker"
done
"$py" -m towernas.cascade dataset="$dataset" ranker=deepfm 'cascade.rankers=[deepfm]' \
  cascade.retriever="$out/retrain/retriever" 'cascade.negatives=[top_random]' 'cascade.seeds=[0,1,2]' \
  'cascade.joint=[distill]' hydra.run.dir="$out/cascade/distill"
