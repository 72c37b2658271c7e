"""A seeded generator of Amazon-review-shaped data, written in the real files' formats.

``dataset=synthetic-amazon`` writes ``Books.csv`` (``item,user,rating,timestamp``, no header) and
``meta_Books.json.gz`` (JSON lines with ``asin``, ``title``, ``category``, ``price``, ``brand``) exactly as
the Amazon review data 2018 ships them, and then reads them with the real Amazon reader
(``towernas.data.readers.amazon``: chunked Arrow parsing, bounded memory), the 20-core filter and the
split. Its default sizes are AutoTower's Amazon Books after 20-core filtering (Table 2): 165,036 users ×
159,551 items × 5,073,469 interactions. Every user and every item gets at least ``min_degree`` (20)
distinct interactions, so the 20-core filter keeps them all and the processed sizes are exactly those.

Generative process (one ``numpy.random.Generator`` seeded by ``seed``):

1. **Degrees.** User ``u`` has ``min_degree + e_u`` interactions, item ``i`` has ``min_degree + e_i``;
   the extras are a multinomial split of what the totals leave over, with log-normal weights
   (``user_spread``, ``item_spread``), so both have the long right tail of real review counts.
2. **Topics.** ``n_topics`` topics in ``n_genres`` genres (ordered, so neighbouring topics are related).
   Each user has an early and a late topic (the late one in the same genre with probability
   ``genre_loyalty``); the ``k``-th of ``n`` interactions is drawn from the late topic with probability
   ``k / n`` (interest drift: recent history tells more), else the early one, and with probability
   ``explore_prob`` from a random topic.
3. **Items.** Items are dealt to topics so that each topic's item interactions match what the users ask
   of it (items in random order, cut at the cumulative demand): both sides are then sorted by topic and
   paired, so every degree is exact and a topic's interactions go to its items, more to popular ones.
   A (user, item) pair that came out twice is swapped with a random pair of the same topic until none
   is left (swaps keep every degree).
4. **Time and ratings.** Each user starts uniformly within 2014–2017 and moves on by exponential gaps
   (mean ``mean_gap_days``). Ratings are 1–5, mostly 4–5 as on Amazon: item quality + user leniency +
   noise, thresholded.
5. **Metadata.** ``category``: ``["Books", genre, topic]``; ``price``: ``"$12.99"`` around a per-genre
   mean (``missing_price`` of them empty, as in the real file); ``brand``: one of a few authors per topic.

Example:
    >>> import tempfile
    >>> options = AmazonLikeOptions(users=300, items=250, interactions=9000, n_topics=12, n_genres=4)
    >>> out = Path(tempfile.mkdtemp())
    >>> write_amazon_like(out, options, progress=False)
    >>> sorted(p.name for p in out.iterdir())
    ['Books.csv', 'generated.json', 'meta_Books.json.gz']
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from tqdm.auto import tqdm

from towernas.data.errors import DataError

RECORD = "generated.json"  # what the files in the directory were generated with
_START, _SPAN = 1388534400, 4 * 365 * 86400  # 2014-01-01, four years
_ALPHABET = np.array(list("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"))


@dataclass
class AmazonLikeOptions:
    """Sizes and knobs of the generator (``dataset.generate``; see the module docstring)."""

    users: int = 165_036
    items: int = 159_551
    interactions: int = 5_073_469
    min_degree: int = 20
    n_topics: int = 400
    n_genres: int = 25
    user_spread: float = 0.8
    item_spread: float = 1.2
    genre_loyalty: float = 0.7
    explore_prob: float = 0.1
    mean_gap_days: float = 20.0
    missing_price: float = 0.2
    seed: int = 0
    ratings_file: str = "Books.csv"
    meta_file: str = "meta_Books.json.gz"

    def __post_init__(self) -> None:
        for name in ("users", "items", "interactions", "n_topics", "n_genres"):
            if getattr(self, name) < 1:
                raise DataError(f"dataset.generate.{name}={getattr(self, name)}: expected a positive integer")
        floor = self.min_degree * max(self.users, self.items)
        if self.interactions < floor:
            raise DataError(f"dataset.generate.interactions={self.interactions}: expected at least "
                            f"min_degree × max(users, items) = {floor}, so every user and item keeps "
                            f"{self.min_degree} interactions")
        if self.min_degree > min(self.users, self.items):
            raise DataError(f"dataset.generate.min_degree={self.min_degree}: expected at most "
                            f"min(users, items) = {min(self.users, self.items)} (distinct pairs)")
        if self.n_genres > self.n_topics:
            raise DataError(f"dataset.generate.n_genres={self.n_genres}: expected at most n_topics={self.n_topics}")
        for name in ("genre_loyalty", "explore_prob", "missing_price"):
            if not 0 <= getattr(self, name) <= 1:
                raise DataError(f"dataset.generate.{name}={getattr(self, name)}: expected a probability in [0, 1]")


def ensure_generated(directory: Path, options: AmazonLikeOptions, *, progress: bool = True) -> bool:
    """Generate the files into ``directory`` unless it holds those of the same options; True if written."""
    record = Path(directory) / RECORD
    wanted = dataclasses.asdict(options)
    try:
        if json.loads(record.read_text()) == wanted and all(
                (Path(directory) / f).is_file() for f in (options.ratings_file, options.meta_file)):
            return False
    except (OSError, ValueError):
        pass
    write_amazon_like(directory, options, progress=progress)
    return True


def write_amazon_like(directory: Path, options: AmazonLikeOptions, *, progress: bool = True) -> None:
    """Write the ratings CSV, the metadata and ``generated.json`` into ``directory``.

    Each file is written under a temporary name and renamed into place; the record goes last, so an
    interrupted run is regenerated next time rather than read half-written.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / RECORD).unlink(missing_ok=True)
    steps = tqdm(total=4, desc=f"generating {directory.name}", disable=not progress, leave=False)
    rng = np.random.default_rng(options.seed)
    users, items, topics, genres = _interactions(options, rng)
    steps.update(1)
    timestamps, ratings = _times_and_ratings(options, users, items, rng)
    steps.update(1)
    order = np.lexsort((timestamps, items))  # the real file is grouped by item
    asins, user_ids = _asins(options.items, rng), _user_ids(options.users, rng)
    table = pa.table({"item": pa.array(asins).take(pa.array(items[order])),
                      "user": pa.array(user_ids).take(pa.array(users[order])),
                      "rating": pa.array(["1.0", "2.0", "3.0", "4.0", "5.0"]).take(pa.array(ratings[order] - 1)),
                      "timestamp": pa.array(timestamps[order])})
    _atomic(directory / options.ratings_file,
            lambda tmp: pacsv.write_csv(table, tmp, pacsv.WriteOptions(include_header=False, quoting_style="none")))
    del table
    steps.update(1)
    _atomic(directory / options.meta_file, lambda tmp: _write_meta(tmp, asins, topics, genres, options, rng))
    steps.update(1)
    _atomic(directory / RECORD, lambda tmp: Path(tmp).write_text(json.dumps(dataclasses.asdict(options), indent=1)))
    steps.close()


