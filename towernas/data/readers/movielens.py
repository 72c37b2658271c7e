"""Readers for the GroupLens MovieLens 100K (``ml-100k``) and 1M (``ml-1m``) releases.

Both give the same fields with the same meaning:

- interactions: ``user``, ``item``, ``timestamp`` (int64 seconds), ``rating`` (float, 1-5);
- user features (index = raw user id): ``gender`` (``M``/``F``), ``age`` (ml-1m bucket: 1 = under 18,
  18, 25, 35, 45, 50, 56 = 56+; ml-100k exact ages are mapped to these buckets), ``occupation``
  (ml-100k: a name such as ``"writer"``; ml-1m: the code 0-20 of its README), ``zip`` (first two
  characters of the zip code);
- item features (index = raw movie id): ``genres`` (multi-valued list of names, e.g.
  ``["Animation", "Children's", "Comedy"]``) and ``year`` (release year as a string, None if unknown).

Every file is checked line by line (column count, numbers where numbers belong, unique feature ids);
the first bad line raises a one-line ``DataError`` such as ``.../u.data:12: expected 4 tab-separated
columns, got 3``. Users and items without a feature row are kept (their features are missing).

Example:
    >>> from pathlib import Path
    >>> from towernas.data.readers.movielens import ML_100K
    >>> directory = Path("~/.cache/towernas/ml-100k").expanduser()  # holds u.data, u.user, u.item
    >>> raw = ML_100K.read(directory, ML_100K.options())  # doctest: +SKIP
    >>> raw.interactions.shape  # doctest: +SKIP
    (100000, 4)
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from towernas.data.download import Source
from towernas.data.errors import DataError
from towernas.data.raw import RawDataset
from towernas.data.interactions import TEST, TRAIN
from towernas.data.readers.base import NoOptions, Reader
from towernas.data.readers.columns import Rows, check_choice, check_unseen

_GROUPLENS = "https://files.grouplens.org/datasets/movielens"

# ml-100k u.item genre flag order (the file's u.genre); ml-1m uses the same spellings.
GENRES_100K = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
    "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
    "War", "Western",
)  # fmt: skip
# ml-1m age buckets, each named by its lower bound; ml-100k ages map to the bucket containing them.
AGE_BUCKETS = (1, 18, 25, 35, 45, 50, 56)

_RATING_COLUMNS = ("user", "item", "rating", "timestamp")
_DATE_100K = re.compile(r"\d{1,2}-[A-Za-z]{3}-\d{4}")  # e.g. 01-Jan-1995
_TITLE_YEAR = re.compile(r"\((\d{4})\)\s*$")


# --- ml-100k -------------------------------------------------------------------------------------


@dataclass
class ML100KOptions:
    """Settings of the ml-100k reader (``dataset.options``).

    Args:
        split_files: None reads ``u.data`` (split by ``dataset.split``); one of GroupLens' fixed splits ``u1`` …
            ``u5`` (5-fold, random 80/20) or ``ua`` / ``ub`` (10 ratings per user in test) reads ``<name>.base`` as
            train and ``<name>.test`` as test (``dataset.split.method=given``; validation is carved from train).
        unseen: test users or items that ``<name>.base`` lacks (the random folds have some): ``keep`` (counted in
            the log), ``drop`` or ``refuse``.
    """

    split_files: str | None = None
    unseen: str = "keep"


def read_ml100k(directory: Path, options: ML100KOptions | None = None) -> RawDataset:
    """Read ``u.data`` (or a fixed split's ``.base`` / ``.test``), ``u.user`` and ``u.item`` from ``directory``."""
    directory = Path(directory)
    options = options or ML100KOptions()
    if options.split_files is None:
        interactions = _interactions(_read_ratings(directory / "u.data", "\t"))
    else:
        interactions = _given_split(directory, options)
    users_path = directory / "u.user"
    users = _read_table(users_path, "|", ("user", "age", "gender", "occupation", "zip"), ints=("user", "age"))
    _check_unique(users_path, users["user"], "user")
    bucket = np.searchsorted(AGE_BUCKETS, users["age"].to_numpy(), side="right") - 1  # ages < 1 -> bucket 1
    user_features = pd.DataFrame(
        {
            "gender": _text(users["gender"]),
            "age": np.asarray(AGE_BUCKETS)[np.maximum(bucket, 0)],
            "occupation": _text(users["occupation"]),
            "zip": _zip_prefix(users["zip"]),
        },
        index=pd.Index(users["user"].to_numpy(), name="user"),
    )

    items_path = directory / "u.item"
    flag_columns = tuple(f"g{i}" for i in range(len(GENRES_100K)))
    columns = ("item", "title", "release", "video_release", "url", *flag_columns)
    items = _read_table(items_path, "|", columns, ints=("item", *flag_columns))
    _check_unique(items_path, items["item"], "movie")
    flags = items[list(flag_columns)].to_numpy()
    bad = np.flatnonzero(((flags != 0) & (flags != 1)).any(axis=1))
    if len(bad):
        raise DataError.at(items_path, int(bad[0]) + 1, "expected genre flags 0 or 1 in columns 6-24")
    names = np.asarray(GENRES_100K, dtype=object)
    genres = [list(names[row]) for row in flags.astype(bool)]
    release = items["release"]
    ok = release.str.fullmatch(_DATE_100K.pattern) | (release == "")
    bad = np.flatnonzero(~ok.to_numpy(dtype=bool))
    if len(bad):
        i = int(bad[0])
        problem = f"expected a release date like 01-Jan-1995 or nothing, got {release[i]!r}"
        raise DataError.at(items_path, i + 1, problem)
    year = [text[-4:] if text else None for text in release]
    item_features = _item_frame(items["item"], genres, year)
    return RawDataset(interactions, user_features, item_features, frozenset({"genres"}))


def _given_split(directory: Path, options: ML100KOptions) -> pd.DataFrame:
    check_choice("dataset.options.split_files", options.split_files, SPLITS_100K)
    files = [directory / f"{options.split_files}.{part}" for part in ("base", "test")]
    parts = [_interactions(_read_ratings(path, "\t")) for path in files]
    for part, code in zip(parts, (TRAIN, TEST)):
        part["split"] = np.int8(code)
    frame = pd.concat(parts, ignore_index=True)
    source = np.repeat(np.arange(2, dtype=np.int8), [len(p) for p in parts])
    positions = np.concatenate([np.arange(len(p)) for p in parts])
    line = lambda row: row + 1  # noqa: E731  (headerless files, one rating a line: _read_table refuses blank lines)
    rows = Rows(frame, files, source, positions, [line, line])
    return check_unseen(rows, options.unseen, "dataset.options.unseen").frame


# --- ml-1m ---------------------------------------------------------------------------------------


def read_ml1m(directory: Path, options: Any = None) -> RawDataset:
    """Read ``ratings.dat``, ``users.dat`` and ``movies.dat`` from ``directory``."""
    directory = Path(directory)
    ratings = _read_ratings(directory / "ratings.dat", "::")
    users_path = directory / "users.dat"
    columns = ("user", "gender", "age", "occupation", "zip")
    users = _read_table(users_path, "::", columns, ints=("user", "age", "occupation"))
    _check_unique(users_path, users["user"], "user")
    user_features = pd.DataFrame(
        {
            "gender": _text(users["gender"]),
            "age": users["age"].to_numpy(),
            "occupation": users["occupation"].to_numpy(),
            "zip": _zip_prefix(users["zip"]),
        },
        index=pd.Index(users["user"].to_numpy(), name="user"),
    )

    movies_path = directory / "movies.dat"
    movies = _read_table(movies_path, "::", ("item", "title", "genres"), ints=("item",))
    _check_unique(movies_path, movies["item"], "movie")
    genres = [text.split("|") if text else [] for text in movies["genres"]]
    year = [m.group(1) if (m := _TITLE_YEAR.search(title)) else None for title in movies["title"]]
    item_features = _item_frame(movies["item"], genres, year)
    return RawDataset(_interactions(ratings), user_features, item_features, frozenset({"genres"}))


# --- shared helpers ------------------------------------------------------------------------------


def _read_ratings(path: Path, sep: str) -> pd.DataFrame:
    return _read_table(path, sep, _RATING_COLUMNS, ints=("user", "item", "timestamp"), floats=("rating",))


def _interactions(ratings: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user": ratings["user"].to_numpy(np.int64),
            "item": ratings["item"].to_numpy(np.int64),
            "timestamp": ratings["timestamp"].to_numpy(np.int64),
            "rating": ratings["rating"].to_numpy(np.float64),
        }
    )


