"""The shared layers of ``towernas.nn`` against independent implementations or their explicit formulas."""

import pytest
import torch
import torch.nn.functional as F

from towernas.data.features import Field
from towernas.nn import (
    FieldEmbeddings,
    LayerNorm,
    MultiHeadSelfAttention,
    SqueezeExcitation,
    masked_mean,
    masked_sum,
    mlp,
)


def test_layer_norm_equals_torch():
    x = torch.randn(3, 5, 16)
    norm = LayerNorm(16)
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
        norm.bias.uniform_(-1, 1)
    torch.testing.assert_close(norm(x), F.layer_norm(x, (16,), norm.weight, norm.bias))


@pytest.mark.parametrize("heads", [1, 2, 4])
def test_self_attention_equals_torch_multihead_attention_with_the_same_weights(heads):
    torch.manual_seed(heads)
    dim = 16
    ours = MultiHeadSelfAttention(dim, heads, dim // heads)
    theirs = torch.nn.MultiheadAttention(dim, heads, batch_first=True)
    with torch.no_grad():  # our qkv rows are [q heads; k heads; v heads], torch's in_proj the same
        theirs.in_proj_weight.copy_(ours.qkv.weight)
        theirs.in_proj_bias.copy_(ours.qkv.bias)
        theirs.out_proj.weight.copy_(ours.out.weight)
        theirs.out_proj.bias.copy_(ours.out.bias)
    x = torch.randn(3, 6, dim)
    mask = torch.tensor([[True] * 6, [True] * 4 + [False] * 2, [False] * 5 + [True]])
    expected, _ = theirs(x, x, x, key_padding_mask=~mask, need_weights=False)
    torch.testing.assert_close(ours(x, mask), expected, atol=1e-5, rtol=1e-5)
    unmasked, _ = theirs(x, x, x, need_weights=False)
    torch.testing.assert_close(ours(x), unmasked, atol=1e-5, rtol=1e-5)


def test_masked_attention_ignores_what_padded_positions_hold():
    att = MultiHeadSelfAttention(8, 2, 4)
    x = torch.randn(2, 5, 8)
    mask = torch.tensor([[True, True, True, False, False]] * 2)
    y = x.clone()
    y[:, 3:] = 1e3  # garbage in the padding
    torch.testing.assert_close(att(x, mask)[:, :3], att(y, mask)[:, :3])


def test_masked_mean_and_sum_by_hand():
    x = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]], [[5.0, 6.0], [0.0, 0.0], [0.0, 0.0]]])
    mask = torch.tensor([[True, True, False], [False, False, False]])
    assert masked_mean(x, mask).tolist() == [[2.0, 3.0], [0.0, 0.0]]  # an empty row pools to zeros
    assert masked_sum(x, mask).tolist() == [[4.0, 6.0], [0.0, 0.0]]


def test_squeeze_excitation_equals_its_formula():
    se = SqueezeExcitation(n_fields=4, reduction=2)
    x = torch.randn(3, 4, 8)
    w1, w2 = se.excite[0].weight, se.excite[2].weight  # (2, 4), (4, 2), no biases
    a = torch.sigmoid(torch.relu(x.mean(-1) @ w1.T) @ w2.T)  # (B, F)
    torch.testing.assert_close(se(x), x * a[:, :, None])


def test_mlp_layers_and_last_activation():
    assert [type(m).__name__ for m in mlp(4, (8, 2), activate_last=True)] == ["Linear", "ReLU", "Linear", "ReLU"]
    assert mlp(4, (3,))[0].out_features == 3
    with pytest.raises(ValueError, match="at least one layer"):
        mlp(4, ())


def test_multi_valued_fields_are_the_mean_of_their_non_padding_values():
    emb = FieldEmbeddings([Field("tags", 6, 3, True), Field("age", 4)], dim=5, prefix="item")
    batch = {"item:tags": torch.tensor([[2, 3, 0], [0, 0, 0]]), "item:age": torch.tensor([1, 3])}
    out = emb(batch)  # (B, F, D)
    table = emb.tables["tags"].weight
    torch.testing.assert_close(out[0, 0], (table[2] + table[3]) / 2)
    torch.testing.assert_close(out[1, 0], torch.zeros(5))  # all padding -> zeros
    torch.testing.assert_close(out[:, 1], emb.tables["age"].weight[[1, 3]])