# ------------------------------------------------------------------------------------ interactions
def _degrees(n: int, total: int, floor: int, spread: float, rng: np.random.Generator) -> np.ndarray:
    weights = rng.lognormal(0.0, spread, n)
    return floor + rng.multinomial(total - floor * n, weights / weights.sum())


def _interactions(o: AmazonLikeOptions, rng: np.random.Generator):
    """(user, item) of every interaction (user-major, in each user's time order), item topics and genres."""
    user_degree = _degrees(o.users, o.interactions, o.min_degree, o.user_spread, rng)
    item_degree = _degrees(o.items, o.interactions, o.min_degree, o.item_spread, rng)
    if item_degree.max() > o.users:  # an item cannot have more distinct users than there are
        raise DataError(f"dataset.generate.item_spread={o.item_spread}: an item would get {item_degree.max()} "
                        f"interactions from users={o.users} distinct users; lower item_spread")
    genre_of_topic = np.sort(rng.integers(0, o.n_genres, o.n_topics))
    genre_of_topic[: o.n_genres] = np.arange(o.n_genres)  # every genre has a topic
    genre_of_topic.sort()
    topic_weight = rng.dirichlet(np.ones(o.n_topics))
    early = rng.choice(o.n_topics, o.users, p=topic_weight)
    same_genre = rng.random(o.users) < o.genre_loyalty
    first_of_genre = np.searchsorted(genre_of_topic, genre_of_topic)
    size_of_genre = np.bincount(genre_of_topic, minlength=o.n_genres)[genre_of_topic]
    late = np.where(same_genre, first_of_genre[early] + rng.integers(0, 1 << 30, o.users) % size_of_genre[early],
                    rng.choice(o.n_topics, o.users, p=topic_weight))
    users = np.repeat(np.arange(o.users), user_degree)
    starts = np.repeat(np.cumsum(user_degree) - user_degree, user_degree)
    position = (np.arange(o.interactions) - starts + 0.5) / user_degree[users]
    topic = np.where(rng.random(o.interactions) < position, late[users], early[users])
    explore = rng.random(o.interactions) < o.explore_prob
    topic[explore] = rng.integers(0, o.n_topics, int(explore.sum()))
    # deal items to topics by cumulative demand, then pair both sides sorted by topic
    demand = np.cumsum(np.bincount(topic, minlength=o.n_topics))
    shuffled = rng.permutation(o.items)
    middle = np.cumsum(item_degree[shuffled]) - item_degree[shuffled] / 2
    item_topic = np.empty(o.items, dtype=np.int64)
    item_topic[shuffled] = np.minimum(np.searchsorted(demand, middle, side="right"), o.n_topics - 1)
    stubs = np.repeat(np.arange(o.items), item_degree)
    stubs = stubs[np.lexsort((rng.random(len(stubs)), item_topic[stubs]))]
    by_topic = np.lexsort((rng.random(o.interactions), topic))
    items = np.empty(o.interactions, dtype=np.int64)
    items[by_topic] = stubs
    _remove_repeats(users, items, by_topic, o, rng)
    return users, items, item_topic, genre_of_topic[item_topic]


