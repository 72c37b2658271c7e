"""``towernas.nn.pair_features``: each layer against its formula, computed by brute force."""

import numpy as np
import torch

from towernas.nn.pair_features import CodeAffinity, NeighbourAffinity, NeighbourRating, NumericFields


def test_numeric_fields_are_x_times_w_plus_b():
    layer = NumericFields(3, dim=5)
    x = torch.randn(2, 4, 3)
    out = layer(x)
    assert out.shape == (2, 4, 3, 5)
    assert torch.allclose(out[1, 2, 0], x[1, 2, 0] * layer.weight[0] + layer.bias[0])


def test_neighbour_affinity_is_the_mean_similarity_over_the_history_and_its_latest_items():
    rng = np.random.default_rng(0)
    n, m = 12, 4
    sim = rng.random((n, n)).astype(np.float32)
    neighbours = np.argsort(-sim, axis=1)[:, :m]
    weights = np.take_along_axis(sim, neighbours, 1)
    neighbours = np.r_[neighbours, np.full((1, m), n)]
    weights = np.r_[weights, np.zeros((1, m), np.float32)]
    layer = NeighbourAffinity(torch.as_tensor(neighbours), torch.as_tensor(weights), recent=2)
    history = np.array([[n, n, 3, 5, 3, 7], [1, 2, 4, 6, 8, 10]])
    items = np.array([[0, 5, 9], [11, 2, 3]])
    out = layer(torch.as_tensor(history), torch.as_tensor(items)).numpy()

    def expected(hist, c):
        real = [h for h in hist if h != n]
        return sum(weights[h][neighbours[h] == c].sum() for h in real) / max(len(real), 1)

    for b in range(2):
        for j in range(3):
            assert np.isclose(out[b, j, 0], expected(history[b], items[b, j]), atol=1e-6)
            assert np.isclose(out[b, j, 1], expected(history[b][-2:], items[b, j]), atol=1e-6)


def test_code_affinity_is_the_share_of_the_history_carrying_each_candidate_code():
    # items 0..4 with up to two codes of 1..3 (0 = missing); row 5 pads
    codes = np.array([[1, 2], [2, 0], [3, 0], [1, 3], [0, 0], [0, 0]])
    layer = CodeAffinity(torch.as_tensor(codes), n_codes=4)
    history = np.array([[5, 0, 1, 3], [5, 5, 5, 4]])
    items = np.array([[0, 2, 4], [1, 0, 2]])
    out = layer(torch.as_tensor(history), torch.as_tensor(items)).numpy()
    for b in range(2):
        real = [h for h in history[b] if h != 5]
        for j, c in enumerate(items[b]):
            wanted = [v for v in codes[c] if v > 0]
            shares = [sum(v in codes[h] for h in real) / max(len(real), 1) for v in wanted]
            assert np.isclose(out[b, j], np.mean(shares) if shares else 0.0), (b, j)


def test_neighbour_rating_is_the_weighted_mean_deviation_over_rated_neighbours():
    ratings = torch.tensor([[[5.0, 1.0, 3.0, 9.0]], [[2.0, 2.0, 2.0, 2.0]]])  # (B=2, C=1, M=4)
    rated = torch.tensor([[[True, True, False, True]], [[False, False, False, False]]])
    weights = torch.tensor([[[0.5, 0.25, 1.0, 0.0]], [[1.0, 1.0, 1.0, 1.0]]])  # a zero weight counts for nothing
    centre = torch.tensor([[3.0], [4.0]])
    out = NeighbourRating()(ratings, rated, weights, centre)
    expected_mean = (0.5 * (5 - 3) + 0.25 * (1 - 3)) / 0.75
    assert torch.allclose(out[0, 0], torch.tensor([expected_mean, np.log1p(0.75) / np.log1p(4)], dtype=torch.float32))
    assert torch.equal(out[1, 0], torch.zeros(2))  # nothing rated: 0 and no support
