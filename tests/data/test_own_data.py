"""Readers of users' own data (``dataset=table``, ``recbole``, ``lightgcn``) on generated files in each format."""

import logging

import numpy as np
import pandas as pd
import pytest

from tests.fakes.own_data import generated, interactions_frame, write_lightgcn, write_recbole, write_table
from towernas.config import DatasetConfig
from towernas.data import load_dataset
from towernas.data.errors import DataError
from towernas.data.interactions import TEST, TRAIN, VALID


@pytest.fixture(scope="module")
def source():
    return generated(n_users=60, n_items=120, mean_length=15)


def _load(root, name, reader, split=None, **options):
    cfg = DatasetConfig(name=name, reader=reader, root=str(root), cache=False, options=options)
    if split:
        cfg.split.method = split
    return load_dataset(cfg, progress=False)


def _pairs(data):
    """(user id, item id, time, rating) rows as original ids, sorted: the data independent of re-indexing."""
    frame = pd.DataFrame({"u": data.user_ids[data.users], "i": data.item_ids[data.items], "t": data.timestamps,
                          "r": data.ratings})
    return frame.sort_values(["u", "t", "i"]).reset_index(drop=True)


def _labels(table, name):
    return np.array([None, *table.vocab[name]], dtype=object)[table.values[name]]


