"""The sequence augmentations of CL4SRec / CoSeRec on right-aligned histories, and the train statistics
(``successor_items``, ``TrainStats.from_data``) they and the samplers read.

Rates are checked over M independent Bernoulli(p) events against 5 standard deviations,
|rate - p| <= 5 sqrt(p (1 - p) / M) (two-sided failure < 1e-6 under the normal approximation; the seeds are
fixed anyway); a uniform choice among K values is checked in total variation against the bound of
tests/samplers/test_samplers.py.

Histories use items 0..19 of a 40-item catalogue (pad = 40) and ``similar`` maps i <-> i + 20, so an item
that came from ``similar`` is recognisable by its range.
"""

import math
from collections import Counter

import numpy as np
import pytest
import torch

from towernas.addons.contrastive import augment
from towernas.data.train_stats import TrainStats, successor_items

N_ITEMS, PAD, L = 40, 40, 8
SIMILAR = torch.cat([torch.arange(20, 40), torch.arange(0, 20)])  # i <-> i + 20
OPS = ("crop", "mask", "reorder", "substitute", "insert")


def _history(lengths, width=L, seed=0) -> torch.Tensor:
    """Right-aligned rows of distinct items 0..19, ``lengths[b]`` real items each."""
    g = torch.Generator().manual_seed(seed)
    rows = []
    for n in lengths:
        items = torch.randperm(20, generator=g)[:n]
        rows.append(torch.cat([torch.full((width - n,), PAD), items]))
    return torch.stack(rows).long()


def _apply(name, history, ratio, seed):
    extra = (SIMILAR,) if name in ("substitute", "insert") else ()
    return getattr(augment, name)(history, PAD, ratio, torch.Generator().manual_seed(seed), *extra)


def _real(row: torch.Tensor) -> list[int]:
    return [int(x) for x in row if int(x) != PAD]


def _right_aligned(row: torch.Tensor) -> bool:
    is_pad = (row == PAD).tolist()
    return is_pad == sorted(is_pad, reverse=True)  # True (pad) ... then False (item) ...


def _k(ratio: float, n: int) -> int:
    return max(1, math.floor(ratio * n)) if n else 0


def _bound(p: float, m: int) -> float:
    return 5 * math.sqrt(p * (1 - p) / m)


def _tv_bound(m: int, k: int, failure: float = 1e-6) -> float:
    return 0.5 * math.sqrt((k - 1) / m) + math.sqrt(math.log(1 / failure) / (2 * m))


LENGTHS = [0, 1, 2, 3, 5, 7, 8, 8, 4, 6]


# ------------------------------------------------------------------------------------------ all five

@pytest.mark.parametrize("name", ["crop", "reorder", "substitute", "insert"])
@pytest.mark.parametrize("ratio", [0.0, 0.3, 0.6, 1.0])
def test_shape_right_alignment_and_vocabulary(name, ratio):
    history = _history(LENGTHS)
    for seed in range(20):
        out = _apply(name, history, ratio, seed)
        assert out.shape == history.shape and out.dtype == history.dtype
        for b in range(len(history)):
            assert _right_aligned(out[b]), (name, seed, out[b])
            allowed = set(_real(history[b]))
            if name in ("substitute", "insert"):
                allowed |= {int(SIMILAR[i]) for i in allowed}
            assert set(_real(out[b])) <= allowed, (name, seed, b)


def test_mask_sets_items_to_pad_in_place():
    # mask is the one augmentation that does not re-align: a dropped item becomes a pad where it stood
    # ("set to pad, which embeds to zeros"), so pads may appear between items
    history = _history(LENGTHS)
    out = _apply("mask", history, 0.5, 0)
    assert out.shape == history.shape
    same = out == history
    assert bool((same | (out == PAD)).all())  # every slot is the input's item or a pad
    assert bool(((history == PAD) <= (out == PAD)).all())  # pads stay pads


@pytest.mark.parametrize("name", OPS)
def test_empty_rows_stay_empty_and_seeds_reproduce(name):
    history = _history([0, 0, 5, 8, 3, 8, 8, 6])
    for ratio in (0.3, 1.0):
        out = _apply(name, history, ratio, seed=1)
        assert bool((out[:2] == PAD).all()), name
    a, b, c = (_apply(name, history, 0.5, seed) for seed in (3, 3, 4))
    assert torch.equal(a, b), name
    others = [_apply(name, history, 0.5, seed) for seed in range(4, 12)]
    assert any(not torch.equal(a, o) for o in others), name
    # the input is not modified in place
    assert torch.equal(history, _history([0, 0, 5, 8, 3, 8, 8, 6])), name


# ------------------------------------------------------------------------------------------------ crop

