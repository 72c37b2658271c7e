"""Rankers: models that rescore a query's candidates, ``score(batch, items (B, C)) -> (B, C)`` logits.

One file per model, composed from ``towernas.nn`` layers over the shared pair fields (``inputs``), each
registered in ``RANKERS`` under its config name (``ranker=<name>``; its options are its constructor's
typed parameters, ``towernas.config.ranker``):

| name | model | interaction |
|---|---|---|
| ``lr`` | logistic regression | none (first order) |
| ``fm`` | factorization machine | all pairs, inner product |
| ``wide_deep`` | Wide & Deep | MLP (implicit) |
| ``deepfm`` | DeepFM | FM + MLP |
| ``dcn`` | Deep & Cross | cross network ∥ MLP |
| ``dcnv2`` | DCN-V2 | matrix cross layers, stacked/parallel |
| ``xdeepfm`` | xDeepFM | CIN + MLP |
| ``autoint`` | AutoInt (AutoInt+ with ``hidden``) | self-attention over fields |
| ``fibinet`` | FiBiNET | SENET + bilinear |
| ``din`` | DIN | target attention over the history |
| ``two_tower`` | dot product of two MLP towers | none before the dot (the control) |
| ``mf`` | biased matrix factorization | user · item ids (id-only) |
| ``ncf`` | NeuMF (GMF ∥ MLP) | element-wise + MLP over ids (id-only) |
| ``arch`` | a searched or written ``RankerArch`` | a chain of blocks (``towernas.space.ranker_ops``) |

Example:
    >>> import torch
    >>> from towernas.rankers.inputs import Catalog
    >>> ranker = build_ranker("deepfm", Catalog(n_users=4, n_items=9), embed=8, hidden=[16])
    >>> batch = {"user": torch.tensor([0, 3]), "history": torch.tensor([[9, 1], [2, 5]])}
    >>> ranker.score(batch, torch.tensor([[1, 2, 3], [4, 5, 6]])).shape
    torch.Size([2, 3])
"""

from towernas.rankers import (arch, autoint, dcn, dcnv2, deepfm, din, fibinet, fm, lr, mf, ncf, two_tower,  # noqa: F401
                              wide_deep, xdeepfm)  # (register)
from towernas.rankers.base import RANKERS, Ranker
from towernas.rankers.inputs import Catalog, PairFields, PairInputs


def build_ranker(name: str, catalog: Catalog, **hyperparameters) -> Ranker:
    """A freshly initialised ranker ``name``; an unknown name or hyperparameter is a one-line error."""
    return RANKERS.build(name, catalog, **hyperparameters)


__all__ = ["RANKERS", "Catalog", "PairFields", "PairInputs", "Ranker", "build_ranker"]
