"""Interaction layers (FM, cross, CIN, bilinear, AutoInt, DIN) against explicit loops over their formulas."""

import itertools
import math

import pytest
import torch

from towernas.complexity.counting import count_ops, count_ops_torchprofile
from towernas.nn import (
    CIN,
    BilinearInteraction,
    CrossNet,
    CrossNetV2,
    FactorizationMachine,
    InteractingLayer,
    PReLU,
    TargetAttention,
)

B, F, E = 3, 4, 5


def _randomise(module: torch.nn.Module) -> torch.nn.Module:
    """float64, and every parameter (zero-initialised biases too) drawn at random so no term can hide."""
    module.double()
    torch.manual_seed(1)
    with torch.no_grad():
        for p in module.parameters():
            p.uniform_(-0.8, 0.8)
    return module


def test_fm_equals_the_sum_over_pairs_of_inner_products():
    x = torch.randn(B, F, E, dtype=torch.float64)
    expected = torch.zeros(B, 1, dtype=torch.float64)
    for b, i, j in itertools.product(range(B), range(F), range(F)):
        if i < j:
            expected[b, 0] += torch.dot(x[b, i], x[b, j])
    torch.testing.assert_close(FactorizationMachine()(x), expected)


def test_cross_net_equals_its_per_layer_formula():
    net = _randomise(CrossNet(dim=6, n_layers=3))
    x0 = torch.randn(B, 6, dtype=torch.float64)
    for b in range(B):
        x = x0[b]
        for layer in range(3):
            w, bias = net.weights[layer].weight[0], net.biases[layer]
            x = x0[b] * torch.dot(w, x) + bias + x
        torch.testing.assert_close(net(x0)[b], x)


@pytest.mark.parametrize("rank", [None, 2])
def test_cross_net_v2_equals_its_per_layer_formula(rank):
    dim, n_layers = 6, 3
    net = _randomise(CrossNetV2(dim, n_layers, rank=rank))
    x0 = torch.randn(B, dim, dtype=torch.float64)
    for b in range(B):
        x = x0[b]
        for layer in net.layers:
            if rank is None:
                w, bias = layer.weight, layer.bias  # (D, D), (D,)
            else:
                v_t, u = layer[0].weight, layer[1].weight  # V^T (r, D), U (D, r)
                w, bias = u @ v_t, layer[1].bias
            x = x0[b] * (w @ x + bias) + x
        torch.testing.assert_close(net(x0)[b], x)
    per_layer = dim * dim + dim if rank is None else 2 * dim * rank + dim
    assert sum(p.numel() for p in net.parameters()) == n_layers * per_layer


