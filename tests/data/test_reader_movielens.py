"""MovieLens readers on fake files in the real GroupLens formats: values, dtypes and bad-input errors."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tests.fakes.movielens import (
    FILES_1M,
    FILES_100K,
    FIRST_RATING,
    write_ml1m,
    write_ml100k,
    zip_ml1m,
    zip_ml100k,
)
from towernas.data.errors import DataError
from towernas.data.readers.base import NoOptions
from towernas.data.readers.movielens import ML_1M, ML_100K

N_USERS, N_ITEMS, N_RATINGS = 50, 80, 1000
# reader, fake writer, ratings file, its separator, users file, items file
CASES = {
    "ml-100k": (ML_100K, write_ml100k, "u.data", "\t", "u.user", "u.item"),
    "ml-1m": (ML_1M, write_ml1m, "ratings.dat", "::", "users.dat", "movies.dat"),
}


def _read(name: str, directory: Path):
    reader = CASES[name][0]
    return reader.read(directory, reader.options())


def _set_line(path: Path, line: int, text: str) -> None:
    """Replace 1-based ``line`` of a latin-1 file."""
    lines = path.read_bytes().decode("latin-1").split("\n")
    lines[line - 1] = text
    path.write_bytes("\n".join(lines).encode("latin-1"))


def _error(name: str, directory: Path) -> str:
    with pytest.raises(DataError) as info:
        _read(name, directory)
    message = str(info.value)
    assert "\n" not in message and message == message.strip()
    return message


# --- parsing -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", CASES)
def test_interactions_match_an_independent_parse(tmp_path, name):
    _, write, ratings_file, sep, _, _ = CASES[name]
    write(tmp_path, N_USERS, N_ITEMS, N_RATINGS, seed=3)
    raw = _read(name, tmp_path)
    inter = raw.interactions
    assert list(inter.columns) == ["user", "item", "timestamp", "rating"]
    assert [str(t) for t in inter.dtypes] == ["int64", "int64", "int64", "float64"]
    assert len(inter) == N_RATINGS
    expected = [line.split(sep) for line in (tmp_path / ratings_file).read_text().splitlines()]
    assert inter["user"].tolist() == [int(r[0]) for r in expected]
    assert inter["item"].tolist() == [int(r[1]) for r in expected]
    assert inter["rating"].tolist() == [float(r[2]) for r in expected]
    assert inter["timestamp"].tolist() == [int(r[3]) for r in expected]
    first = inter.iloc[0]
    # user 1, item 3, 5 stars, 881250949
    assert (first["user"], first["item"], first["rating"], first["timestamp"]) == FIRST_RATING
    assert not inter[["user", "item"]].duplicated().any()


@pytest.mark.parametrize("name", CASES)
def test_feature_tables_are_indexed_by_raw_ids(tmp_path, name):
    CASES[name][1](tmp_path)
    raw = _read(name, tmp_path)
    assert raw.multi_valued == frozenset({"genres"})
    assert list(raw.user_features.columns) == ["gender", "age", "occupation", "zip"]
    assert list(raw.item_features.columns) == ["genres", "year"]
    assert raw.user_features.index.tolist() == list(range(1, N_USERS + 1))
    assert raw.item_features.index.tolist() == list(range(1, N_ITEMS + 1))
    assert raw.user_features.index.dtype == raw.interactions["user"].dtype
    assert raw.item_features.index.dtype == raw.interactions["item"].dtype
    assert set(raw.user_features["age"]) <= {1, 18, 25, 35, 45, 50, 56}
    assert set(raw.user_features["gender"]) <= {"M", "F"}
    assert all(isinstance(g, list) and g for g in raw.item_features["genres"])
    assert raw.item_features["genres"].map(len).max() > 1  # multi-genre items exist


def test_ml100k_hand_checked_rows(tmp_path):
    write_ml100k(tmp_path)
    raw = _read("ml-100k", tmp_path)
    users, items = raw.user_features, raw.item_features
    # "1|24|M|technician|85711": age 24 -> bucket 18 (18-24)
    assert users.loc[1].tolist() == ["M", 18, "technician", "85"]
    # "2|53|F|other|T8H1N": 53 -> bucket 50 (50-55); a Canadian postal code keeps its letters
    assert users.loc[2].tolist() == ["F", 50, "other", "T8"]
    assert items.loc[1, "genres"] == ["Animation", "Children's", "Comedy"]
    assert items.loc[1, "year"] == "1995"
    assert items.loc[2, "genres"] == ["Action", "Adventure", "Thriller"]
    assert items.loc[3, "genres"] == ["Comedy", "Romance"] and items.loc[3, "year"] == "2001"  # Amélie
    assert items.loc[4, "genres"] == ["unknown"] and items.loc[4, "year"] is None  # empty release date


def test_ml100k_age_buckets_follow_ml1m(tmp_path):
    write_ml100k(tmp_path, n_users=9, n_ratings=100)
    ages = [5, 17, 18, 24, 25, 44, 45, 55, 56]
    for user, age in enumerate(ages, start=1):
        _set_line(tmp_path / "u.user", user, f"{user}|{age}|M|writer|12345")
    got = _read("ml-100k", tmp_path).user_features["age"].tolist()
    assert got == [1, 1, 18, 18, 25, 35, 45, 50, 56]


def test_ml1m_hand_checked_rows(tmp_path):
    write_ml1m(tmp_path)
    raw = _read("ml-1m", tmp_path)
    users, items = raw.user_features, raw.item_features
    assert users.loc[1].tolist() == ["M", 18, 17, "85"]  # "1::M::18::17::85711"
    assert users.loc[2].tolist() == ["F", 56, 0, "98"]  # "2::F::56::0::98107-2117"
    assert items.loc[1, "genres"] == ["Animation", "Children's", "Comedy"] and items.loc[1, "year"] == "1995"
    assert items.loc[3, "genres"] == ["Comedy", "Romance"] and items.loc[3, "year"] == "2001"  # "Amélie (2001)"
    assert items.loc[4, "year"] is None  # "Untitled" has no "(year)"


def test_latin1_titles_are_decoded(tmp_path):
    write_ml1m(tmp_path)
    assert "Amélie (2001)".encode("latin-1") in (tmp_path / "movies.dat").read_bytes()
    # a title with ':' must not be split by the '::' separator
    _set_line(tmp_path / "movies.dat", 2, "2::Star Wars: Episode IV - A New Hope (1977)::Action|Sci-Fi")
    items = _read("ml-1m", tmp_path).item_features
    assert items.loc[2].tolist() == [["Action", "Sci-Fi"], "1977"]


@pytest.mark.parametrize("name", CASES)
def test_users_and_items_without_features_are_kept(tmp_path, name):
    _, write, _, _, users_file, items_file = CASES[name]
    write(tmp_path)
    for file in (users_file, items_file):  # drop feature row 1 (user 1 / item 1 are rated)
        path = tmp_path / file
        path.write_bytes(b"\n".join(path.read_bytes().split(b"\n")[1:]))
    raw = _read(name, tmp_path)
    assert 1 in set(raw.interactions["user"]) and 1 not in raw.user_features.index
    assert len(raw.interactions) == N_RATINGS and len(raw.user_features) == N_USERS - 1


@pytest.mark.parametrize("name", CASES)
def test_fakes_are_deterministic(tmp_path, name):
    write = CASES[name][1]
    a, b, c = (write(tmp_path / d, seed=s) for d, s in (("a", 1), ("b", 1), ("c", 2)))
    ratings = CASES[name][2]
    assert (a / ratings).read_bytes() == (b / ratings).read_bytes() != (c / ratings).read_bytes()


# --- sources, manual and the zip layout ----------------------------------------------------------


@pytest.mark.parametrize(
    "name, files, zipper", [("ml-100k", FILES_100K, zip_ml100k), ("ml-1m", FILES_1M, zip_ml1m)]
)
def test_sources_extract_to_readable_files(tmp_path, name, files, zipper):
    reader, write = CASES[name][:2]
    assert reader.name == name
    assert reader.files(reader.options()) == list(files[:3])  # ml-100k's split files are read on request
    (source,) = reader.sources
    url = f"https://files.grouplens.org/datasets/movielens/{name}.zip"
    assert (source.url, source.filename, source.checksum_url) == (url, f"{name}.zip", url + ".md5")
    assert source.sha256 is None  # not pinned: verified against GroupLens' published .md5
    assert source.members == tuple((f"{name}/{f}", f) for f in files)
    assert f"{name}.zip" in reader.manual and all(f in reader.manual for f in files[:3])

    archive = zipper(write(tmp_path / "src"))
    assert archive == zipper(tmp_path / "src")  # same files, same bytes
    out = tmp_path / "out"
    out.mkdir()
    with zipfile.ZipFile(io.BytesIO(archive)) as z:
        for member, target in source.members:  # what the downloader does with `members`
            (out / target).write_bytes(z.read(member))
    a, b = _read(name, tmp_path / "src"), _read(name, out)
    assert a.interactions.equals(b.interactions) and a.user_features.equals(b.user_features)


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("which", [2, 4, 5])  # ratings, users, items file
def test_missing_file_names_the_path(tmp_path, name, which):
    CASES[name][1](tmp_path)
    path = tmp_path / CASES[name][which]
    path.unlink()
    assert _error(name, tmp_path) == f"{path}: file not found"


@pytest.mark.parametrize("name", CASES)
def test_wrong_column_count_reports_the_line(tmp_path, name):
    _, write, ratings_file, sep, _, _ = CASES[name]
    write(tmp_path)
    path = tmp_path / ratings_file
    _set_line(path, 7, sep.join(["1", "2", "3"]))
    label = "tab" if sep == "\t" else "'::'"
    assert _error(name, tmp_path) == f"{path}:7: expected 4 {label}-separated columns, got 3"
    _set_line(path, 7, sep.join(["1", "2", "3", "4", "5"]))
    assert _error(name, tmp_path) == f"{path}:7: expected 4 {label}-separated columns, got 5"
    _set_line(path, 7, "")
    assert _error(name, tmp_path) == f"{path}:7: expected 4 {label}-separated columns, got an empty line"


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize(
    "fields, problem",
    [
        (["1", "2", "5", "yesterday"], "expected an integer in column 'timestamp', got 'yesterday'"),
        (["1", "2", "5", "8812509.5"], "expected an integer in column 'timestamp', got '8812509.5'"),
        (["u1", "2", "5", "881250949"], "expected an integer in column 'user', got 'u1'"),
        (["1", "", "5", "881250949"], "expected an integer in column 'item', got ''"),
        (["1", "2", "five", "881250949"], "expected a number in column 'rating', got 'five'"),
        (["1", "2", "nan", "881250949"], "expected a number in column 'rating', got 'nan'"),
    ],
)
def test_non_numeric_fields_report_the_first_bad_line(tmp_path, name, fields, problem):
    _, write, ratings_file, sep, _, _ = CASES[name]
    write(tmp_path)
    path = tmp_path / ratings_file
    _set_line(path, N_RATINGS, "1::2::x::y".replace("::", sep))  # a later bad line is not the one reported
    _set_line(path, 42, sep.join(fields))
    message = _error(name, tmp_path)
    assert message == f"{path}:42: {problem}"


@pytest.mark.parametrize("name", CASES)
def test_duplicate_feature_ids(tmp_path, name):
    _, write, _, sep, users_file, _ = CASES[name]
    write(tmp_path)
    path = tmp_path / users_file
    line = path.read_text(encoding="latin-1").splitlines()[2]  # user 3
    _set_line(path, 10, line)
    assert _error(name, tmp_path) == f"{path}:10: duplicate user id 3 (first on line 3)"


def test_ml100k_bad_user_age_and_genre_flags_and_dates(tmp_path):
    write_ml100k(tmp_path)
    users, items = tmp_path / "u.user", tmp_path / "u.item"
    _set_line(users, 5, "5|old|M|writer|12345")
    assert _error("ml-100k", tmp_path) == f"{users}:5: expected an integer in column 'age', got 'old'"
    write_ml100k(tmp_path)
    line = items.read_text(encoding="latin-1").splitlines()[5]
    _set_line(items, 6, line[:-1] + "2")
    assert _error("ml-100k", tmp_path) == f"{items}:6: expected genre flags 0 or 1 in columns 6-24"
    write_ml100k(tmp_path)
    fields = line.split("|")
    _set_line(items, 6, "|".join(fields[:2] + ["1995"] + fields[2:]))  # a stray field before the date
    assert _error("ml-100k", tmp_path) == f"{items}:6: expected 24 '|'-separated columns, got 25"
    write_ml100k(tmp_path)
    fields[2] = "1995-01-01"
    _set_line(items, 6, "|".join(fields))
    assert _error("ml-100k", tmp_path) == (
        f"{items}:6: expected a release date like 01-Jan-1995 or nothing, got '1995-01-01'"
    )


def test_ml1m_tab_and_empty_file(tmp_path):
    write_ml1m(tmp_path)
    movies = tmp_path / "movies.dat"
    _set_line(movies, 4, "4::Tab\tTitle (1990)::Drama")
    assert _error("ml-1m", tmp_path) == f"{movies}:4: unexpected tab in a '::'-separated file"
    movies.write_bytes(b"")
    assert _error("ml-1m", tmp_path) == f"{movies}: file is empty; expected lines of 3 '::'-separated columns"


def test_windows_line_endings_are_accepted(tmp_path):
    write_ml100k(tmp_path)
    expected = _read("ml-100k", tmp_path)
    for file in FILES_100K:
        path = tmp_path / file
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    raw = _read("ml-100k", tmp_path)
    assert raw.interactions.equals(expected.interactions)
    assert raw.user_features.equals(expected.user_features)
    assert np.array_equal(raw.item_features["year"].to_numpy(), expected.item_features["year"].to_numpy())