@pytest.mark.parametrize("ratio", [0.0, 0.2, 0.5, 0.6, 0.99, 1.0])
def test_crop_is_a_contiguous_window_of_floor_ratio_len(ratio):
    history = _history(LENGTHS)
    for seed in range(25):
        out = _apply("crop", history, ratio, seed)
        for b, n in enumerate(LENGTHS):
            real, got = _real(history[b]), _real(out[b])
            k = _k(ratio, n)
            assert len(got) == k, (ratio, n, got)
            assert any(real[s:s + k] == got for s in range(n - k + 1)), (real, got)


def test_crop_window_start_is_uniform():
    # n = 8, ratio 0.5 -> k = 4, start s in {0, ..., 4} with probability 1/5 each
    history = _history([8] * 400)
    starts = []
    for seed in range(5):
        out = _apply("crop", history, 0.5, seed)
        for b in range(len(history)):
            real, got = _real(history[b]), _real(out[b])
            starts.append(real.index(got[0]))
    freq = np.bincount(starts, minlength=5) / len(starts)
    assert len(freq) == 5
    assert 0.5 * float(np.abs(freq - 0.2).sum()) <= _tv_bound(len(starts), 5)


# ------------------------------------------------------------------------------------------------ mask

def test_mask_drops_only_real_items_at_the_ratio():
    history = _history(LENGTHS * 40)
    n_real = int((history != PAD).sum())
    for ratio in (0.0, 0.2, 0.5, 1.0):
        dropped = 0
        for seed in range(5):
            out = _apply("mask", history, ratio, seed)
            assert bool(((out == history) | (out == PAD)).all())
            assert bool((out[history == PAD] == PAD).all())
            dropped += int(((out == PAD) & (history != PAD)).sum())
        m = 5 * n_real
        assert abs(dropped / m - ratio) <= _bound(ratio, m), (ratio, dropped / m)


# --------------------------------------------------------------------------------------------- reorder

@pytest.mark.parametrize("ratio", [0.0, 0.3, 0.5, 0.8, 1.0])
def test_reorder_shuffles_one_contiguous_window_only(ratio):
    history = _history(LENGTHS)
    changed = 0
    for seed in range(25):
        out = _apply("reorder", history, ratio, seed)
        for b, n in enumerate(LENGTHS):
            real, got = _real(history[b]), _real(out[b])
            assert sorted(got) == sorted(real)  # the multiset is kept (items are distinct in a row)
            k = _k(ratio, n)
            # some window real[s:s+k] holds every moved item; everything outside it is in place
            fits = [s for s in range(n - k + 1)
                    if got[:s] == real[:s] and got[s + k:] == real[s + k:] and sorted(got[s:s + k]) == sorted(real[s:s + k])]
            assert fits, (ratio, real, got)
            changed += got != real
    if _k(ratio, 8) >= 2:
        assert changed > 0  # it does shuffle


def test_reorder_of_a_window_of_two_swaps_half_the_time():
    # n = 2, ratio 1 -> k = 2: the window is the whole row and each order has probability 1/2
    history = _history([2] * 500)
    outs = [_apply("reorder", history, 1.0, seed) for seed in range(4)]
    swaps = sum(int(_real(out[b]) != _real(history[b])) for out in outs for b in range(len(history)))
    m = 4 * len(history)
    assert abs(swaps / m - 0.5) <= _bound(0.5, m)


# ------------------------------------------------------------------------------------------ substitute

def test_substitute_replaces_only_with_similar_at_the_ratio():
    history = _history(LENGTHS * 40)
    n_real = int((history != PAD).sum())
    for ratio in (0.0, 0.3, 1.0):
        swapped = 0
        for seed in range(5):
            out = _apply("substitute", history, ratio, seed)
            real = history != PAD
            assert bool((out[~real] == PAD).all())
            sim = SIMILAR[history.clamp_max(N_ITEMS - 1)]
            assert bool(((out == history) | (out == sim))[real].all())  # the item or its similar item
            swapped += int((out != history).sum())
        m = 5 * n_real
        assert abs(swapped / m - ratio) <= _bound(ratio, m), (ratio, swapped / m)


# ---------------------------------------------------------------------------------------------- insert

def _check_insert(real: list[int], got: list[int], width: int) -> int:
    """Assert ``got`` is the latest items of ``real`` with similar[x] inserted right before some x; returns
    the number of inserted items."""
    originals = [x for x in got if x < 20]
    assert originals == real[len(real) - len(originals):], (real, got)  # a suffix of the row, in order
    inserted = 0
    for j, x in enumerate(got):
        if x >= 20:  # an inserted item: similar[the next item]
            assert j + 1 < len(got) and got[j + 1] < 20 and int(SIMILAR[got[j + 1]]) == x, (real, got)
            inserted += 1
    # nothing lost that fit: the output is full, or holds every original item
    assert len(got) == width or len(originals) == len(real), (real, got)
    return inserted


def test_insert_keeps_the_latest_items_in_order_and_inserts_similar_items():
    history = _history(LENGTHS)
    for ratio in (0.0, 0.3, 0.7, 1.0):
        for seed in range(25):
            out = _apply("insert", history, ratio, seed)
            for b in range(len(history)):
                n_ins = _check_insert(_real(history[b]), _real(out[b]), L)
                if ratio == 0.0:
                    assert torch.equal(out[b], history[b])
                    assert n_ins == 0