@pytest.mark.parametrize("split_half", [True, False])
def test_cin_equals_the_papers_formula(split_half):
    sizes = (4, 6, 3)
    cin = _randomise(CIN(F, sizes, split_half=split_half))
    x0 = torch.randn(B, F, E, dtype=torch.float64)
    xk, pooled = x0, []
    for k, (layer, size) in enumerate(zip(cin.layers, sizes)):
        w = layer.weight.view(size, xk.shape[1], F)  # W^k[h, i, j]
        xk = torch.einsum("hij,bid,bjd->bhd", w, xk, x0)  # (B, H_k, D)
        if split_half and k + 1 < len(sizes):
            xk, out = xk[:, : size // 2], xk[:, size // 2:]  # first half on, second half out
        else:
            out = xk
        pooled.append(out.sum(-1))
    expected = torch.cat(pooled, 1)
    assert cin.out_dim == expected.shape[1] == (2 + 3 + 3 if split_half else 4 + 6 + 3)
    torch.testing.assert_close(cin(x0), expected)


@pytest.mark.parametrize("bilinear_type", ["field_all", "field_each", "field_interaction"])
def test_bilinear_equals_the_per_pair_loop(bilinear_type):
    layer = _randomise(BilinearInteraction(F, E, bilinear_type))
    x = torch.randn(B, F, E, dtype=torch.float64)
    expected = []
    for p, (i, j) in enumerate(itertools.combinations(range(F), 2)):
        w = layer.weight[{"field_all": 0, "field_each": i, "field_interaction": p}[bilinear_type]]
        expected.append((x[:, i] @ w) * x[:, j])  # (B, E)
    torch.testing.assert_close(layer(x), torch.stack(expected, 1))
    assert layer(x).shape == (B, F * (F - 1) // 2, E)


@pytest.mark.parametrize("heads, scaled, residual", [(1, False, True), (2, False, True), (2, True, False)])
def test_interacting_layer_equals_a_manual_per_head_computation(heads, scaled, residual):
    d = 3
    layer = _randomise(InteractingLayer(E, heads, d, residual=residual, scaled=scaled))
    x = torch.randn(B, F, E, dtype=torch.float64)
    w = layer.qkv.weight  # rows [W_Q heads; W_K heads; W_V heads], each head d rows
    outs = []
    for h in range(heads):
        wq, wk, wv = (w[(part * heads + h) * d:(part * heads + h + 1) * d] for part in range(3))
        logits = (x @ wq.T) @ (x @ wk.T).transpose(1, 2)  # (B, F, F)
        if scaled:
            logits = logits / math.sqrt(d)
        outs.append(torch.softmax(logits, -1) @ (x @ wv.T))  # (B, F, d)
    expected = torch.cat(outs, -1)
    if residual:
        expected = expected + x @ layer.residual.weight.T
    out = layer(x)
    assert out.shape == (B, F, heads * d)
    torch.testing.assert_close(out, torch.relu(expected))


def _din_by_hand(att: TargetAttention, history, target, mask, act):
    """w[b, j] = Linear2(act(Linear1([h_j, t, h_j - t, h_j * t]))), 0 where padded; one position at a time."""
    lin1, lin2 = att.unit[0], att.unit[2]
    w = torch.zeros(history.shape[:2], dtype=history.dtype)
    for b, j in itertools.product(range(history.shape[0]), range(history.shape[1])):
        h, t = history[b, j], target[b]
        hidden = act(lin1.weight @ torch.cat([h, t, h - t, h * t]) + lin1.bias)
        w[b, j] = (lin2.weight @ hidden + lin2.bias)[0] if mask[b, j] else 0.0
    return w


@pytest.mark.parametrize("activation", ["sigmoid", "relu", "prelu"])
def test_din_weights_equal_a_hand_computation_and_padding_weighs_zero(activation):
    att = _randomise(TargetAttention(E, hidden=(7,), activation=activation))
    act = {"sigmoid": torch.sigmoid, "relu": torch.relu,
           "prelu": lambda z: torch.where(z > 0, z, att.unit[1].weight * z)}[activation]
    history = torch.randn(B, 6, E, dtype=torch.float64)
    target = torch.randn(B, E, dtype=torch.float64)
    mask = torch.tensor([[True] * 6, [True] * 3 + [False] * 3, [False] * 6])
    expected = _din_by_hand(att, history, target, mask, act)
    weights = att.weights(history, target, mask)
    torch.testing.assert_close(weights, expected)
    assert (weights[~mask] == 0).all() and not torch.allclose(weights[0].sum(), torch.ones((), dtype=torch.float64))
    out = att(history, target, mask)
    torch.testing.assert_close(out, torch.einsum("bl,ble->be", expected, history))  # sum_j w_j h_j, no softmax
    torch.testing.assert_close(out[2], torch.zeros(E, dtype=torch.float64))  # an all-padding history pools to 0
    garbage = history.clone()
    garbage[~mask] = 1e3
    torch.testing.assert_close(att(garbage, target, mask), out)  # what padding holds never matters


def test_din_candidate_set_equals_looping_over_candidates():
    att = _randomise(TargetAttention(E, hidden=(8, 4)))
    history = torch.randn(B, 6, E, dtype=torch.float64)
    candidates = torch.randn(B, 5, E, dtype=torch.float64)
    mask = torch.tensor([[True] * 6, [True] * 2 + [False] * 4, [True] * 5 + [False]])
    out, weights = att(history, candidates, mask), att.weights(history, candidates, mask)
    assert out.shape == (B, 5, E) and weights.shape == (B, 5, 6)
    for c in range(5):
        torch.testing.assert_close(out[:, c], att(history, candidates[:, c], mask))
        torch.testing.assert_close(weights[:, c], att.weights(history, candidates[:, c], mask))
    torch.testing.assert_close(att(history, candidates), att(history, candidates, torch.ones(B, 6, dtype=torch.bool)))


def test_prelu_equals_torch():
    act = _randomise(PReLU(4))
    z = torch.randn(3, 4, dtype=torch.float64)
    torch.testing.assert_close(act(z), torch.nn.functional.prelu(z, act.weight))


def test_invalid_arguments_are_errors_that_list_the_choices():
    with pytest.raises(ValueError, match="field_all, field_each, field_interaction"):
        BilinearInteraction(F, E, "field_pair")
    with pytest.raises(ValueError, match="at least 2 fields"):
        BilinearInteraction(1, E)
    with pytest.raises(ValueError, match="must be even"):
        CIN(F, (3, 2), split_half=True)
    CIN(F, (4, 3), split_half=True)  # the last layer may be odd
    with pytest.raises(ValueError, match=r"attention_activation='dice': unknown activation; expected one of "
                                         r"\['sigmoid', 'relu', 'prelu'\]"):
        TargetAttention(E, activation="dice")


L, C = 6, 3
_MASK = torch.tensor([[True] * L, [True] * 4 + [False] * 2, [True] + [False] * (L - 1)])
# name -> (layer, inputs, MACs of one example as the layer's formula gives them)
LAYERS = {
    "fm": (lambda: FactorizationMachine(), lambda: (torch.randn(B, F, E),), 0),
    "cross": (lambda: CrossNet(F * E, 3), lambda: (torch.randn(B, F * E),), 3 * F * E),
    "cross_v2": (lambda: CrossNetV2(F * E, 2), lambda: (torch.randn(B, F * E),), 2 * (F * E) ** 2),
    "cross_v2_low_rank": (lambda: CrossNetV2(F * E, 2, rank=3), lambda: (torch.randn(B, F * E),), 2 * 2 * F * E * 3),
    # D * (H'_{k-1} m) * H_k per layer: 4 <- 4 fields, then 6 <- 2 passed maps
    "cin_split": (lambda: CIN(F, (4, 6)), lambda: (torch.randn(B, F, E),), E * (4 * F * 4 + 2 * F * 6)),
    "cin": (lambda: CIN(F, (4, 6), split_half=False), lambda: (torch.randn(B, F, E),), E * (4 * F * 4 + 4 * F * 6)),
    "bilinear_all": (lambda: BilinearInteraction(F, E, "field_all"), lambda: (torch.randn(B, F, E),),
                     (F - 1) * E * E),
    "bilinear_each": (lambda: BilinearInteraction(F, E, "field_each"), lambda: (torch.randn(B, F, E),),
                      (F - 1) * E * E),
    "bilinear_interaction": (lambda: BilinearInteraction(F, E), lambda: (torch.randn(B, F, E),),
                             F * (F - 1) // 2 * E * E),
    # qkv + residual projections, then q k^T and a v, per head
    "autoint": (lambda: InteractingLayer(E, 2, 3), lambda: (torch.randn(B, F, E),),
                F * E * 4 * 2 * 3 + 2 * 2 * F * F * 3),
    "din": (lambda: TargetAttention(E, (8,), "prelu"), lambda: (torch.randn(B, L, E), torch.randn(B, E), _MASK),
            L * (4 * E * 8 + 8) + L * E),
    "din_candidates": (lambda: TargetAttention(E, (8, 4)),
                       lambda: (torch.randn(B, L, E), torch.randn(B, C, E), _MASK),
                       C * L * (4 * E * 8 + 8 * 4 + 4) + C * L * E),
}


@pytest.mark.parametrize("name", list(LAYERS))
def test_every_layer_is_finite_trains_and_is_counted(name):
    build, inputs, macs = LAYERS[name]
    torch.manual_seed(0)
    layer, args = build(), inputs()
    args = [a.requires_grad_() if a.is_floating_point() else a for a in args]
    out = layer(*args)
    assert out.shape[0] == B and torch.isfinite(out).all()
    out.square().sum().backward()
    for pname, p in layer.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, f"{name}: no gradient for {pname}"
    assert args[0].grad is not None and args[0].grad.abs().sum() > 0
    one = [a[:1].detach() for a in args]  # one example: the unit of the complexity rule
    counted = count_ops(layer.eval(), *one)
    assert counted.macs == macs
    assert counted == count_ops_torchprofile(layer, *one)  # two independent counters agree


@pytest.mark.parametrize("name", [n for n in LAYERS if not n.startswith("din")])
def test_leading_batch_shapes_are_flattened_and_restored(name):
    build, inputs, _ = LAYERS[name]
    torch.manual_seed(0)
    layer, (x,) = build(), inputs()
    stacked = torch.stack([x, x.flip(0)])  # (2, B, ...)
    out = layer(stacked)
    torch.testing.assert_close(out[0], layer(x))
    torch.testing.assert_close(out[1], layer(x.flip(0)))
