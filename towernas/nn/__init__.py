"""Reusable layers. The search space, the standalone towers, the baselines (and the rankers) compose
these; a model file says which layers it uses and how they connect, not how a layer works.

- ``embeddings``: ``FieldEmbeddings`` (categorical fields, multi-valued ones mean-pooled), ``Embedder``
  (every table of a two-tower model).
- ``mlp``: ``mlp(in_dim, layers)``, the Linear/ReLU stack.
- ``attention``: ``MultiHeadSelfAttention`` (optionally masked).
- ``norm``: ``LayerNorm`` written with ops the complexity counter classifies.
- ``pooling``: ``masked_mean`` / ``masked_sum`` over a padded sequence.
- ``squeeze_excitation``: ``SqueezeExcitation`` field reweighting (SENET, FiBiNET).
"""

from towernas.nn.attention import MultiHeadSelfAttention
from towernas.nn.embeddings import Embedder, FieldEmbeddings
from towernas.nn.mlp import mlp
from towernas.nn.norm import LayerNorm
from towernas.nn.pooling import masked_mean, masked_sum
from towernas.nn.squeeze_excitation import SqueezeExcitation

__all__ = ["Embedder", "FieldEmbeddings", "LayerNorm", "MultiHeadSelfAttention", "SqueezeExcitation",
           "masked_mean", "masked_sum", "mlp"]