def test_insert_with_ratio_one_hand_case():
    history = torch.tensor([[PAD, PAD, PAD, 3, 5], [PAD, PAD, 1, 2, 4], [PAD] * 5])
    out = _apply("insert", history, 1.0, 0)
    # [23, 3, 25, 5] right-aligned; [21, 1, 22, 2, 24, 4] truncated to its latest 5
    assert out.tolist() == [[PAD, 23, 3, 25, 5], [1, 22, 2, 24, 4], [PAD] * 5]


def test_insert_rate_matches_the_ratio():
    # rows of at most L/2 items never overflow, so each item is preceded by an insertion with p = ratio
    lengths = [1, 2, 3, 4] * 100
    history = _history(lengths)
    n_real = sum(lengths)
    ratio, inserted = 0.3, 0
    for seed in range(5):
        out = _apply("insert", history, ratio, seed)
        for b in range(len(history)):
            inserted += _check_insert(_real(history[b]), _real(out[b]), L)
    m = 5 * n_real
    assert abs(inserted / m - ratio) <= _bound(ratio, m)


# ----------------------------------------------------------------------------------------- successors

def test_successor_items_hand_case():
    # user 0: 1 2 1 3 1 2 -> 1 -> 2 (twice) / 3 (once); 2 -> 1; 3 -> 1
    # user 1: 4 5 4 0     -> 4 -> 5, 0 once each: the tie goes to the smaller id, 0 (not the first seen, 5);
    #                        5 -> 4; 0 last of its user
    # user 2: 6           -> no successor. Across users (2 -> 4, 0 -> 6) nothing counts: 0 -> 0, not 6.
    # item 7 never appears -> itself
    users = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2])
    items = np.array([1, 2, 1, 3, 1, 2, 4, 5, 4, 0, 6])
    out = successor_items(items, users, 8)
    assert out.tolist() == [0, 2, 1, 1, 0, 4, 6, 7]
    assert out.dtype == np.int64
    assert successor_items(np.array([], dtype=np.int64), np.array([], dtype=np.int64), 3).tolist() == [0, 1, 2]
    assert successor_items(np.array([2, 1]), np.array([0, 1]), 3).tolist() == [0, 1, 2]  # two users, one item each


# ------------------------------------------------------------------------------------------ TrainStats

def test_train_stats_count_the_train_rows_only(data):
    stats = TrainStats.from_data(data)
    train = [p for p in range(data.n_interactions) if int(data.split[p]) == 0]
    assert 0 < len(train) < data.n_interactions
    items = Counter(int(data.items[p]) for p in train)
    users = Counter(int(data.users[p]) for p in train)
    assert stats.item_counts.tolist() == [items[i] for i in range(data.n_items)]
    assert stats.user_counts.tolist() == [users[u] for u in range(data.n_users)]
    rows = data.rows("train")
    np.testing.assert_array_equal(stats.item_counts, np.bincount(data.items[rows], minlength=data.n_items))
    assert not np.array_equal(stats.item_counts, np.bincount(data.items, minlength=data.n_items))
    # pair keys: sorted, unique, exactly the train (user, item) pairs
    keys = stats.pair_keys
    assert np.all(np.diff(keys) > 0)
    assert keys.tolist() == sorted({int(data.users[p]) * data.n_items + int(data.items[p]) for p in train})
    # successors from the train sequences by hand (rows are time-ordered per user)
    follow: dict[int, Counter] = {}
    for p, q in zip(train[:-1], train[1:]):
        if data.users[p] == data.users[q]:
            follow.setdefault(int(data.items[p]), Counter())[int(data.items[q])] += 1
    expected = [min(follow[i], key=lambda j: (-follow[i][j], j)) if i in follow else i for i in range(data.n_items)]
    assert stats.successors.tolist() == expected


@pytest.mark.parametrize("share", [0.1, 0.25, 1.0])
def test_recent_item_counts_are_the_latest_share_of_train_rows(data, share):
    stats = TrainStats.from_data(data) if share == 0.1 else TrainStats.from_data(data, recent_share=share)
    rows = data.rows("train")
    times = data.timestamps[rows]
    assert len(np.unique(times)) == len(times)  # distinct times: "the latest share" is well defined
    n_recent = math.ceil(share * len(rows))
    latest = sorted(range(len(rows)), key=lambda j: -int(times[j]))[:n_recent]
    counts = Counter(int(data.items[rows[j]]) for j in latest)
    assert stats.recent_item_counts.tolist() == [counts[i] for i in range(data.n_items)]
    assert int(stats.recent_item_counts.sum()) == n_recent
    assert bool((stats.recent_item_counts <= stats.item_counts).all())


def test_recent_share_outside_0_1_is_refused(data):
    for share in (0.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="recent_share"):
            TrainStats.from_data(data, recent_share=share)
