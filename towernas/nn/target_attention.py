"""Target attention over a behaviour history (DIN's activation unit), for one target or a candidate set.

A ranker scores C candidates per query at once, so the target may be (B, E) or (B, C, E); the history is
shared by every candidate of a query. Written with ops the complexity counter classifies (``PReLU`` too).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from towernas.runs.registry import Registry


class PReLU(nn.Module):
    """Parametric ReLU with one slope per unit: ``max(0, x) + a * min(0, x)``, a initialised to 0.25.

    Written with ``clamp`` so the complexity counter classifies it (``nn.PReLU`` dispatches to an op it
    does not know).

    Args:
        width: number of units (the last dim of the input).

    Example:
        >>> PReLU(2)(torch.tensor([[-4.0, 3.0]])).tolist()
        [[-1.0, 3.0]]
    """

    def __init__(self, width: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.full((width,), 0.25))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.clamp_min(0) + self.weight * x.clamp_max(0)


# activation name -> factory(width); the activation unit's hidden layers use one of these. The key is the
# one config key that picks one (DIN's option).
ACTIVATIONS: Registry[Callable[[int], nn.Module]] = Registry("activation", key="ranker.attention_activation")
ACTIVATIONS.register("sigmoid", lambda width: nn.Sigmoid())  # DIN's released code
ACTIVATIONS.register("relu", lambda width: nn.ReLU())
ACTIVATIONS.register("prelu", PReLU)  # the DIN paper (beside Dice)


class TargetAttention(nn.Module):
    """DIN's local activation unit (Zhou et al. 2018): a target-dependent weighted sum of the history.

    For a history h (B, L, E) with validity mask (B, L) and a target t (B, E), or C candidates t (B, C, E):

        w_j = MLP([h_j, t, h_j - t, h_j ⊙ t])     one scalar per position, (B, C, L); 4E -> hidden -> 1
        w_j = 0                                    where position j is padding
        out = sum_j w_j h_j                        (B, E), or (B, C, E) for candidates

    The MLP's hidden layers are Linear + ``activation``, its last layer a Linear to one unit with no
    activation. The weights are **not** normalised (no softmax), as in the DIN paper: their sum keeps the
    intensity of the user's interest in the target, so the output's norm may grow with the history.
    Memory is (B, C, L, 4E) for the activation unit's input.

    Args:
        dim: E, the width of history and target.
        hidden: widths of the activation unit's hidden layers.
        activation: a name in ``ACTIVATIONS`` ("sigmoid", "relu", "prelu").

    Example:
        >>> att = TargetAttention(dim=4, hidden=(36,), activation="prelu")
        >>> history, mask = torch.randn(2, 5, 4), torch.tensor([[True] * 5, [True] * 2 + [False] * 3])
        >>> att(history, torch.randn(2, 4), mask).shape, att(history, torch.randn(2, 3, 4), mask).shape
        (torch.Size([2, 4]), torch.Size([2, 3, 4]))
        >>> att.weights(history, torch.randn(2, 4), mask)[1, 2:].tolist()  # padding weighs 0
        [0.0, 0.0, 0.0]
    """

    def __init__(self, dim: int, hidden: Sequence[int] = (36,), activation: str = "sigmoid") -> None:
        super().__init__()
        factory = ACTIVATIONS.get(activation)
        layers: list[nn.Module] = []
        width = 4 * dim
        for size in hidden:
            layers += [nn.Linear(width, size), factory(size)]
            width = size
        self.unit = nn.Sequential(*layers, nn.Linear(width, 1))

    def weights(self, history: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Unnormalised weights: (B, L) for a target (B, E), (B, C, L) for candidates (B, C, E)."""
        w = self._weights(history, target.unsqueeze(1) if target.dim() == 2 else target, mask)
        return w.squeeze(1) if target.dim() == 2 else w

    def forward(self, history: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """history (B, L, E), target (B, E) or (B, C, E), mask (B, L) bool (True = real) or None -> like target."""
        candidates = target.unsqueeze(1) if target.dim() == 2 else target  # (B, C, E)
        out = self._weights(history, candidates, mask) @ history  # (B, C, L) @ (B, L, E) -> (B, C, E)
        return out.squeeze(1) if target.dim() == 2 else out

    def _weights(self, history: torch.Tensor, candidates: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        (b, length, dim), n_candidates = history.shape, candidates.shape[1]
        h = history.unsqueeze(1).expand(b, n_candidates, length, dim)  # (B, C, L, E)
        t = candidates.unsqueeze(2).expand(b, n_candidates, length, dim)  # (B, C, L, E)
        w = self.unit(torch.cat([h, t, h - t, h * t], -1)).squeeze(-1)  # (B, C, L)
        if mask is not None:
            w = w.masked_fill(~mask.unsqueeze(1), 0.0)
        return w
