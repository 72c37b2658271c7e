"""``python -m towernas.search dataset=<name> budget=<L|M|H>``: the architecture search, in three stages.

1. Train the weight-sharing supernet of ``cfg.space`` (SPOS over budget-feasible paths, in-batch softmax +
   streaming logQ), then run the complexity-aware evolution with fitness = full-ranking validation
   Recall@50 of each child through the supernet weights (or its validation loss) and cost = exact
   per-tower params/FLOPs. The evolution only orders candidates, and stops once its best fitness stalls
   (``search.stall_generations``): polishing the supernet's fitness further only reorders ties.
2. Short retrains (``search.short_epochs``) of ``search.final_candidates`` genomes, proposed one at a time
   (``towernas.search.proposals``): the supernet's best of every pooling first, then the supernet's diverse top;
   then the in-budget MLP of the pooling that retrained best.
3. Full retrains of the best few on ``search.final_seeds`` decide: ``best.json`` is the validation winner.

``search.strategy=random`` replaces stage 1 by random feasible architectures (the equal-compute control).
Writes into the run directory: ``run_config.json``, ``supernet.pt`` (+ ``supernet.prev.pt``,
``supernet_best.pt``), ``supernet.jsonl``, ``search.jsonl``, ``evolution_state.json``, ``selection.json``
(retrain scores), ``selection.jsonl``, ``archs/top<i>.json``, ``best.json`` (and ``best_<budget>.json`` +
``pareto_front.json`` in pareto mode), ``summary.{json,md}``. Rerunning the same command resumes.
Validation only: the test split is never read here.
"""

from __future__ import annotations

from towernas.search.run import run_search

__all__ = ["run_search"]
