"""Retrieve -> rank pipelines (the cascade of DESIGN.md; the command is ``towernas.cascade``).

- ``retriever_stage``: a retriever artifact as stage 1 (exact top-K0, protocol masking, dataset checks).
- ``queries``: training queries (train interactions) and the protocol's validation / test queries.
- ``negatives``: which negatives a ranker trains on (uniform, the retriever's top, top + random, DNS).
- ``train``: batches of positives and negatives from the retriever's own candidates; reranked validation.
- ``cascade``: ``Cascade(retriever, k0, ranker stages).topk`` -> every stage's list and seconds.
- ``evaluate``: every stage's metrics on the same targets.
"""
