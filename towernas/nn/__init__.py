"""Reusable layers. The search space, the standalone towers, the baselines (and the rankers) compose
these; a model file says which layers it uses and how they connect, not how a layer works.

- ``embeddings``: ``FieldEmbeddings`` (categorical fields, multi-valued ones mean-pooled), ``Embedder``
  (every table of a two-tower model).
- ``mlp``: ``mlp(in_dim, layers)``, the Linear/ReLU stack.
- ``attention``: ``MultiHeadSelfAttention`` (optionally masked).
- ``norm``: ``LayerNorm`` written with ops the complexity counter classifies.
- ``pooling``: ``masked_mean`` / ``masked_sum`` over a padded sequence.
- ``squeeze_excitation``: ``SqueezeExcitation`` field reweighting (SENET, FiBiNET).
- ``interactions``: over field embeddings (B, F, E): ``FactorizationMachine`` (FM's pairwise term),
  ``BilinearInteraction`` (FiBiNET), ``CIN`` (xDeepFM), ``InteractingLayer`` (AutoInt).
- ``cross``: over flat vectors (B, D): ``CrossNet`` (DCN), ``CrossNetV2`` (DCN-V2, full or low rank).
- ``target_attention``: ``TargetAttention`` (DIN's activation unit, one target or C candidates), ``PReLU``.
- ``pair_features``: ``NumericFields`` (scalar features as field embeddings), ``NeighbourAffinity`` and
  ``CodeAffinity`` (a candidate's closeness to the history through item neighbours / shared categories).
"""

from towernas.nn.attention import MultiHeadSelfAttention
from towernas.nn.cross import CrossNet, CrossNetV2
from towernas.nn.embeddings import Embedder, FieldEmbeddings
from towernas.nn.interactions import CIN, BilinearInteraction, FactorizationMachine, InteractingLayer
from towernas.nn.mlp import mlp
from towernas.nn.norm import LayerNorm
from towernas.nn.pooling import masked_mean, masked_sum
from towernas.nn.squeeze_excitation import SqueezeExcitation
from towernas.nn.target_attention import PReLU, TargetAttention

__all__ = ["CIN", "BilinearInteraction", "CrossNet", "CrossNetV2", "Embedder", "FactorizationMachine",
           "FieldEmbeddings", "InteractingLayer", "LayerNorm", "MultiHeadSelfAttention", "PReLU",
           "SqueezeExcitation", "TargetAttention", "masked_mean", "masked_sum", "mlp"]