# ------------------------------------------------------------------------------------------------- table
@pytest.mark.parametrize("parquet", [False, True])
def test_a_table_reads_back_the_generators_interactions_by_original_id_with_typed_features(tmp_path, source, parquet,
                                                                                          caplog):
    options = write_table(tmp_path / "raw" / "shop", source, parquet=parquet)
    with caplog.at_level(logging.INFO):
        data = _load(tmp_path, "shop", "table", **options)
    expected = pd.DataFrame({"u": np.char.add("u", source.user_ids[source.users].astype(str)),
                             "i": np.char.add("sku-", source.item_ids[source.items].astype(str)),
                             "t": source.timestamps, "r": source.ratings})
    expected = expected.sort_values(["u", "t", "i"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(_pairs(data), expected, check_dtype=False)
    assert data.summary()["train"] + data.summary()["valid"] + data.summary()["test"] == source.n_interactions
    # features: each user's gender is the generator's; the multi-valued field is split by ";"; numeric -> 4 buckets
    rows = {u: i for i, u in enumerate(data.user_ids)}
    for field in (f.name for f in source.user_features.fields if not f.multi):
        mine = _labels(data.user_features, field)[[rows[f"u{u}"] for u in source.user_ids]]
        assert list(mine) == list(_labels(source.user_features, field)), field
    multi = next(f for f in data.item_features.fields if f.multi)
    assert multi.width > 1 and ";" not in "".join(data.item_features.vocab[multi.name])
    assert data.item_features.vocab["popularity"] == ["0", "1", "2", "3"]
    ignored = [r.message for r in caplog.records if "ignored undeclared columns" in r.message]
    assert len(ignored) == 1 and "session" in ignored[0]


def test_dates_numbers_and_file_order_become_time_and_a_split_column_is_a_given_split(tmp_path, caplog):
    raw = tmp_path / "raw" / "t"
    raw.mkdir(parents=True)
    rows = [("a", "x", "2024-01-02", "train"), ("a", "y", "1704067200", "train"), ("a", "z", "2024-01-03", "test"),
            ("b", "x", "2024-01-01", "train"), ("b", "y", "2024-01-05", "train"), ("b", "z", "2024-01-04", "valid"),
            ("b", "w", "2024-01-09", "test"), ("a", "w", "2024-01-08", "train"), ("c", "z", "2024-01-01", "train")]
    pd.DataFrame(rows, columns=["uid", "sku", "when", "fold"]).to_csv(raw / "log.csv", index=False)
    data = _load(tmp_path, "t", "table", "given", interactions="log.csv",
                 columns={"user": "uid", "item": "sku", "timestamp": "when", "split": "fold"})
    a = data.user_ids.tolist().index("a")
    mine = slice(data.user_indptr[a], data.user_indptr[a + 1])
    # 1704067200 = 2024-01-01: train rows in time order, then test (the file has a validation part: nothing carved)
    assert data.timestamps[mine][0] == 1704067200
    assert data.split[mine].tolist() == [TRAIN, TRAIN, TRAIN, TEST]
    assert data.item_ids[data.items[mine][-1]] == "z"
    b = data.user_ids.tolist().index("b")
    assert data.split[data.user_indptr[b]:data.user_indptr[b + 1]].tolist() == [TRAIN, TRAIN, VALID, TEST]
    # without a timestamp column: file order is the order, and the log says so
    with caplog.at_level(logging.WARNING):
        plain = _load(tmp_path, "t", "table", interactions="log.csv", columns={"user": "uid", "item": "sku"})
    assert "file order is the order" in caplog.text
    b = plain.user_ids.tolist().index("b")
    assert plain.item_ids[plain.items[plain.user_indptr[b]:plain.user_indptr[b + 1]]].tolist() == ["x", "y", "z", "w"]


# ----------------------------------------------------------------------------------------------- recbole
def test_recbole_atomic_files_give_the_generators_data_and_parts_are_the_split(tmp_path, source):
    write_recbole(tmp_path / "raw" / "rb", "rb", source)
    data = _load(tmp_path, "rb", "recbole")
    assert data.n_interactions == source.n_interactions and np.array_equal(data.split, source.split)
    assert np.array_equal(data.timestamps, source.timestamps) and np.allclose(data.ratings, source.ratings)
    assert data.user_ids[0] == f"u{source.user_ids[0]}"
    names = {f.name: f for f in data.item_features.fields}
    assert names[next(f.name for f in source.item_features.fields if f.multi)].multi and "score" in names
    write_recbole(tmp_path / "raw" / "parts", "parts", source, parts=True)
    given = _load(tmp_path, "parts", "recbole", "given", benchmark_filename=["train", "valid", "test"],
                  load_col={"user": [], "item": []}, unseen="drop")
    # the ratio split's validation / test rows of items no train row holds are dropped (unseen=drop), the rest kept
    seen = np.isin(source.items, source.items[source.split == TRAIN])
    assert np.array_equal(given.split, source.split[seen]) and not given.user_features.fields
    with pytest.raises(DataError, match="parts.valid.inter:[0-9]+: item 'i[0-9]+' never appears in the train part"):
        _load(tmp_path, "parts", "recbole", "given", benchmark_filename=["train", "valid", "test"])
    with pytest.raises(DataError, match="would replace it; set dataset.split.method=given"):
        _load(tmp_path, "parts", "recbole", benchmark_filename=["train", "valid", "test"], unseen="drop")


# ---------------------------------------------------------------------------------------------- lightgcn
def test_lightgcn_files_give_test_txt_as_test_and_a_seeded_random_validation_share(tmp_path, source):
    write_lightgcn(tmp_path / "raw" / "lg", source)
    cfg = DatasetConfig(name="lg", reader="lightgcn", root=str(tmp_path), cache=False)
    cfg.split.method, cfg.split.valid = "given", 0.1
    data = load_dataset(cfg, progress=False)
    lines = [line.split() for line in (tmp_path / "raw" / "lg" / "test.txt").read_text().splitlines()]
    expected_test = sorted((u, i) for u, *items in lines for i in items)
    test = np.flatnonzero(data.split == TEST)
    assert sorted(zip(data.user_ids[data.users[test]], data.item_ids[data.items[test]])) == expected_test
    n_train = np.bincount(data.users[data.split != TEST], minlength=data.n_users)
    n_valid = np.bincount(data.users[data.split == VALID], minlength=data.n_users)
    assert np.array_equal(n_valid, np.where(n_train >= 2, np.minimum(np.maximum(1, n_train // 10), n_train - 1), 0))
    again = load_dataset(cfg, progress=False)
    assert np.array_equal(again.items[again.split == VALID], data.items[data.split == VALID])  # the carving is seeded
    cfg.split.seed = 1
    other = load_dataset(cfg, progress=False)
    assert not np.array_equal(other.items[other.split == VALID], data.items[data.split == VALID])
    # the test queries mask every train.txt item (train + carved validation), as the BARS protocol does
    queries = data.queries("test")
    u = 0
    assert sorted(queries.exclude[u].tolist()) == sorted(data.items[(data.users == queries.users[u])
                                                                    & (data.split != TEST)].tolist())


# --------------------------------------------------------------------------------------------- bad input
def _write(tmp_path, name, text):
    path = tmp_path / "raw" / "bad" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


CSV = "uid,sku,ts\nu1,a,1\nu1,b,2\nu2,a,3\n"


@pytest.mark.parametrize("files, reader, split, options, message", [
    ({"i.csv": CSV, "items.csv": "sku,brand\na,x\n"}, "table", None,
     {"interactions": "i.csv", "columns": {"user": "uid", "item": "sku"}, "items": "items.csv",
      "features": {"brand": "colour"}}, "dataset.options.features.brand: unknown feature type 'colour'"),
    ({"i.csv": CSV}, "table", None, {"interactions": "i.csv", "columns": {"user": "uid", "item": "item_id"}},
     "i.csv:1: no column 'item_id' (dataset.options.columns.item: the item id); the file has 'uid', 'sku', 'ts'"),
    ({"i.csv": CSV.replace(",", "\t")}, "table", None, {"interactions": "i.csv", "columns": {"user": "uid", "item": "sku"}},
     "i.csv:1: the separator ',' does not split the header 'uid\\tsku\\tts'; tab would"),
    ({"i.csv": ""}, "table", None, {"interactions": "i.csv", "columns": {"user": "uid", "item": "sku"}},
     "i.csv: file is empty; expected a header line"),
    ({"i.csv": "uid,sku\n"}, "table", None, {"interactions": "i.csv", "columns": {"user": "uid", "item": "sku"}},
     "i.csv: no data rows (empty file)"),
    ({"i.csv": CSV + "u2,a,3\n"}, "table", None,
     {"interactions": "i.csv", "columns": {"user": "uid", "item": "sku", "timestamp": "ts"}, "duplicates": "refuse"},
     "i.csv:5: duplicate row (the same as line 4); 1 duplicate row(s) in all; dataset.options.duplicates=drop"),
    ({"i.csv": "uid,sku,ts\nu1,a,1\nu1,b,x\n"}, "table", None,
     {"interactions": "i.csv", "columns": {"user": "uid", "item": "sku", "timestamp": "ts"}},
     "i.csv:3: column 'ts': expected unix seconds or a date/time, got 'x'"),
    ({"i.csv": "uid,sku\nu1,a\n,b\n"}, "table", None, {"interactions": "i.csv", "columns": {"user": "uid", "item": "sku"}},
     "i.csv:3: empty user id in column 'uid'"),
    ({"bad.inter": "user_id\titem_id:token\n1\t2\n"}, "recbole", None, {},
     "bad.inter:1: header column 'user_id' has no ':type'; expected name:type with type one of token, token_seq"),
    ({"bad.inter": "user_id:token\titem_id:id\n1\t2\n"}, "recbole", None, {},
     "bad.inter:1: header column 'item_id:id': unknown feature type 'id'"),
    ({"bad.inter": "user_id:token,item_id:token\n1,2\n"}, "recbole", None, {},
     "bad.inter:1: the separator tab does not split the header 'user_id:token,item_id:token'; ',' would"),
    ({"bad.inter": "uid:token\titem_id:token\n1\t2\n"}, "recbole", None, {},
     "bad.inter:1: no field 'user_id' (dataset.options.user_id_field); the header has uid, item_id"),
    ({"bad.train.inter": "user_id:token\titem_id:token\n1\t2\n1\t3\n",
      "bad.test.inter": "user_id:token\titem_id:token\n1\t3\n9\t2\n"}, "recbole", "given",
     {"benchmark_filename": ["train", "test"]},
     "bad.test.inter:3: user '9' never appears in the train part (bad.train.inter); 1 such row(s); "
     "dataset.options.unseen=drop drops them"),
    ({"train.txt": "0 1 2\n1 2 3\n", "test.txt": "0 3\n1 7\n"}, "lightgcn", "given", {},
     "test.txt:2: item '7' never appears in the train part (train.txt)"),
    ({"train.txt": "0 1 2\n1 2 x\n", "test.txt": "0 3\n"}, "lightgcn", "given", {},
     "train.txt:2: expected whitespace-separated integer ids (user item item ...), got 'x'"),
    ({"train.txt": "", "test.txt": "0 3\n"}, "lightgcn", "given", {}, "train.txt: file is empty"),
    ({"train.txt": "0 1 2\n1 2 3\n", "test.txt": "0 3\n"}, "lightgcn", None, {},
     "the files fix the split (train/valid/test parts), but dataset.split.method='ratio' would replace it"),
])
def test_bad_input_is_one_line_naming_file_line_or_column(tmp_path, files, reader, split, options, message):
    for name, text in files.items():
        _write(tmp_path, name, text)
    with pytest.raises(DataError) as err:
        _load(tmp_path, "bad", reader, split, **options)
    assert message in str(err.value) and "\n" not in str(err.value), str(err.value)
    assert not (tmp_path / "processed").exists()


def test_duplicate_rows_are_counted_and_dropped_by_default_and_unseen_rows_dropped_on_request(tmp_path, caplog):
    _write(tmp_path, "i.csv", CSV + "u2,a,3\nu2,a,3\n")
    with caplog.at_level(logging.WARNING):
        data = _load(tmp_path, "bad", "table", interactions="i.csv",
                     columns={"user": "uid", "item": "sku", "timestamp": "ts"})
    assert data.n_interactions == 3 and "dropped 2 duplicate row(s)" in caplog.text
    _write(tmp_path, "train.txt", "0 1 2\n1 2 3\n")
    _write(tmp_path, "test.txt", "0 3\n1 7\n")
    data = _load(tmp_path, "bad", "lightgcn", "given", unseen="drop")
    assert data.n_interactions == 5 and "7" not in data.item_ids.tolist()


def test_readers_for_users_files_are_registered_with_their_configs():
    from tests.conftest import compose_config

    for name, reader in (("table", "table"), ("recbole", "recbole"), ("lightgcn", "lightgcn")):
        cfg = compose_config(f"dataset={name}", "dataset.name=x", tiny=False)
        assert cfg.dataset.reader == reader
    assert compose_config("dataset=lightgcn", "dataset.name=x", tiny=False).dataset.split.method == "given"


def test_the_interactions_frame_of_the_fake_is_shuffled(source):
    frame = interactions_frame(source)
    assert not frame["ts"].is_monotonic_increasing


# ------------------------------------------------------------------------------- RecBole ml-100k == ml-100k
def _as_recbole(grouplens, out, name):
    """GroupLens ml-100k files rewritten as RecBole writes its ml-100k atomic files (its conversion script's
    fields: ``class`` the genre names, ``release_year`` the date's year, ``zip_code`` the whole code)."""
    from tests.fakes.movielens import GENRES

    out.mkdir(parents=True)
    rows = [line.split("\t") for line in (grouplens / "u.data").read_text().splitlines()]
    (out / f"{name}.inter").write_text("user_id:token\titem_id:token\trating:float\ttimestamp:float\n" +
                                       "".join(f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in rows))
    users = [line.split("|") for line in (grouplens / "u.user").read_text().splitlines()]
    (out / f"{name}.user").write_text("user_id:token\tage:token\tgender:token\toccupation:token\tzip_code:token\n" +
                                      "".join("\t".join(u) + "\n" for u in users))
    items = [line.split("|") for line in (grouplens / "u.item").read_text(encoding="latin-1").splitlines()]
    lines = []
    for item in items:
        genres = " ".join(g for g, flag in zip(GENRES, item[5:]) if flag == "1")
        lines.append(f"{item[0]}\t{item[1]}\t{item[2][-4:]}\t{genres}\n")
    (out / f"{name}.item").write_text("item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n" +
                                      "".join(lines), encoding="utf-8")


def test_recboles_ml100k_atomic_files_give_the_processed_data_of_the_ml100k_reader(tmp_path):
    from tests.fakes.movielens import write_ml100k

    write_ml100k(tmp_path / "raw" / "ml-100k", n_users=40, n_items=60, n_ratings=800)
    _as_recbole(tmp_path / "raw" / "ml-100k", tmp_path / "raw" / "rb", "rb")
    ml = _load(tmp_path, "ml-100k", "ml-100k")
    rb = _load(tmp_path, "rb", "recbole")
    for name in ("users", "items", "timestamps", "user_indptr", "split", "ratings", "user_ids", "item_ids"):
        assert np.array_equal(getattr(ml, name), getattr(rb, name)), name
    for name in ("gender", "occupation"):  # the user columns both carry in the same form
        assert list(_labels(ml.user_features, name)) == list(_labels(rb.user_features, name)), name
    genres = [sorted(set(v) - {None}) for v in np.array([None, *ml.item_features.vocab["genres"]], dtype=object)[
        ml.item_features.values["genres"]]]
    classes = [sorted(set(v) - {None}) for v in np.array([None, *rb.item_features.vocab["class"]], dtype=object)[
        rb.item_features.values["class"]]]
    assert genres == classes


def test_ml100k_fixed_split_files_are_a_given_split(tmp_path):
    from tests.fakes.movielens import write_ml100k

    raw = write_ml100k(tmp_path / "raw" / "ml-100k", n_users=40, n_items=60, n_ratings=800)
    data = _load(tmp_path, "ml-100k", "ml-100k", "given", split_files="u2")
    test = {tuple(line.split("\t")[:2]) for line in (raw / "u2.test").read_text().splitlines()}
    rows = np.flatnonzero(data.split == TEST)
    assert set(zip(data.user_ids[data.users[rows]], data.item_ids[data.items[rows]])) == test
    assert (data.split == VALID).any() and data.n_interactions == 800  # validation carved from u2.base
    with pytest.raises(DataError, match="would replace it"):
        _load(tmp_path, "ml-100k", "ml-100k", split_files="u2")
    with pytest.raises(DataError, match="dataset.options.split_files='u9': expected one of u1, u2"):
        _load(tmp_path, "ml-100k", "ml-100k", "given", split_files="u9")


def test_multi_character_separators_gzip_and_bad_lines_found_behind_arrow(tmp_path):
    import gzip

    raw = tmp_path / "raw" / "t"
    raw.mkdir(parents=True)
    (raw / "log.dat").write_text("uid::sku::ts::stars\nu1::a::1::5\nu1::b::2::4\nu2::a::3::3\n")
    data = _load(tmp_path, "t", "table", interactions="log.dat", sep="::",
                 columns={"user": "uid", "item": "sku", "timestamp": "ts", "rating": "stars"})
    assert data.n_interactions == 3 and sorted(data.ratings.tolist()) == [3.0, 4.0, 5.0]
    with gzip.open(raw / "log.csv.gz", "wt") as f:
        f.write("uid,sku,stars\nu1,a,5\nu2,b,4\n")
    data = _load(tmp_path, "t", "table", interactions="log.csv.gz", columns={"user": "uid", "item": "sku",
                                                                                 "rating": "stars"})
    assert data.n_interactions == 2
    # a bad number deep in a file: Arrow refuses the block, the scan names the line
    lines = "".join(f"u{i % 7},i{i % 11},{i}\n" for i in range(5000))
    (raw / "big.csv").write_text("uid,sku,stars\n" + lines + "u1,i1,five\n")
    with pytest.raises(DataError, match=r"big.csv:5002: column 'stars': expected a number, got 'five'"):
        _load(tmp_path, "t", "table", interactions="big.csv", columns={"user": "uid", "item": "sku", "rating": "stars"})
    (raw / "ragged.csv").write_text("uid,sku\nu1,a\nu2,b,c\n")
    with pytest.raises(DataError, match=r"ragged.csv:3: expected 2 ','-separated columns \(as the header\), got 3"):
        _load(tmp_path, "t", "table", interactions="ragged.csv", columns={"user": "uid", "item": "sku"})


def test_reading_shows_a_progress_bar_when_asked(tmp_path, capsys):
    raw = tmp_path / "raw" / "t"
    raw.mkdir(parents=True)
    (raw / "log.csv").write_text("uid,sku\nu1,a\nu1,b\nu2,a\n")
    cfg = DatasetConfig(name="t", reader="table", root=str(tmp_path), cache=False,
                        options={"interactions": "log.csv", "columns": {"user": "uid", "item": "sku"}})
    load_dataset(cfg, progress=True)
    assert "reading log.csv" in capsys.readouterr().err


# ------------------------------------------------------------------------------- what users' files really hold
def test_lines_bom_spaces_and_subsecond_times_are_read_as_written(tmp_path):
    raw = tmp_path / "raw" / "t"
    raw.mkdir(parents=True)
    # blank lines: Arrow skips them, the error still names the right line
    (raw / "blank.csv").write_text("uid,sku\nu1,a\n\nu1,b\nu2,\n")
    with pytest.raises(DataError, match=r"blank.csv:5: empty item id in column 'sku'"):
        _load(tmp_path, "t", "table", interactions="blank.csv", columns={"user": "uid", "item": "sku"})
    # Excel's "CSV UTF-8" starts with a byte order mark; a header with spaces gets a hint
    (raw / "bom.csv").write_bytes("\ufeffuid,sku\nu1,a\nu1,b\nu2,a\n".encode("utf-8"))
    assert _load(tmp_path, "t", "table", interactions="bom.csv", columns={"user": "uid", "item": "sku"}).n_users == 2
    (raw / "spaced.csv").write_text("uid, sku\nu1,a\n")
    with pytest.raises(DataError, match=r"no column 'sku' .*' sku' has surrounding spaces"):
        _load(tmp_path, "t", "table", interactions="spaced.csv", columns={"user": "uid", "item": "sku"})
    # sub-second times: text with milliseconds and a Parquet timestamp[ms] column are floored to seconds
    (raw / "ms.csv").write_text("uid,sku,ts\nu1,a,2024-01-01T00:00:00.500\nu1,b,2024-01-01T00:00:01.900\n"
                                "u1,c,2024-01-01T00:00:02\n")
    data = _load(tmp_path, "t", "table", interactions="ms.csv", columns={"user": "uid", "item": "sku", "timestamp": "ts"})
    assert data.timestamps.tolist() == [1704067200, 1704067201, 1704067202]
    frame = pd.DataFrame({"uid": ["u1", "u1", "u1"], "sku": ["a", "b", "c"],
                          "ts": pd.to_datetime(["2024-01-01 00:00:00.5", "2024-01-01 00:00:01.9", "2024-01-01 00:00:02.0"])})
    frame["ts"] = frame["ts"].astype("datetime64[ms]")
    frame.to_parquet(raw / "ms.parquet", index=False)
    data = _load(tmp_path, "t", "table", interactions="ms.parquet",
                 columns={"user": "uid", "item": "sku", "timestamp": "ts"})
    assert data.timestamps.tolist() == [1704067200, 1704067201, 1704067202]


def test_side_tables_keep_text_as_written_and_refuse_ids_that_match_nothing(tmp_path):
    raw = tmp_path / "raw" / "t"
    raw.mkdir(parents=True)
    (raw / "log.csv").write_text("uid,sku\nu1,a\nu1,b\nu2,a\nu2,b\n")
    (raw / "users.csv").write_text("uid,zip,income\nu1,02139,nan\nu2,2139,50\n")
    data = _load(tmp_path, "t", "table", interactions="log.csv", users="users.csv",
                 columns={"user": "uid", "item": "sku"}, features={"zip": "categorical", "income": "numeric"})
    assert sorted(data.user_features.vocab["zip"]) == ["02139", "2139"]  # two zip codes, not one number
    assert sorted(data.user_features.values["income"].tolist()) == [0, 1]  # "nan" is missing (code 0)
    (raw / "users.csv").write_text("uid,zip\n1,02139\n2,2139\n")
    with pytest.raises(DataError, match=r"users.csv: none of its 2 user ids is a user id of the interactions"):
        _load(tmp_path, "t", "table", interactions="log.csv", users="users.csv",
              columns={"user": "uid", "item": "sku"}, features={"zip": "categorical"})
    # a Parquet list column declared multi is taken as it is
    pd.DataFrame({"sku": ["a", "b"], "tags": [["x", "y"], ["y"]]}).to_parquet(raw / "items.parquet", index=False)
    data = _load(tmp_path, "t", "table", interactions="log.csv", items="items.parquet",
                 columns={"user": "uid", "item": "sku"}, features={"tags": "multi"})
    assert data.item_features.vocab["tags"] == ["x", "y"] and data.item_features.fields[0].width == 2


def test_recbole_load_col_parts_without_time_and_header_only_side_files(tmp_path):
    raw = tmp_path / "raw" / "rb"
    raw.mkdir(parents=True)
    head = "user_id:token\titem_id:token\n"
    (raw / "rb.train.inter").write_text(head + "1\ta\n1\tb\n1\tc\n2\ta\n2\tb\n2\td\n")
    (raw / "rb.test.inter").write_text(head + "1\td\n2\tc\n")
    (raw / "rb.item").write_text("item_id:token\tgenre:token_seq\tprice:float\n"
                                 "a\tx y\t1.5\nb\ty\t2\nc\tx\t3\nd\tz\t4\n")
    (raw / "rb.user").write_text("user_id:token\tage:token\n")  # header only: RecBole accepts it
    data = _load(tmp_path, "rb", "recbole", "given", benchmark_filename=["train", "test"])
    # without a time field, file order is the order across the parts: train rows, then test rows
    assert data.split[data.user_indptr[0]:data.user_indptr[1]].tolist()[-1] == TEST
    assert {f.name for f in data.item_features.fields} == {"genre", "price"} and not data.user_features.fields
    only = _load(tmp_path, "rb", "recbole", "given", benchmark_filename=["train", "test"], load_col={"inter": "*"})
    assert not only.item_features.fields  # a file type load_col leaves out is not loaded, as in RecBole
    some = _load(tmp_path, "rb", "recbole", "given", benchmark_filename=["train", "test"],
                 load_col={"inter": "*", "item": ["genre"]})
    assert [f.name for f in some.item_features.fields] == ["genre"]
    (raw / "rb.test.inter").write_text("user_id:token\titem_id:token\ttimestamp:float\n1\td\t5\n2\tc\t6\n")
    with pytest.raises(DataError, match=r"rb.train.inter:1: no time field 'timestamp', which the other parts have"):
        _load(tmp_path, "rb", "recbole", "given", benchmark_filename=["train", "test"])


def test_a_pair_in_train_and_test_keeps_its_train_copy_and_huge_ids_are_one_line(tmp_path, caplog):
    _write(tmp_path, "train.txt", "0 1 2 3\n1 1 2\n")
    _write(tmp_path, "test.txt", "0 3 4\n1 2 4\n")
    with caplog.at_level(logging.INFO):
        data = _load(tmp_path, "bad", "lightgcn", "given", unseen="drop")
    test = data.items[data.split == TEST]
    assert data.item_ids[test].tolist() == [] and "2 later row(s) dropped" in caplog.text
    assert (data.split == TRAIN).sum() + (data.split == VALID).sum() == 5
    _write(tmp_path, "train.txt", "0 1 99999999999999999999\n")
    with pytest.raises(DataError, match=r"train.txt:1: an id does not fit in 64 bits"):
        _load(tmp_path, "bad", "lightgcn", "given")
