"""The embedded default dataset: a seeded generator of interaction logs with real structure.

Generative process (steps 1–6 draw from one ``numpy.random.Generator`` seeded by ``seed``; step 7 from its
own stream ``default_rng([seed, 1])``, after everything else, so the interactions, timestamps and features
are exactly those of the generator before it had ratings):

1. **Topics.** ``n_topics`` topics with sizes ~ Dirichlet(1); each topic has ``n_subtopics`` subtopics.
   Every item belongs to one (topic, subtopic) cell.
2. **Popularity.** Item weights follow a Zipf law over a random ranking, ``w_i = rank_i^-zipf_a``, so
   a few items dominate (long tail). Within a cell, items are drawn proportionally to ``w_i``.
3. **Series.** Items of a cell form a chain (a "series": sequels, next episodes); ``successor[i]`` is
   the next item of the chain. With probability ``sequel_prob`` a user's next item is the successor of
   the last one, so the *last* item of the history predicts the next one (order matters).
4. **Users.** Each user has an early and a late interest vector over topics (sparse Dirichlet with
   concentration ``interest_alpha``) and a preferred subtopic per topic (taken with probability
   ``subtopic_loyalty``). At relative position ``t`` of the sequence, topics are drawn from
   ``(1 - t) * early + t * late`` (drift: recent history is more telling than old history), and with
   probability ``stay_prob`` the user stays in the topic of the previous item (sessions). With
   probability ``mainstream_prob`` the user instead picks from global popularity (blockbusters that
   everyone watches, whatever their taste).
5. **Lengths and time.** Sequence lengths are log-normal around ``mean_length`` (at least
   ``min_length``); timestamps start uniformly within two years and advance by exponential gaps.
   An item the user already consumed is redrawn from another subtopic of the same topic (the user
   widens the search) up to ``_REDRAWS`` times; a pair still repeated is skipped.
6. **Side features, informative but noisy** (``feature_noise`` = probability a value is random):
   items: ``category`` (the topic), ``tags`` (multi-valued, 1–3 tags naming the cell), ``price``
   (bucket around a per-topic mean), ``year`` (recent for popular items); users: ``age`` and
   ``gender`` (per-topic profiles of the dominant early interest), ``occupation`` (tied to the dominant
   late interest), and ``region`` (pure noise, as real data has).
7. **Explicit feedback.** Every interaction gets a ``rating`` 1–5: ``clip(round(score), 1, 5)`` with

   score = base + user leniency ~ N(0, 0.4) + item quality ~ N(0, 0.4)
         + 0.8 (1/2 - popularity rank)         (rank in [0, 1), 0 = most popular)
         + 1.5 sqrt(interest of the user in the item's topic at that point of the drift)
         + A[occupation, category]             (A ~ N(0, 0.5); features: the observed, noisy values)
         + 0.6 exp(-((year - (2020 - 3 age)) / 6)^2)   (each age bucket likes the items of its era)
         + 0.1 (price - 4.5) (age - 3) / 3      (young users dislike expensive items, older ones not)
         + 1.0 if the item continues the series of the previous item (a sequel)
         + 0.8 (share of the user's last 5 items in the item's topic)
         + 0.8 exp(-position / 12)              (novelty: a user's first items are rated higher)
         + noise ~ N(0, ``rating_noise``)

   With ``rating_order3 = w > 0`` (a control, off by default) the score also gets ``w B[age, gender,
   category]``, ``B`` a pure three-way interaction (no main or pairwise part), which only rankers with
   higher-order crosses (deep, cross, CIN, attention layers) can learn; FM cannot represent it.

   ``base`` puts about half of the ratings at 4 or 5 (the default dataset: 49%, distribution
   6/17/28/28/21% for 1..5, close to ML-100K's). A ranker gains from user × item feature crosses, the
   history and the position, not only from popularity (uncorrelated with an item's mean rating here) or a
   static user · item product.

Example:
    >>> from towernas.data.readers.synthetic import SyntheticOptions, generate
    >>> raw = generate(SyntheticOptions(n_users=50, n_items=100, mean_length=20, seed=1))
    >>> sorted(raw.interactions.columns)
    ['item', 'rating', 'timestamp', 'user']
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from towernas.data.errors import DataError
from towernas.data.raw import RawDataset
from towernas.data.readers.base import Reader

_TWO_YEARS = 2 * 365 * 24 * 3600
_DAY = 24 * 3600
_REDRAWS = 4
_RECENT = 5  # history window of the ratings' topic-match term
_RATING_BASE = 1.7  # sets the share of ratings >= 4 near one half


@dataclass
class SyntheticOptions:
    """Sizes and knobs of the generator (see the module docstring for their meaning)."""

    n_users: int = 1000
    n_items: int = 1700
    mean_length: float = 130.0
    min_length: int = 8
    n_topics: int = 18
    n_subtopics: int = 4
    zipf_a: float = 1.0
    interest_alpha: float = 0.08
    subtopic_loyalty: float = 0.7
    stay_prob: float = 0.6
    mainstream_prob: float = 0.03
    sequel_prob: float = 0.25
    feature_noise: float = 0.3
    rating_noise: float = 0.7
    rating_order3: float = 0.0  # weight of a pure third-order term (see step 7); 0 in the embedded dataset
    seed: int = 0


def generate(o: SyntheticOptions) -> RawDataset:
    """Generate a dataset; the same options always give the same data."""
    return _generate(o)[0]


def _generate(o: SyntheticOptions) -> tuple[RawDataset, _Latent]:
    """``generate`` plus the hidden structure behind the data (for tests)."""
    _check(o)
    rng = np.random.default_rng(o.seed)
    n_cells = o.n_topics * o.n_subtopics

    # --- items: cells, popularity, series -------------------------------------------------------
    topic_size = rng.dirichlet(np.ones(o.n_topics))
    # the first n_cells items seed every cell once; the rest follow topic sizes
    rest = o.n_items - n_cells
    rest_cell = rng.choice(o.n_topics, rest, p=topic_size) * o.n_subtopics + rng.integers(0, o.n_subtopics, rest)
    item_cell = np.concatenate([np.arange(n_cells), rest_cell])
    item_topic = item_cell // o.n_subtopics
    weight = (1.0 + rng.permutation(o.n_items)) ** -o.zipf_a  # Zipf over a random ranking

    order = np.lexsort((rng.random(o.n_items), item_cell))  # items grouped by cell, random within
    cell_start = np.searchsorted(item_cell[order], np.arange(n_cells + 1))
    # cumulative weight per cell, offset by the cell index so one searchsorted serves all cells
    cum = np.zeros(o.n_items)
    for c in range(n_cells):
        w = weight[order[cell_start[c] : cell_start[c + 1]]]
        cum[cell_start[c] : cell_start[c + 1]] = c + np.cumsum(w) / w.sum()
    global_cum = np.cumsum(weight) / weight.sum()
    global_cum[-1] = 1.0 + 1e-9
    successor = np.full(o.n_items, -1)
    same_cell_next = item_cell[order[1:]] == item_cell[order[:-1]]
    successor[order[:-1][same_cell_next]] = order[1:][same_cell_next]

    # --- users: drifting interests, loyalty, lengths --------------------------------------------
    early = rng.dirichlet(np.full(o.n_topics, o.interest_alpha), o.n_users)
    late = rng.dirichlet(np.full(o.n_topics, o.interest_alpha), o.n_users)
    late = 0.5 * late + 0.5 * early  # drift, not a new person
    preferred_sub = rng.integers(0, o.n_subtopics, (o.n_users, o.n_topics))
    sigma = 0.8
    lengths = rng.lognormal(np.log(o.mean_length) - sigma**2 / 2, sigma, o.n_users)
    lengths = np.maximum(o.min_length, np.round(lengths)).astype(np.int64)

    # --- sequences, generated one step at a time for all active users ---------------------------
    users_out, items_out = [], []
    prev_item = np.full(o.n_users, -1)
    seen: set[int] = set()  # user * n_items + item already consumed
    z = _Latent(early, late, item_topic, successor, weight, preferred_sub, item_cell, order, cum, cell_start,
                global_cum)
    for t in range(int(lengths.max())):
        active = np.flatnonzero(lengths > t)
        item, keep = _step(rng, o, z, active, active, t / lengths[active], prev_item[active], seen)
        prev_item[active[keep]] = item[keep]
        users_out.append(active[keep])
        items_out.append(item[keep])
    users = np.concatenate(users_out)
    items = np.concatenate(items_out)
    by_user = np.argsort(users, kind="stable")  # step order within a user = time order
    users, items = users[by_user], items[by_user]
    starts = rng.integers(0, _TWO_YEARS, o.n_users)
    gaps = rng.exponential(_DAY, len(users)).astype(np.int64) + 1
    first = np.r_[True, users[1:] != users[:-1]]
    gaps[first] = starts[users[first]]
    timestamps = 1_500_000_000 + _cumsum_by_group(gaps, first)

    interactions = pd.DataFrame({"user": users, "item": items, "timestamp": timestamps})
    user_features = _user_features(rng, o, early, late)
    item_features = _item_features(rng, o, item_topic, item_cell, weight)
    # explicit feedback comes last and from its own stream: everything above is what it was without it
    latent = z
    mean = _rating_means(np.random.default_rng([o.seed, 1]), o, users, items, first, latent, user_features, item_features)
    latent.rating_mean, latent.rating_noise, latent.rating_terms = mean[0], o.rating_noise, mean[2]
    interactions["rating"] = np.clip(np.rint(mean[0] + mean[1]), 1, 5)
    raw = RawDataset(
        interactions=interactions,
        user_features=user_features,
        item_features=item_features,
        multi_valued=frozenset({"tags"}),
    )
    return raw, latent


@dataclass
class _Latent:
    """The hidden structure the ratings depend on besides the observed features."""

    early: np.ndarray  # (n_users, n_topics) early interests
    late: np.ndarray  # (n_users, n_topics) late interests
    item_topic: np.ndarray  # (n_items,) true topic
    successor: np.ndarray  # (n_items,) next item of the series, -1 at its end
    weight: np.ndarray  # (n_items,) popularity weight
    preferred_sub: np.ndarray  # (n_users, n_topics) each user's subtopic per topic
    item_cell: np.ndarray  # (n_items,) (topic, subtopic) cell
    order: np.ndarray  # items grouped by cell (the within-cell draw's order)
    cum: np.ndarray  # offset cumulative weights along ``order`` (``_draw_in_cells``)
    cell_start: np.ndarray  # (n_cells + 1,) start of each cell in ``order``
    global_cum: np.ndarray  # cumulative popularity over all items (mainstream draws)
    rating_mean: np.ndarray | None = None  # (n_interactions,) the rating's score without its noise (step 7)
    rating_noise: float = 0.0  # the noise's standard deviation
    rating_terms: dict[str, np.ndarray] | None = None  # the score's terms by name (they sum to it, plus a base)


def _step(rng, o: SyntheticOptions, z: _Latent, users: np.ndarray, keys: np.ndarray, progress: np.ndarray,
          prev: np.ndarray, seen: set[int]) -> tuple[np.ndarray, np.ndarray]:
    """One next item for each of ``users`` (steps 3-5) at relative ``progress`` after item ``prev`` (-1: none).

    ``keys``: the ids ``seen`` knows them by (the users themselves; a rollout's copies of a user have their
    own). Returns ``(items, keep)``; ``keep`` is False where the item stayed a repeat after the redraws
    (that step is skipped), and the kept draws are added to ``seen``.
    """
    n = len(users)
    p = np.asarray(progress)[:, None]
    mix = (1 - p) * z.early[users] + p * z.late[users]
    topic = _sample_rows(rng, mix)
    stay = (prev >= 0) & (rng.random(n) < o.stay_prob)
    topic[stay] = z.item_topic[prev[stay]]
    loyal = rng.random(n) < o.subtopic_loyalty
    sub = np.where(loyal, z.preferred_sub[users, topic], rng.integers(0, o.n_subtopics, n))
    cell = topic * o.n_subtopics + sub
    item = _draw_in_cells(rng, cell, z.cum, z.cell_start, z.order)
    mainstream = rng.random(n) < o.mainstream_prob
    item[mainstream] = np.searchsorted(z.global_cum, rng.random(int(mainstream.sum())), side="right")
    cell[mainstream] = z.item_cell[item[mainstream]]
    sequel = (prev >= 0) & (rng.random(n) < o.sequel_prob)
    sequel &= z.successor[np.maximum(prev, 0)] >= 0
    item[sequel] = z.successor[prev[sequel]]
    keep = _redraw_repeats(rng, seen, keys, item, cell, z.cum, z.cell_start, z.order, o.n_items, o.n_subtopics)
    return item, keep


def _rating_means(rng, o: SyntheticOptions, users, items, first, z: _Latent, user_features,
                  item_features) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """(score without noise, noise, the score's terms by name) of every interaction's rating (rows grouped by user, in time order); see
    step 7. The rating is ``clip(rint(score + noise), 1, 5)``."""
    n, n_users = len(users), o.n_users
    user_bias = rng.normal(0.0, 0.4, n_users)
    item_quality = rng.normal(0.0, 0.4, o.n_items)
    affinity = rng.normal(0.0, 0.5, (21, o.n_topics))  # occupation x category
    noise = rng.normal(0.0, o.rating_noise, n)

    row = np.arange(n)
    start = np.maximum.accumulate(np.where(first, row, 0))
    pos = row - start  # position in the user's sequence (0 = first interaction)
    count = np.bincount(users, minlength=n_users)
    progress = pos / count[users]
    topic = z.item_topic[items]
    taste = (1 - progress) * z.early[users, topic] + progress * z.late[users, topic]
    sequel = (pos >= 1) & (z.successor[items[np.maximum(row - 1, 0)]] == items)
    same = np.zeros(n)
    for k in range(1, _RECENT + 1):
        same += (pos >= k) & (topic[np.maximum(row - k, 0)] == topic)
    recent = same / np.maximum(1, np.minimum(pos, _RECENT))

    age = user_features["age"].to_numpy(np.int64)[users]
    occupation = user_features["occupation"].to_numpy(np.int64)[users]
    category = item_features["category"].str[1:].astype(np.int64).to_numpy()[items]
    price = item_features["price"].to_numpy(np.int64)[items]
    year = item_features["year"].to_numpy(np.int64)[items]
    pop_rank = (np.argsort(np.argsort(-z.weight)) / o.n_items)[items]  # 0 = most popular

    terms = {  # summed in this order (the ratings are pinned bit for bit)
        "user_leniency": user_bias[users], "item_quality": item_quality[items], "popularity": 0.8 * (0.5 - pop_rank),
        "taste": 1.5 * np.sqrt(taste),
        "occupation_x_category": affinity[occupation, category],
        "age_x_year": 0.6 * np.exp(-(((year - (2020 - 3 * age)) / 6.0) ** 2)),
        "age_x_price": 0.1 * (price - 4.5) * (age - 3) / 3,
        "sequel": 1.0 * sequel,
        "recent_topic": 0.8 * recent,
        "novelty": 0.8 * np.exp(-pos / 12.0),
    }
    if o.rating_order3:  # its own stream: the other terms stay what they are
        terms["age_x_gender_x_category"] = o.rating_order3 * _order3(np.random.default_rng([o.seed, 3]), o)[
            age, (user_features["gender"].to_numpy() == "M").astype(np.int64)[users], category]
    score = np.full(n, _RATING_BASE)
    for term in terms.values():
        score = score + term
    return score, noise, terms


def _order3(rng, o: SyntheticOptions) -> np.ndarray:
    """(7 ages, 2 genders, n_topics categories) pure three-way interaction of unit std: a Gaussian tensor with
    every main effect and two-way part removed (each 1-D slice sums to 0), so no sum of two-field terms
    (a factorisation machine's model) explains any of it."""
    b = rng.normal(0.0, 1.0, (7, 2, o.n_topics))
    for axis in range(3):  # double centring, axis by axis: leaves only the three-way component
        b = b - b.mean(axis=axis, keepdims=True)
    return b / b.std()


def _item_features(rng, o: SyntheticOptions, topic, cell, weight) -> pd.DataFrame:
    n = o.n_items
    noisy = lambda: rng.random(n) < o.feature_noise  # noqa: E731 - a fresh coin per field
    category = np.where(noisy(), rng.integers(0, o.n_topics, n), topic)
    n_cells = o.n_topics * o.n_subtopics
    n_tags = rng.integers(1, 4, n)
    tag_matrix = np.where(rng.random((n, 3)) < o.feature_noise, rng.integers(0, n_cells, (n, 3)), cell[:, None])
    tags = [[f"t{x}" for x in dict.fromkeys(row[:k])] for row, k in zip(tag_matrix.tolist(), n_tags.tolist())]
    topic_price = rng.integers(0, 10, o.n_topics)
    price = np.clip(np.round(topic_price[topic] + rng.normal(0, 1.5, n)), 0, 9).astype(int)
    price = np.where(noisy(), rng.integers(0, 10, n), price)
    pop_rank = np.argsort(np.argsort(-weight)) / n  # 0 = most popular
    year = 2020 - np.clip(np.round(pop_rank * 20 + rng.normal(0, 3, n)), 0, 30).astype(int)
    return pd.DataFrame(
        {"category": [f"c{c}" for c in category], "tags": tags, "price": price, "year": year},
        index=pd.Index(np.arange(n), name="item"),
    )


def _user_features(rng, o: SyntheticOptions, early, late) -> pd.DataFrame:
    n = o.n_users
    noisy = lambda: rng.random(n) < o.feature_noise  # noqa: E731
    dominant_early, dominant_late = early.argmax(1), late.argmax(1)
    age_profile = rng.dirichlet(np.full(7, 0.5), o.n_topics)  # 7 age buckets per topic
    age = _sample_rows(rng, age_profile[dominant_early])
    age = np.where(noisy(), rng.integers(0, 7, n), age)
    male_share = rng.beta(2, 2, o.n_topics)
    gender = np.where(rng.random(n) < male_share[dominant_early], "M", "F")
    occupation = np.where(noisy(), rng.integers(0, 21, n), dominant_late % 21)
    region = rng.integers(0, 50, n)
    return pd.DataFrame(
        {"age": age, "gender": gender, "occupation": occupation, "region": region},
        index=pd.Index(np.arange(n), name="user"),
    )


def _redraw_repeats(rng, seen: set[int], users, items, cell, cum, cell_start, order, n_items, n_sub) -> np.ndarray:
    """Redraw (in place) items the user already has; return the mask of draws to keep, recording them."""
    keys = users * n_items + items
    repeat = np.fromiter((k in seen for k in keys.tolist()), bool, len(keys))
    for _ in range(_REDRAWS):
        idx = np.flatnonzero(repeat)
        if len(idx) == 0:
            break
        # another subtopic of the same topic, by popularity: the user widens the search
        cell[idx] = cell[idx] - cell[idx] % n_sub + rng.integers(0, n_sub, len(idx))
        items[idx] = _draw_in_cells(rng, cell[idx], cum, cell_start, order)
        keys[idx] = users[idx] * n_items + items[idx]
        repeat[idx] = np.fromiter((k in seen for k in keys[idx].tolist()), bool, len(idx))
    keep = ~repeat
    seen.update(keys[keep].tolist())
    return keep


def _draw_in_cells(rng, cell, cum, cell_start, order) -> np.ndarray:
    """One popularity-weighted item per entry of ``cell`` (inverse CDF over the offset cumsum)."""
    pos = np.searchsorted(cum, cell + rng.random(len(cell)) * (1 - 1e-12), side="right")
    return order[np.minimum(pos, cell_start[cell + 1] - 1)]


def _sample_rows(rng, probs: np.ndarray) -> np.ndarray:
    """One categorical draw per row of ``probs`` (rows sum to 1): (R, C) -> (R,)."""
    cdf = np.cumsum(probs, axis=1)
    u = rng.random(len(probs))[:, None] * cdf[:, -1:]
    return np.minimum((cdf <= u).sum(1), probs.shape[1] - 1)


def _cumsum_by_group(values: np.ndarray, group_start: np.ndarray) -> np.ndarray:
    total = np.cumsum(values)
    start_idx = np.flatnonzero(group_start)
    offsets = np.zeros_like(total)
    offsets[start_idx[1:]] = total[start_idx[1:] - 1]
    return total - np.maximum.accumulate(offsets)


def _check(o: SyntheticOptions) -> None:
    where = "dataset.options"
    if o.n_items < o.n_topics * o.n_subtopics:
        raise DataError(
            f"{where}: n_items={o.n_items} must be at least n_topics*n_subtopics={o.n_topics * o.n_subtopics}"
        )
    for name in ("n_users", "n_topics", "n_subtopics", "min_length"):
        if getattr(o, name) < 1:
            raise DataError(f"{where}.{name}={getattr(o, name)}: expected a positive integer")
    for name in ("subtopic_loyalty", "stay_prob", "mainstream_prob", "sequel_prob", "feature_noise"):
        if not 0.0 <= getattr(o, name) <= 1.0:
            raise DataError(f"{where}.{name}={getattr(o, name)}: expected a probability in [0, 1]")
    if o.mean_length <= 0 or o.zipf_a < 0 or o.interest_alpha <= 0:
        raise DataError(f"{where}: mean_length and interest_alpha must be > 0 and zipf_a >= 0")
    if not o.rating_order3 >= 0:
        raise DataError(f"{where}.rating_order3={o.rating_order3}: expected a number >= 0")
    if not o.rating_noise >= 0:
        raise DataError(f"{where}.rating_noise={o.rating_noise}: expected a number >= 0")


SYNTHETIC = Reader(
    name="synthetic",
    read=lambda directory, options: generate(options),
    files=lambda options: [],
    options=SyntheticOptions,
)