def _remove_repeats(users, items, by_topic, o: AmazonLikeOptions, rng: np.random.Generator) -> None:
    """Swap the item of each repeated (user, item) pair with that of a nearby pair in topic order."""
    rank = np.empty_like(by_topic)
    rank[by_topic] = np.arange(len(by_topic))
    window = max(1, o.min_degree)
    for round_ in range(100):
        key = users * o.items + items
        order = np.argsort(key, kind="stable")
        repeated = order[1:][key[order[1:]] == key[order[:-1]]]
        if len(repeated) == 0:
            return
        if round_ % 10 == 9:
            window *= 4  # what is left sits in crowded topics: look further (neighbouring topics)
        partner_rank = np.clip(rank[repeated] + rng.integers(-window, window + 1, len(repeated)), 0, len(users) - 1)
        partner = by_topic[partner_rank]
        # disjoint swaps only, so every item keeps its degree
        keep = ~np.isin(partner, repeated) & ~_later_occurrences(partner)
        repeated, partner = repeated[keep], partner[keep]
        items[repeated], items[partner] = items[partner], items[repeated]
    raise DataError("dataset.generate: repeated (user, item) pairs remain after 100 rounds of swaps; "
                    "raise items or n_topics")


def _later_occurrences(values: np.ndarray) -> np.ndarray:
    """True for every occurrence of a value after its first."""
    _, first = np.unique(values, return_index=True)
    mask = np.ones(len(values), dtype=bool)
    mask[first] = False
    return mask


def _times_and_ratings(o: AmazonLikeOptions, users, items, rng: np.random.Generator):
    gaps = rng.exponential(o.mean_gap_days * 86400, len(users))
    first = np.r_[True, users[1:] != users[:-1]]
    start = rng.integers(_START, _START + _SPAN, o.users)
    gaps[first] = 0
    cumulative = np.cumsum(gaps)
    timestamps = start[users] + (cumulative - np.maximum.accumulate(np.where(first, cumulative, 0))).astype(np.int64)
    quality = rng.normal(0, 0.6, o.items)
    leniency = rng.normal(0, 0.5, o.users)
    score = 4.8 + quality[items] + leniency[users] + rng.normal(0, 0.9, len(users))
    ratings = np.clip(np.floor(score), 1, 5).astype(np.int64)
    return timestamps, ratings


# ---------------------------------------------------------------------------------------- identifiers
def _distinct(n: int, rng: np.random.Generator) -> np.ndarray:
    values = np.unique(rng.integers(0, 1 << 62, int(n * 1.01) + 16))
    while len(values) < n:
        values = np.unique(np.r_[values, rng.integers(0, 1 << 62, n)])
    return rng.permutation(values)[:n]


def _asins(n: int, rng: np.random.Generator) -> np.ndarray:
    """ISBN-10-like asins ("0001713353"), as the Books file's."""
    return np.char.zfill(rng.choice(10**10, size=n, replace=False).astype(str), 10)


def _user_ids(n: int, rng: np.random.Generator) -> np.ndarray:
    """Reviewer ids like "A1C6M8LCIX4M6M": "A" and 13 base-36 characters."""
    width = 13
    picks = _distinct(n, rng) % (36 ** 12)
    digits = (picks[:, None] // 36 ** np.arange(width - 2, -1, -1, dtype=np.int64)) % 36
    chars = _ALPHABET[digits].view(f"<U{width - 1}").ravel() if n else np.array([], str)
    return np.char.add("A", np.char.add(_ALPHABET[rng.integers(0, 36, n)], chars))


# ------------------------------------------------------------------------------------------ metadata
def _write_meta(path: str, asins, topics, genres, o: AmazonLikeOptions, rng: np.random.Generator) -> None:
    genre_price = rng.lognormal(2.4, 0.4, o.n_genres)
    price = np.round(genre_price[genres] * rng.lognormal(0, 0.3, len(asins)), 2)
    no_price = rng.random(len(asins)) < o.missing_price
    author = rng.integers(0, 8, len(asins))
    with gzip.open(path, "wt", compresslevel=1, encoding="utf-8") as out:
        for i, asin in enumerate(asins):
            record = {"asin": asin, "title": f"Book {i}",
                      "category": ["Books", f"Genre {genres[i]}", f"Topic {topics[i]}"],
                      "price": "" if no_price[i] else f"${price[i]:.2f}",
                      "brand": f"Author {topics[i]}-{author[i]}", "also_buy": []}
            out.write(json.dumps(record) + "\n")


def _atomic(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        write(str(tmp))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
