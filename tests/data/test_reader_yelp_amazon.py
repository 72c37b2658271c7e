"""Amazon (ratings CSV + gz metadata) and Yelp (three JSON-lines files) readers."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.fakes.amazon import write_amazon_csv, write_amazon_meta
from tests.fakes.yelp import write_yelp
from towernas.data.errors import DataError
from towernas.data.readers import _arrow
from towernas.data.readers import amazon as amazon_module
from towernas.data.readers.amazon import AMAZON, AmazonOptions
from towernas.data.readers.yelp import BUSINESSES, REVIEWS, USERS, YELP

NO_META = AmazonOptions(meta_file=None)


def _error(read, *args) -> str:
    with pytest.raises(DataError) as info:
        read(*args)
    message = str(info.value)
    assert "\n" not in message
    return message


def _lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


# ----------------------------------------------------------------------------------------- Amazon
def test_amazon_matches_an_independent_parse(tmp_path):
    write_amazon_csv(tmp_path / "Books.csv", 3000, 200, 80, seed=3)
    got = AMAZON.read(tmp_path, NO_META).interactions
    want = pd.read_csv(tmp_path / "Books.csv", header=None, names=["item", "user", "rating", "timestamp"],
                       dtype={"item": str, "user": str})
    assert list(got.columns) == ["user", "item", "timestamp", "rating"]
    assert isinstance(got["user"].dtype, pd.CategoricalDtype) and isinstance(got["item"].dtype, pd.CategoricalDtype)
    assert got["timestamp"].dtype == np.int64
    assert len(got) == 3000
    assert got["user"].nunique() == want["user"].nunique() and got["item"].nunique() == want["item"].nunique()
    for column in ["user", "item", "timestamp", "rating"]:  # same rows in file order
        assert (got[column].astype(want[column].dtype).to_numpy() == want[column].to_numpy()).all(), column
    assert want["item"].str.fullmatch(r"B00[A-Z0-9]{7}|0\d{9}").all()
    assert want["user"].str.fullmatch(r"A[A-Z0-9]{13}").all()


def test_amazon_hand_checked_rows_and_small_blocks(tmp_path, monkeypatch):
    _lines(tmp_path / "Books.csv", ["0001713353,A1C6M8LCIX4M6M,5.0,1123804800",
                                    "B00ABCDEFG,A2XYZ,3.5,1400000000", "", "0001713353,A2XYZ,1,1500000000"])
    raw = AMAZON.read(tmp_path, AmazonOptions())  # meta file absent -> no item features
    rows = raw.interactions.astype({"user": str, "item": str}).to_dict("records")
    assert rows == [
        {"user": "A1C6M8LCIX4M6M", "item": "0001713353", "timestamp": 1123804800, "rating": 5.0},
        {"user": "A2XYZ", "item": "B00ABCDEFG", "timestamp": 1400000000, "rating": 3.5},
        {"user": "A2XYZ", "item": "0001713353", "timestamp": 1500000000, "rating": 1.0},
    ]
    assert raw.item_features.empty and raw.multi_valued == frozenset()
    assert AMAZON.files(AmazonOptions()) == ["Books.csv"]
    # many tiny blocks: per-block dictionaries are merged into the same ids
    write_amazon_csv(tmp_path / "big.csv", 4000, 300, 100)
    whole = AMAZON.read(tmp_path, AmazonOptions(ratings_file="big.csv", meta_file=None)).interactions
    monkeypatch.setattr(amazon_module, "BLOCK_SIZE", 2048)
    blocks = AMAZON.read(tmp_path, AmazonOptions(ratings_file="big.csv", meta_file=None)).interactions
    pd.testing.assert_frame_equal(whole.astype({"user": str, "item": str}), blocks.astype({"user": str, "item": str}))


def test_amazon_metadata_features(tmp_path):
    _lines(tmp_path / "Books.csv", [f"{asin},A1,4.0,{k}" for k, asin in enumerate("abcdef")])
    records = write_amazon_meta(tmp_path / "meta_Books.json.gz", list("abcdefg"))
    records[0]["price"], records[1]["price"] = "$99.00", "junk"  # rewrite a few fields by hand
    records[2]["price"], records[3]["price"] = "$1.00 - $5.00", "$1,500.00"
    records[0]["category"] = ["Books", "History", " Cookbooks ", ""]
    records[1]["brand"], records[2]["brand"] = "  ", "J. Author"
    with gzip.open(tmp_path / "meta_Books.json.gz", "wt") as out:
        for record in records + [{**records[0], "price": "$0.01", "category": ["Books", "Dup"]}]:
            out.write(json.dumps(record) + "\n")
    raw = AMAZON.read(tmp_path, AmazonOptions(price_buckets=2))
    items = raw.item_features
    assert raw.multi_valued == frozenset({"category"})
    assert sorted(items.index) == list("abcdef")  # g has no ratings; duplicate a: first record wins
    assert items.loc["a", "category"] == ["History", "Cookbooks"]
    assert all("Books" not in cats for cats in items["category"])
    assert pd.isna(items.loc["b", "price"]) and pd.isna(items.loc["b", "brand"])
    assert items.loc["c", "brand"] == "J. Author"
    # parsable prices a=99, c=1 (range: first amount), d=1500, f=24.95 (e is empty): median split
    assert items.loc[["a", "c", "d", "f"], "price"].tolist() == ["1", "0", "1", "0"]
    assert pd.isna(items.loc["e", "price"])


def test_amazon_bad_rows_name_file_and_line(tmp_path, monkeypatch):
    good = [f"000000000{k},A{k},5.0,{1000 + k}" for k in range(9)]
    path = _lines(tmp_path / "Books.csv", good[:4] + ["0000000009,A9,5.0"] + good[4:])
    assert _error(AMAZON.read, tmp_path, NO_META) == (
        f"{path}:5: expected 4 comma-separated columns (item,user,rating,timestamp), got 3")
    _lines(path, good[:2] + ["0000000009,A9,5.0,yesterday"])
    assert _error(AMAZON.read, tmp_path, NO_META).startswith(f"{path}:3: timestamp 'yesterday' is not an integer")
    _lines(path, ["0000000009,A9,five,12"] + good)
    assert _error(AMAZON.read, tmp_path, NO_META) == f"{path}:1: rating 'five' is not a number"
    # a bad line in a later block is still located
    monkeypatch.setattr(amazon_module, "BLOCK_SIZE", 1024)
    _lines(path, good * 30 + ["x,y,1.0,2,extra"])
    assert _error(AMAZON.read, tmp_path, NO_META).startswith(f"{path}:271: expected 4 comma-separated")
    path.write_text("")
    assert _error(AMAZON.read, tmp_path, NO_META).startswith(f"{path}: ")
    path.unlink()
    assert _error(AMAZON.read, tmp_path, NO_META) == f"{path}: file not found"
    assert "price_buckets" in _error(AMAZON.read, tmp_path, AmazonOptions(price_buckets=0))


def test_amazon_malformed_meta_line(tmp_path):
    _lines(tmp_path / "Books.csv", ["a,A1,4.0,1"])
    meta = tmp_path / "meta_Books.json.gz"
    with gzip.open(meta, "wt") as out:
        out.write('{"asin": "a", "category": ["Books"], "price": "$1.00"}\n')
        out.write('{"asin": "b", "category": ["Books"], "price": "$1.00"\n')
    message = _error(AMAZON.read, tmp_path, AmazonOptions())
    assert message.startswith(f"{meta}:2: malformed JSON")
    with gzip.open(meta, "wt") as out:
        out.write('{"asin": "a", "category": "Books", "price": "$1.00"}\n')
    assert _error(AMAZON.read, tmp_path, AmazonOptions()) == (
        f"{meta}:1: field 'category' should be a list of strings, got \"Books\"")


def test_amazon_sources_and_manual():
    assert [s.filename for s in AMAZON.sources] == ["Books.csv", "meta_Books.json.gz"]
    assert all(s.url.startswith("https://mcauleylab.ucsd.edu/") and s.sha256 is None for s in AMAZON.sources)
    assert "Books.csv" in AMAZON.manual and "meta_Books.json.gz" in AMAZON.manual


# ------------------------------------------------------------------------------------------- Yelp
def test_yelp_matches_an_independent_parse(tmp_path, monkeypatch):
    write_yelp(tmp_path, n_users=40, n_items=15, n_reviews=400, seed=1)
    monkeypatch.setattr(_arrow, "BLOCK_SIZE", 4096)  # several blocks per file
    raw = YELP.read(tmp_path, YELP.options())
    want = pd.read_json(tmp_path / REVIEWS, lines=True, dtype={"date": str})
    got = raw.interactions
    assert len(got) == 400 and list(got.columns) == ["user", "item", "timestamp", "rating"]
    assert (got["user"].astype(str).to_numpy() == want["user_id"].to_numpy()).all()
    assert (got["item"].astype(str).to_numpy() == want["business_id"].to_numpy()).all()
    assert (got["rating"].to_numpy() == want["stars"].to_numpy()).all()
    seconds = pd.to_datetime(want["date"]).to_numpy().astype("datetime64[s]").astype(np.int64)
    assert got["timestamp"].dtype == np.int64 and (got["timestamp"].to_numpy() == seconds).all()
    assert set(raw.user_features.index) == set(want["user_id"])  # only users with reviews
    assert set(raw.item_features.index) == set(want["business_id"])
    assert raw.multi_valued == frozenset({"categories"})
    businesses = pd.read_json(tmp_path / BUSINESSES, lines=True).set_index("business_id")
    for business, categories in raw.item_features["categories"].items():
        text = businesses.loc[business, "categories"]
        assert categories == ([] if pd.isna(text) else text.split(", "))


def test_yelp_hand_checked_features(tmp_path):
    _lines(tmp_path / REVIEWS, [
        json.dumps({"review_id": "r1", "user_id": "u1", "business_id": "b1", "stars": 4.0, "useful": 0,
                    "funny": 0, "cool": 0, "text": "Good.\nVery", "date": "2018-07-07 22:09:11"}),
        json.dumps({"review_id": "r2", "user_id": "u2", "business_id": "b1", "stars": 2,
                    "text": "Meh", "date": "2012-01-03 15:28:18"}),
    ])
    _lines(tmp_path / USERS, [
        json.dumps({"user_id": "u1", "name": "A", "review_count": 5, "yelping_since": "2007-01-25 16:47:26",
                    "fans": 0, "average_stars": 3.76, "elite": "2009,2010", "friends": "u2, u3"}),
        json.dumps({"user_id": "u2", "review_count": 1, "yelping_since": "2015-02-01 00:00:00",
                    "fans": 8, "average_stars": 1.2, "elite": ""}),
        json.dumps({"user_id": "u9", "review_count": 1, "yelping_since": "2015-02-01 00:00:00"}),
    ])
    _lines(tmp_path / BUSINESSES, [json.dumps({
        "business_id": "b1", "name": "Taco", "city": "Tucson", "state": "AZ", "stars": 4.5, "review_count": 7,
        "attributes": {"WiFi": "u'free'"}, "categories": "Mexican, Restaurants,Bars", "hours": None})])
    raw = YELP.read(tmp_path, YELP.options())
    assert raw.interactions.astype({"user": str, "item": str}).to_dict("records") == [
        {"user": "u1", "item": "b1", "timestamp": 1531001351, "rating": 4.0},
        {"user": "u2", "item": "b1", "timestamp": 1325604498, "rating": 2.0},
    ]
    assert raw.user_features.to_dict("index") == {
        "u1": {"yelping_since": "2007", "review_count": "3", "fans": "0", "average_stars": "4.0", "elite": "yes"},
        "u2": {"yelping_since": "2015", "review_count": "1", "fans": "4", "average_stars": "1.0", "elite": "no"},
    }
    assert raw.item_features.to_dict("index") == {
        "b1": {"categories": ["Mexican", "Restaurants", "Bars"], "city": "Tucson", "stars": "4.5",
               "review_count": "3"}}


def test_yelp_bad_input(tmp_path):
    write_yelp(tmp_path, n_users=5, n_items=3, n_reviews=6)
    reviews = tmp_path / REVIEWS
    lines = reviews.read_text().splitlines()
    _lines(reviews, lines[:3] + ['{"user_id": "u", "business_id": "b", "stars": 4.0, "date": '] + lines[3:])
    assert _error(YELP.read, tmp_path, YELP.options()).startswith(f"{reviews}:4: malformed JSON")
    bad_date = json.loads(lines[0]) | {"date": "07/07/2018"}
    _lines(reviews, lines[:5] + [json.dumps(bad_date)])
    assert _error(YELP.read, tmp_path, YELP.options()) == (
        f"{reviews}:6: field 'date' should be a date like 2018-07-07 22:09:11, got '07/07/2018'")
    no_user = {k: v for k, v in json.loads(lines[0]).items() if k != "user_id"}
    _lines(reviews, lines[:1] + [json.dumps(no_user)])
    assert _error(YELP.read, tmp_path, YELP.options()) == f"{reviews}:2: missing field 'user_id'"
    _lines(reviews, lines)
    (tmp_path / USERS).unlink()
    assert _error(YELP.read, tmp_path, YELP.options()) == f"{tmp_path / USERS}: file not found"


def test_yelp_reader_contract():
    assert YELP.name == "yelp" and AMAZON.name == "amazon"
    assert YELP.files(YELP.options()) == [REVIEWS, USERS, BUSINESSES]
    assert YELP.sources == () and "https://www.yelp.com/dataset" in YELP.manual and REVIEWS in YELP.manual


def test_log2_bucket():
    assert _arrow.log2_bucket(np.array([0, 1, 2, 3, 4, 7, 8, 1000])).tolist() == [0, 1, 2, 2, 3, 3, 4, 10]