def _item_frame(ids: pd.Series, genres: list[list[str]], year: list[str | None]) -> pd.DataFrame:
    index = pd.Index(ids.to_numpy(np.int64), name="item")
    columns = {"genres": genres, "year": year}
    return pd.DataFrame({k: pd.Series(v, index=index, dtype=object) for k, v in columns.items()})


def _text(column: pd.Series) -> np.ndarray:
    """Strings as an object array, empty strings as None (missing)."""
    values = column.to_numpy(dtype=object)
    values[values == ""] = None
    return values


def _zip_prefix(column: pd.Series) -> np.ndarray:
    return _text(column.str.strip().str[:2])


def _check_unique(path: Path, ids: pd.Series, what: str) -> None:
    duplicated = ids.duplicated()
    if duplicated.any():
        i = int(np.flatnonzero(duplicated.to_numpy())[0])
        first = int(np.flatnonzero((ids == ids[i]).to_numpy())[0])
        raise DataError.at(path, i + 1, f"duplicate {what} id {ids[i]} (first on line {first + 1})")


def _read_table(
    path: Path, sep: str, columns: Sequence[str], *, ints: Sequence[str] = (), floats: Sequence[str] = ()
) -> pd.DataFrame:
    """Read a headerless ``sep``-separated latin-1 file with exactly ``len(columns)`` fields per line.

    Returns one row per line (row i = line i + 1): ``ints`` as int64, ``floats`` as finite float64, the
    rest as strings. A multi-character ``sep`` (MovieLens ``::``) is turned into a tab first, so the
    fast C parser does the work without regular expressions.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError.at(path, None, "file not found") from None
    except OSError as e:
        raise DataError.at(path, None, f"cannot read file: {e.strerror or e}") from None
    if not data.strip():
        expected = f"expected lines of {len(columns)} {sep!r}-separated columns"
        raise DataError.at(path, None, f"file is empty; {expected}")
    delimiter = sep
    if len(sep) > 1:
        tab = data.find(b"\t")
        if tab >= 0:
            raise DataError.at(path, data.count(b"\n", 0, tab) + 1, f"unexpected tab in a {sep!r}-separated file")
        data, delimiter = data.replace(sep.encode(), b"\t"), "\t"
    _check_column_counts(path, data, delimiter, len(columns), sep)

    dtypes: dict[str, Any] = {c: str for c in columns}
    dtypes.update({c: np.int64 for c in ints})
    dtypes.update({c: np.float64 for c in floats})
    try:
        table = _parse(data, delimiter, columns, dtypes)
        numbers_ok = all(np.isfinite(table[c].to_numpy()).all() for c in floats)
    except (ValueError, OverflowError):
        numbers_ok = False
    if not numbers_ok:  # slow path, only on bad input: find the first offending line
        table = _parse(data, delimiter, columns, {c: str for c in columns})
        _raise_first_bad_number(path, table, ints, floats)
    return table


def _parse(data: bytes, delimiter: str, columns: Sequence[str], dtypes: dict[str, Any]) -> pd.DataFrame:
    return pd.read_csv(
        io.BytesIO(data),
        sep=delimiter,
        header=None,
        names=list(columns),
        dtype=dtypes,
        encoding="latin-1",
        quoting=csv.QUOTE_NONE,
        na_filter=False,
        skip_blank_lines=False,
        engine="c",
    )


def _check_column_counts(path: Path, data: bytes, delimiter: str, n_columns: int, sep: str) -> None:
    """Raise at the first line whose field count is not ``n_columns`` (vectorised over all lines)."""
    raw = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(raw == ord("\n"))
    if data[-1:] != b"\n":
        ends = np.append(ends, len(raw))
    starts = np.concatenate(([0], ends[:-1] + 1))
    delimiters = np.flatnonzero(raw == ord(delimiter))
    counts = np.searchsorted(delimiters, ends) - np.searchsorted(delimiters, starts) + 1
    empty = (ends - starts == 0) | ((ends - starts == 1) & (raw[np.maximum(ends - 1, 0)] == ord("\r")))
    bad = np.flatnonzero((counts != n_columns) | empty)
    if len(bad):
        i = int(bad[0])
        got = "an empty line" if empty[i] else f"{counts[i]}"
        name = "tab" if sep == "\t" else repr(sep)
        raise DataError.at(path, i + 1, f"expected {n_columns} {name}-separated columns, got {got}")


def _raise_first_bad_number(path: Path, table: pd.DataFrame, ints: Sequence[str], floats: Sequence[str]) -> None:
    first: tuple[int, str] | None = None
    for column in (*ints, *floats):
        text = table[column].str.strip()
        if column in ints:
            ok = text.str.fullmatch(r"[+-]?\d{1,18}").to_numpy(dtype=bool)
            kind = "an integer"
        else:
            ok = np.isfinite(pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan))
            kind = "a number"
        bad = np.flatnonzero(~ok)
        if len(bad) and (first is None or bad[0] < first[0]):
            i = int(bad[0])
            first = (i, f"expected {kind} in column {column!r}, got {table[column][i]!r}")
    if first is None:  # the C parser refused something the checks above accept: report it without a line
        raise DataError.at(path, None, "could not parse numeric columns " + ", ".join((*ints, *floats)))
    raise DataError.at(path, first[0] + 1, first[1])


def _manual(name: str, files: Sequence[str]) -> str:
    return (
        f"Download {_GROUPLENS}/{name}.zip, unzip it, and copy {', '.join(files)} from its {name}/ folder "
        "into the dataset directory."
    )


_FILES_100K = ["u.data", "u.user", "u.item"]
#: GroupLens' fixed splits of ml-100k: <name>.base (train) and <name>.test (test), in the same archive
SPLITS_100K = ("u1", "u2", "u3", "u4", "u5", "ua", "ub")
_SPLIT_FILES_100K = [f"{name}.{part}" for name in SPLITS_100K for part in ("base", "test")]
_FILES_1M = ["ratings.dat", "users.dat", "movies.dat"]


def _source(name: str, files: Sequence[str]) -> Source:
    url = f"{_GROUPLENS}/{name}.zip"
    members = tuple((f"{name}/{f}", f) for f in files)
    return Source(url=url, filename=f"{name}.zip", checksum_url=url + ".md5", members=members)


def _files_100k(options: ML100KOptions) -> list[str]:
    if options.split_files is None:
        return list(_FILES_100K)
    check_choice("dataset.options.split_files", options.split_files, SPLITS_100K)
    return [f"{options.split_files}.base", f"{options.split_files}.test", "u.user", "u.item"]


ML_100K = Reader(
    name="ml-100k",
    read=read_ml100k,
    files=_files_100k,
    options=ML100KOptions,
    sources=(_source("ml-100k", _FILES_100K + _SPLIT_FILES_100K),),
    manual=_manual("ml-100k", _FILES_100K) + " With dataset.options.split_files=<u1..u5|ua|ub>, copy that split's "
                                              ".base and .test files too.",
)
ML_1M = Reader(
    name="ml-1m",
    read=read_ml1m,
    files=lambda options: list(_FILES_1M),
    options=NoOptions,
    sources=(_source("ml-1m", _FILES_1M),),
    manual=_manual("ml-1m", _FILES_1M),
)
