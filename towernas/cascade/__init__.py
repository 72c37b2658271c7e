"""Retrieve -> rank: the cascade of DESIGN.md (``python -m towernas.cascade``, ``__main__``).

- ``retriever_stage``: a retriever artifact as stage 1 (exact top-K0, protocol masking, dataset checks).
- ``queries``: training queries (train interactions) and the protocol's validation / test queries.
- ``candidates``: stage 1's lists for those queries, computed once per run.
- ``negatives``: which negatives a ranker trains on (uniform, the retriever's top, top + random, DNS).
- ``train``: batches of positives and negatives from the retriever's own candidates; reranked validation.
- ``fusion``: a ranker on top of the retriever's score; ``distill``: the ranker's scores back into stage 1.
- ``stages``: ``Cascade(retriever, k0, ranker stages).topk`` -> every stage's list and seconds.
- ``evaluate``: every stage's metrics on the same targets; ``report``: seeds aggregated, the results table.
- ``run``: the command (every ranker × negatives × seed trained, evaluated, the best exported).
"""
