"""Small MovieLens files in exactly the GroupLens formats, for reader and download tests.

The first rows are fixed so tests can check them by hand; the rest are drawn from ``seed``.

- ml-100k: ``u.data`` (``user\\titem\\trating\\ttimestamp``), ``u.user`` (``id|age|gender|occupation|zip``),
  ``u.item`` (latin-1, ``id|title|release date|video release date|IMDb URL|19 genre flags``).
- ml-1m: ``ratings.dat`` (``user::movie::rating::timestamp``), ``users.dat``
  (``user::gender::age::occupation::zip``), ``movies.dat`` (latin-1, ``movie::Title (Year)::G1|G2``).

Fixed rows (both datasets): user 1 is a 24-year-old male technician (ml-100k zip 85711, ml-1m age
bucket 18, occupation 17, zip 85711), user 2 a female with a Canadian (ml-100k) / ZIP+4 (ml-1m) code;
item 1 is Toy Story (1995), Animation|Children's|Comedy; item 2 GoldenEye (1995), Action|Adventure|
Thriller; item 3 "Amélie (2001)", Comedy|Romance; item 4 has no release date / no year. The first
rating is user 1, item 3, rating 5, timestamp 881250949.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
    "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
    "War", "Western",
)  # fmt: skip
OCCUPATIONS_100K = ("administrator", "artist", "doctor", "educator", "engineer", "entertainment",
                    "executive", "healthcare", "homemaker", "lawyer", "librarian", "marketing", "none",
                    "other", "programmer", "retired", "salesman", "scientist", "student", "technician",
                    "writer")  # fmt: skip
AGES_1M = (1, 18, 25, 35, 45, 50, 56)
SPLITS_100K = ("u1", "u2", "u3", "u4", "u5", "ua", "ub")  # GroupLens' fixed splits: <name>.base / <name>.test
FILES_100K = ("u.data", "u.user", "u.item", *(f"{s}.{part}" for s in SPLITS_100K for part in ("base", "test")))
FILES_1M = ("ratings.dat", "users.dat", "movies.dat")
FIRST_RATING = (1, 3, 5, 881250949)

# (title, release date or "", genres); a year-less "unknown" movie as in the real u.item line 267
_FIXED_ITEMS = (
    ("Toy Story (1995)", "01-Jan-1995", ("Animation", "Children's", "Comedy")),
    ("GoldenEye (1995)", "01-Jan-1995", ("Action", "Adventure", "Thriller")),
    ("Amélie (2001)", "25-Apr-2001", ("Comedy", "Romance")),
    ("unknown", "", ("unknown",)),
)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_WORDS = ("Night", "River", "Secret", "Last", "Summer", "City", "Ghost", "Garden", "Café", "Blue", "King")


def write_ml100k(directory: Path | str, n_users: int = 50, n_items: int = 80, n_ratings: int = 1000,
                 seed: int = 0) -> Path:  # fmt: skip
    """Write ``u.data``, ``u.user`` and ``u.item`` into ``directory``; returns the directory."""
    directory, rng = _prepare(directory, n_users, n_items, n_ratings, seed)
    users = ["1|24|M|technician|85711", "2|53|F|other|T8H1N"]
    for u in range(3, n_users + 1):
        age, gender = int(rng.integers(7, 74)), "MF"[int(rng.integers(2))]
        occupation = OCCUPATIONS_100K[int(rng.integers(len(OCCUPATIONS_100K)))]
        users.append(f"{u}|{age}|{gender}|{occupation}|{int(rng.integers(1000, 99999)):05d}")
    items = []
    for i, (title, date, genres) in enumerate(_items(rng, n_items), start=1):
        flags = "|".join("1" if g in genres else "0" for g in GENRES)
        url = "" if not date else f"http://us.imdb.com/M/title-exact?{title.replace(' ', '%20')}"
        items.append(f"{i}|{title}|{date}||{url}|{flags}")
    rows = _ratings(rng, n_users, n_items, n_ratings)
    ratings = ["\t".join(map(str, row)) for row in rows]
    _write(directory / "u.data", ratings, "ascii")
    _write(directory / "u.user", users, "ascii")
    _write(directory / "u.item", items, "latin-1")
    _write_splits(directory, rows, rng)
    return directory


def _write_splits(directory: Path, rows: list[tuple[int, ...]], rng: np.random.Generator) -> None:
    """GroupLens' fixed splits, sorted by (user, item) as theirs are: u1-u5 the 5 folds of a random permutation as
    test (the rest base), ua / ub 2 (GroupLens: 10) random ratings of each user with at least 4 as test."""
    fold = rng.permutation(len(rows)) % 5
    users = np.array([r[0] for r in rows])
    for k in range(5):
        _write_split(directory, f"u{k + 1}", rows, fold == k)
    for name in ("ua", "ub"):
        test = np.zeros(len(rows), dtype=bool)
        for u in np.unique(users):
            mine = np.flatnonzero(users == u)
            if len(mine) >= 4:
                test[rng.choice(mine, 2, replace=False)] = True
        _write_split(directory, name, rows, test)


def _write_split(directory: Path, name: str, rows: list[tuple[int, ...]], test: np.ndarray) -> None:
    for part, mask in (("base", ~test), ("test", test)):
        chosen = sorted(r for r, m in zip(rows, mask) if m)
        _write(directory / f"{name}.{part}", ["\t".join(map(str, r)) for r in chosen], "ascii")


def write_ml1m(directory: Path | str, n_users: int = 50, n_items: int = 80, n_ratings: int = 1000,
               seed: int = 0) -> Path:  # fmt: skip
    """Write ``ratings.dat``, ``users.dat`` and ``movies.dat`` into ``directory``; returns the directory."""
    directory, rng = _prepare(directory, n_users, n_items, n_ratings, seed)
    users = ["1::M::18::17::85711", "2::F::56::0::98107-2117"]
    for u in range(3, n_users + 1):
        age, gender = AGES_1M[int(rng.integers(len(AGES_1M)))], "MF"[int(rng.integers(2))]
        users.append(f"{u}::{gender}::{age}::{int(rng.integers(21))}::{int(rng.integers(1000, 99999)):05d}")
    movies = []
    for i, (title, date, genres) in enumerate(_items(rng, n_items), start=1):
        if title == "unknown":
            title, genres = "Untitled", ("Drama",)  # ml-1m has no genre "unknown"; keep it year-less
        movies.append(f"{i}::{title}::{'|'.join(genres)}")
    ratings = ["::".join(map(str, row)) for row in _ratings(rng, n_users, n_items, n_ratings)]
    _write(directory / "ratings.dat", ratings, "latin-1")
    _write(directory / "users.dat", users, "latin-1")
    _write(directory / "movies.dat", movies, "latin-1")
    return directory


def zip_ml100k(directory: Path | str) -> bytes:
    """The files written by ``write_ml100k`` as ``ml-100k.zip`` bytes (``ml-100k/u.data``, ...)."""
    return _zip(Path(directory), "ml-100k", FILES_100K)


def zip_ml1m(directory: Path | str) -> bytes:
    """The files written by ``write_ml1m`` as ``ml-1m.zip`` bytes (``ml-1m/ratings.dat``, ...)."""
    return _zip(Path(directory), "ml-1m", FILES_1M)


def _prepare(directory, n_users, n_items, n_ratings, seed):
    if n_users < 2 or n_items < len(_FIXED_ITEMS) or not 1 <= n_ratings <= n_users * n_items:
        raise ValueError("need n_users >= 2, n_items >= 4 and 1 <= n_ratings <= n_users * n_items")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    return directory, np.random.default_rng(seed)


def _items(rng: np.random.Generator, n_items: int) -> list[tuple[str, str, tuple[str, ...]]]:
    items = list(_FIXED_ITEMS)
    for i in range(len(_FIXED_ITEMS) + 1, n_items + 1):
        year = int(rng.integers(1930, 1999))
        words = " ".join(_WORDS[int(k)] for k in rng.choice(len(_WORDS), int(rng.integers(1, 4)), replace=False))
        date = f"{int(rng.integers(1, 29)):02d}-{_MONTHS[int(rng.integers(12))]}-{year}"
        picks = rng.choice(np.arange(1, len(GENRES)), int(rng.integers(1, 4)), replace=False)  # never "unknown"
        genres = tuple(GENRES[int(g)] for g in sorted(picks))
        items.append((f"{words} {i} ({year})", date, genres))
    return items


def _ratings(rng: np.random.Generator, n_users: int, n_items: int, n_ratings: int) -> list[tuple[int, ...]]:
    """Distinct (user, item) pairs in random order, the first one fixed to ``FIRST_RATING``."""
    first = (FIRST_RATING[0] - 1) * n_items + FIRST_RATING[1] - 1
    pairs = rng.choice(n_users * n_items - 1, n_ratings - 1, replace=False)
    pairs = pairs + (pairs >= first)  # skip the fixed pair
    rows = [FIRST_RATING]
    stars = rng.integers(1, 6, len(pairs))
    times = rng.integers(874724710, 893286638, len(pairs))
    for pair, star, t in zip(pairs.tolist(), stars.tolist(), times.tolist()):
        rows.append((pair // n_items + 1, pair % n_items + 1, star, t))
    return rows


def _write(path: Path, lines: list[str], encoding: str) -> None:
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))


def _zip(directory: Path, folder: str, files: tuple[str, ...]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        entries = [(f"{folder}/", b"")]
        entries += [(f"{folder}/{name}", (directory / name).read_bytes()) for name in files]
        entries.append((f"{folder}/README", f"MovieLens {folder} (test fake)\n".encode()))
        for name, payload in entries:  # fixed timestamps: same files, same bytes
            info = zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0))
            archive.writestr(info, payload, compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()
