"""Full-ranking evaluation: exact top-k with exclusions, ranking metrics, and the Retriever interface."""

from towernas.eval.evaluate import evaluate
from towernas.eval.metrics import mean_metrics, per_query_metrics
from towernas.eval.retriever import Retriever
from towernas.eval.topk import ExactTopK, exact_topk

__all__ = ["ExactTopK", "Retriever", "evaluate", "exact_topk", "mean_metrics", "per_query_metrics"]
