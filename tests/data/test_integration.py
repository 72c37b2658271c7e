"""Every reader through ``load_dataset``: download from a local HTTP server (127.0.0.1 only),
checksum, extraction, parsing, preprocessing, the processed cache, and the manual-download message."""

import dataclasses
import functools
import hashlib
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from tests.fakes.amazon import amazon_ids, write_amazon_csv, write_amazon_meta
from tests.fakes.movielens import write_ml1m, write_ml100k, zip_ml1m, zip_ml100k
from tests.fakes.yelp import write_yelp
from towernas.config import DatasetConfig
from towernas.data import DataError, load_dataset
from towernas.data.readers import READERS


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def http_dir(tmp_path, monkeypatch):
    """A directory served over HTTP on 127.0.0.1; yields (directory, base_url)."""
    monkeypatch.delenv("TOWERNAS_OFFLINE", raising=False)
    served = tmp_path / "www"
    served.mkdir()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(served)))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _serve_zip(served, base, name, payload, reader_name, monkeypatch):
    (served / f"{name}.zip").write_bytes(payload)
    md5 = hashlib.md5(payload).hexdigest()
    (served / f"{name}.zip.md5").write_text(f"MD5 ({name}.zip) = {md5}\n")
    reader = READERS[reader_name]
    local = tuple(dataclasses.replace(s, url=f"{base}/{name}.zip", checksum_url=f"{base}/{name}.zip.md5")
                  for s in reader.sources)
    monkeypatch.setitem(READERS, reader_name, dataclasses.replace(reader, sources=local))


@pytest.mark.parametrize("name, write, make_zip", [("ml-100k", write_ml100k, zip_ml100k), ("ml-1m", write_ml1m, zip_ml1m)])
def test_movielens_downloads_parses_and_caches(tmp_path, http_dir, monkeypatch, name, write, make_zip):
    served, base = http_dir
    payload = make_zip(write(tmp_path / "src", n_users=60, n_items=90, n_ratings=1500))
    _serve_zip(served, base, name, payload, name, monkeypatch)
    cfg = DatasetConfig(name=name, reader=name, root=str(tmp_path / "cache"), k_core_user=5)
    data = load_dataset(cfg, progress=False)
    assert data.n_users > 0 and np.bincount(data.users).min() >= 5
    assert {f.name for f in data.user_features.fields} == {"gender", "age", "occupation", "zip"}
    genres = next(f for f in data.item_features.fields if f.name == "genres")
    assert genres.multi and genres.width >= 2
    assert (tmp_path / "cache" / "raw" / name / f"{name}.zip.sha256.json").exists()
    (served / f"{name}.zip").unlink()  # a second load needs neither the network nor the raw parse
    again = load_dataset(cfg, progress=False)
    assert np.array_equal(again.items, data.items) and again.item_features.fields == data.item_features.fields


def test_checksum_mismatch_leaves_no_raw_or_processed_files(tmp_path, http_dir, monkeypatch):
    served, base = http_dir
    payload = zip_ml100k(write_ml100k(tmp_path / "src"))
    _serve_zip(served, base, "ml-100k", payload, "ml-100k", monkeypatch)
    (served / "ml-100k.zip.md5").write_text("MD5 (ml-100k.zip) = " + "0" * 32 + "\n")
    cfg = DatasetConfig(name="ml-100k", reader="ml-100k", root=str(tmp_path / "cache"))
    with pytest.raises(DataError, match="mismatch") as err:
        load_dataset(cfg, progress=False)
    assert "\n" not in str(err.value)
    raw = tmp_path / "cache" / "raw" / "ml-100k"
    assert not raw.exists() or not any(p.name.startswith(("u.", "ml-100k.zip")) for p in raw.iterdir())
    assert not (tmp_path / "cache" / "processed").exists()


def test_amazon_with_meta_and_20_core(tmp_path):
    raw = tmp_path / "raw" / "amazon"
    raw.mkdir(parents=True)
    write_amazon_csv(raw / "Books.csv", n_rows=60_000, n_users=1_500, n_items=800, seed=0)
    write_amazon_meta(raw / "meta_Books.json.gz", amazon_ids(1_500, 800, 0)[1], seed=0)
    cfg = DatasetConfig(name="amazon", reader="amazon", root=str(tmp_path), download=False,
                        k_core_user=20, k_core_item=20, max_len=50)
    data = load_dataset(cfg, progress=False)
    assert np.bincount(data.users).min() >= 20 and np.bincount(data.items).min() >= 20
    assert {"category", "price"} <= {f.name for f in data.item_features.fields}
    assert data.histories(data.queries("test").positions).shape[1] == 50


def test_yelp_reads_placed_files_and_explains_the_manual_download(tmp_path):
    cfg = DatasetConfig(name="yelp", reader="yelp", root=str(tmp_path))
    with pytest.raises(DataError) as err:
        load_dataset(cfg, progress=False)
    message = str(err.value)
    assert "yelp.com/dataset" in message and str(tmp_path / "raw" / "yelp") in message and "\n" not in message
    write_yelp(tmp_path / "raw" / "yelp", n_users=80, n_items=60, n_reviews=2_000, seed=0)
    data = load_dataset(cfg, progress=False)
    assert data.n_interactions > 0 and any(f.name == "categories" and f.multi for f in data.item_features.fields)


def test_missing_movielens_files_offline_say_what_to_put_where(tmp_path, monkeypatch):
    monkeypatch.setenv("TOWERNAS_OFFLINE", "1")
    cfg = DatasetConfig(name="ml-1m", reader="ml-1m", root=str(tmp_path))
    with pytest.raises(DataError) as err:
        load_dataset(cfg, progress=False)
    assert "ratings.dat" in str(err.value) and "ml-1m.zip" in str(err.value)
