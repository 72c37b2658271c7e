"""Downloader tests against a real HTTP server on 127.0.0.1 serving a GroupLens-shaped ml-100k.zip."""

from __future__ import annotations

import hashlib
import io
import json
import random
import socket
import threading
import urllib.request
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from towernas.data import download
from towernas.data.download import Source, data_root, ensure_files, fetch, parse_checksum_file
from towernas.data.errors import DataError

MEMBERS = (("ml-100k/u.data", "u.data"), ("ml-100k/u.user", "u.user"), ("ml-100k/u.item", "u.item"))
REQUIRED = [dest for _, dest in MEMBERS]
MANUAL = """Download ml-100k.zip from https://grouplens.org/datasets/movielens/100k/
and unzip u.data, u.user and u.item into the dataset directory."""


def _movielens_files(seed: int = 0) -> dict[str, bytes]:
    """A few lines of each file in the real ml-100k formats (tab-separated ratings, '|' tables)."""
    rng = random.Random(seed)
    occupations = ["technician", "writer", "student", "educator", "engineer"]
    users = [
        f"{u}|{rng.randint(18, 60)}|{rng.choice('MF')}|{rng.choice(occupations)}|{rng.randint(10000, 99999)}"
        for u in range(1, 6)
    ]
    items = []
    for i in range(1, 9):
        title = f"Movie {i} (199{i % 10})"
        genres = "|".join(str(int(rng.random() < 0.2)) for _ in range(19))
        items.append(f"{i}|{title}|01-Jan-199{i % 10}||http://us.imdb.com/M/title-exact?Movie%20{i}|{genres}")
    ratings = [f"{rng.randint(1, 5)}\t{rng.randint(1, 8)}\t{rng.randint(1, 5)}\t{874965758 + 97 * n}"
               for n in range(20)]
    return {name: ("\n".join(lines) + "\n").encode("latin-1")
            for name, lines in {"u.user": users, "u.item": items, "u.data": ratings}.items()}


def _zip_bytes(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("ml-100k/", b"")  # GroupLens archives carry the folder entry too
        for name, content in files.items():
            zf.writestr(f"ml-100k/{name}", content)
    return buffer.getvalue()


FILES = _movielens_files()
ZIP = _zip_bytes(FILES)
ZIP_MD5 = hashlib.md5(ZIP).hexdigest()
ZIP_SHA256 = hashlib.sha256(ZIP).hexdigest()


class _Server:
    """Routes: path -> list of (status, body, content_length or None); served in order, the last repeats."""

    def __init__(self) -> None:
        self.routes: dict[str, list[tuple[int, bytes, int | None]]] = {}
        self.requests: list[str] = []
        self.base = ""

    def url(self, path: str) -> str:
        return self.base + path

    def serve(self, path: str, body: bytes, *, status: int = 200, length: int | None = None) -> None:
        self.routes.setdefault(path, []).append((status, body, length))


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for name in ("TOWERNAS_OFFLINE", "TOWERNAS_DATA", "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server():
    state = _Server()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's naming)
            state.requests.append(self.path)
            responses = state.routes.get(self.path)
            if not responses:
                self.send_error(404, "Not Found")
                return
            status, body, length = responses.pop(0) if len(responses) > 1 else responses[0]
            self.send_response(status)
            self.send_header("Content-Length", str(len(body) if length is None else length))
            self.end_headers()
            self.wfile.write(body)  # HTTP/1.0: the connection closes after this, truncating short bodies

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield state
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def _grouplens(server: _Server, **overrides) -> Source:
    server.serve("/ml-100k.zip", ZIP)
    server.serve("/ml-100k.zip.md5", f"MD5 (ml-100k.zip) = {ZIP_MD5}\n".encode())
    fields = dict(url=server.url("/ml-100k.zip"), filename="ml-100k.zip",
                  checksum_url=server.url("/ml-100k.zip.md5"), members=MEMBERS)
    return Source(**{**fields, **overrides})


def _leftovers(directory: Path) -> list[str]:
    """Temporary or hidden files: none may survive a failed or finished download."""
    if not directory.exists():
        return []
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(".") or p.name.endswith(".part"))


def _check_error(err: pytest.ExceptionInfo, directory: Path, *needles: str) -> str:
    message = str(err.value)
    assert "\n" not in message, message
    for needle in needles:
        assert needle in message, (needle, message)
    assert _leftovers(directory) == []
    return message


def test_download_verifies_md5_extracts_and_caches(server, tmp_path):
    directory = tmp_path / "ml-100k"
    source = _grouplens(server)
    ensure_files(directory, REQUIRED, (source,), MANUAL, progress=False)

    for name in REQUIRED:
        assert (directory / name).read_bytes() == FILES[name]
    assert (directory / "ml-100k.zip").read_bytes() == ZIP
    record = json.loads((directory / "ml-100k.zip.sha256.json").read_text())
    assert record["sha256"] == ZIP_SHA256 and record["size"] == len(ZIP)
    assert server.requests == ["/ml-100k.zip.md5", "/ml-100k.zip"]
    assert _leftovers(directory) == []

    # Cached: neither fetch nor ensure_files goes back to the server, even to re-extract a lost member.
    assert fetch(source, directory, progress=False) == directory / "ml-100k.zip"
    (directory / "u.data").unlink()
    ensure_files(directory, REQUIRED, (source,), MANUAL, progress=False)
    assert (directory / "u.data").read_bytes() == FILES["u.data"]
    assert len(server.requests) == 2


def test_progress_bar_total_from_content_length(server, tmp_path, monkeypatch):
    seen = {}

    class Bar(download.tqdm):
        def __init__(self, *args, **kwargs):
            seen["total"] = kwargs["total"]
            super().__init__(*args, **{**kwargs, "disable": True})

    monkeypatch.setattr(download, "tqdm", Bar)
    fetch(_grouplens(server), tmp_path)
    assert seen["total"] == len(ZIP)


def test_checksum_file_formats():
    md5, sha = "0e33842e24a9c977be4e0107933c0723", "ab" * 32
    assert parse_checksum_file(f"MD5 (ml-100k.zip) = {md5}\n", "ml-100k.zip") == ("md5", md5)
    assert parse_checksum_file(f"{md5.upper()}  ml-100k.zip\n", "ml-100k.zip") == ("md5", md5)
    listing = f"{'cd' * 32}  ml-1m.zip\n{sha} *ml-100k.zip\n"
    assert parse_checksum_file(listing, "ml-100k.zip") == ("sha256", sha)
    assert parse_checksum_file(f"{md5}\n", "ml-100k.zip") == ("md5", md5)
    with pytest.raises(DataError, match="no checksum for ml-100k.zip"):
        parse_checksum_file(f"{md5}  a.zip\n{md5}  b.zip\n", "ml-100k.zip")


def test_sha256_from_checksum_file(server, tmp_path):
    source = _grouplens(server, checksum_url=server.url("/SHA256SUMS"))
    server.serve("/SHA256SUMS", f"{'00' * 32}  ml-1m.zip\n{ZIP_SHA256}  ml-100k.zip\n".encode())
    assert fetch(source, tmp_path, progress=False).read_bytes() == ZIP


def test_md5_mismatch_leaves_nothing(server, tmp_path):
    source = _grouplens(server, checksum_url=server.url("/bad.md5"))
    server.serve("/bad.md5", b"MD5 (ml-100k.zip) = " + b"0" * 32 + b"\n")
    with pytest.raises(DataError) as err:
        fetch(source, tmp_path, progress=False)
    _check_error(err, tmp_path, "md5 mismatch", ZIP_MD5, source.url)
    assert list(tmp_path.iterdir()) == []
    assert server.requests.count("/ml-100k.zip") == 1  # a checksum mismatch is not retried


def test_pinned_sha256_wins_over_checksum_file(server, tmp_path):
    source = _grouplens(server, sha256=ZIP_SHA256.upper(), checksum_url=server.url("/never-fetched.md5"))
    assert fetch(source, tmp_path, progress=False).read_bytes() == ZIP
    assert server.requests == ["/ml-100k.zip"]


def test_pinned_sha256_mismatch(server, tmp_path):
    source = _grouplens(server, sha256="ab12" * 16)
    with pytest.raises(DataError) as err:
        fetch(source, tmp_path, progress=False)
    _check_error(err, tmp_path, "sha256 mismatch", "ab12" * 16, ZIP_SHA256, source.url)
    assert list(tmp_path.iterdir()) == []


def test_truncated_body_is_retried_then_fails(server, tmp_path):
    server.serve("/cut.zip", ZIP[:100], length=len(ZIP))
    source = Source(url=server.url("/cut.zip"), filename="ml-100k.zip")
    with pytest.raises(DataError) as err:
        fetch(source, tmp_path, progress=False, retries=2, backoff=0.001)
    _check_error(err, tmp_path, source.url, f"got 100 of {len(ZIP)} bytes", "after 3 attempts")
    assert list(tmp_path.iterdir()) == []
    assert server.requests == ["/cut.zip"] * 3


def test_truncated_body_then_complete_succeeds(server, tmp_path):
    server.serve("/flaky.zip", ZIP[:100], length=len(ZIP))
    server.serve("/flaky.zip", ZIP)
    source = Source(url=server.url("/flaky.zip"), filename="ml-100k.zip", sha256=ZIP_SHA256)
    assert fetch(source, tmp_path, progress=False, backoff=0.001).read_bytes() == ZIP
    assert server.requests == ["/flaky.zip"] * 2
    assert _leftovers(tmp_path) == []


def test_wrong_expected_size(server, tmp_path):
    source = _grouplens(server, size=len(ZIP) + 1)
    with pytest.raises(DataError) as err:
        fetch(source, tmp_path, progress=False, backoff=0.001)
    _check_error(err, tmp_path, "size mismatch", f"expected {len(ZIP) + 1} bytes, got {len(ZIP)}", source.url)
    assert list(tmp_path.iterdir()) == []
    assert server.requests.count("/ml-100k.zip") == 1


def test_http_404(server, tmp_path):
    source = Source(url=server.url("/missing.zip"), filename="missing.zip")
    with pytest.raises(DataError) as err:
        fetch(source, tmp_path, progress=False, backoff=0.001)
    _check_error(err, tmp_path, "HTTP 404", source.url)
    assert list(tmp_path.iterdir()) == []
    assert server.requests == ["/missing.zip"]  # not retried


def test_connection_refused_is_retried(tmp_path, monkeypatch):
    with socket.socket() as sock:  # a port that nothing listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    calls = []
    real_urlopen = urllib.request.urlopen

    def counting_urlopen(*args, **kwargs):
        calls.append(args[0])
        return real_urlopen(*args, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", counting_urlopen)
    source = Source(url=f"http://127.0.0.1:{port}/ml-100k.zip", filename="ml-100k.zip")
    with pytest.raises(DataError) as err:
        fetch(source, tmp_path, progress=False, timeout=2.0, retries=2, backoff=0.001)
    _check_error(err, tmp_path, source.url, "connection failed", "after 3 attempts",
                 f"by hand into {tmp_path}")
    assert len(calls) == 3
    assert list(tmp_path.iterdir()) == []


def test_keyboard_interrupt_removes_partial_file(server, tmp_path, monkeypatch):
    class InterruptingBar(download.tqdm):
        def update(self, n=1):
            raise KeyboardInterrupt

    monkeypatch.setattr(download, "tqdm", InterruptingBar)
    with pytest.raises(KeyboardInterrupt):
        fetch(_grouplens(server), tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("corrupt", ["flip", "truncate"])
def test_corrupted_cache_detected_by_record(server, tmp_path, corrupt):
    source = _grouplens(server)
    archive = fetch(source, tmp_path, progress=False)
    data = bytearray(archive.read_bytes())
    if corrupt == "flip":
        data[len(data) // 2] ^= 0xFF
    else:
        del data[-10:]
    archive.write_bytes(bytes(data))
    requests_before = len(server.requests)

    with pytest.raises(DataError) as err:
        fetch(source, tmp_path, progress=False)
    expected = ZIP_SHA256 if corrupt == "flip" else f"expected {len(ZIP)} bytes"
    what = "sha256 mismatch" if corrupt == "flip" else "size mismatch"
    _check_error(err, tmp_path, str(archive), what, expected, "ml-100k.zip.sha256.json")
    assert len(server.requests) == requests_before


def test_file_placed_by_hand_is_trusted_then_recorded(tmp_path):
    (tmp_path / "ml-100k.zip").write_bytes(ZIP)
    source = Source(url="http://127.0.0.1:9/never-contacted.zip", filename="ml-100k.zip")
    assert fetch(source, tmp_path, progress=False) == tmp_path / "ml-100k.zip"
    record = json.loads((tmp_path / "ml-100k.zip.sha256.json").read_text())
    assert record["sha256"] == ZIP_SHA256


def test_missing_zip_member(server, tmp_path):
    source = _grouplens(server, members=(("ml-100k/u.genre", "u.genre"),))
    with pytest.raises(DataError) as err:
        ensure_files(tmp_path, ["u.genre"], (source,), MANUAL, progress=False)
    message = _check_error(err, tmp_path, "ml-100k.zip", "'ml-100k/u.genre'", "missing member")
    assert "Download ml-100k.zip from" in message  # the manual instructions are appended
    assert not (tmp_path / "u.genre").exists()


@pytest.mark.parametrize("how", ["download=False", "TOWERNAS_OFFLINE=1"])
def test_no_download_gives_manual_instructions(server, tmp_path, monkeypatch, how):
    source = _grouplens(server)
    (tmp_path / "u.user").write_bytes(FILES["u.user"])
    if how == "TOWERNAS_OFFLINE=1":
        monkeypatch.setenv("TOWERNAS_OFFLINE", "1")
    with pytest.raises(DataError) as err:
        ensure_files(tmp_path, REQUIRED, (source,), MANUAL, download=how != "download=False", progress=False)
    message = _check_error(err, tmp_path, str(tmp_path), "missing u.data, u.item",
                           " ".join(MANUAL.split()), "downloads disabled")
    assert "u.user" not in message.split(";")[0]
    assert server.requests == []


def test_offline_fetch_refuses_network(server, tmp_path, monkeypatch):
    monkeypatch.setenv("TOWERNAS_OFFLINE", "1")
    source = _grouplens(server)
    with pytest.raises(DataError) as err:
        fetch(source, tmp_path, progress=False)
    _check_error(err, tmp_path, "TOWERNAS_OFFLINE", source.url)
    assert server.requests == []


def test_ensure_files_without_sources(tmp_path):
    ensure_files(tmp_path, [], (), MANUAL)  # nothing required: nothing to do
    (tmp_path / "data.csv").write_text("user,item\n")
    ensure_files(tmp_path, ["data.csv"], (), MANUAL)
    with pytest.raises(DataError) as err:
        ensure_files(tmp_path, ["data.csv", "items.csv"], (), "Put items.csv\nhere.")
    assert str(err.value) == f"{tmp_path}: missing items.csv (no public download); Put items.csv here."


def test_data_root(monkeypatch, tmp_path):
    assert data_root(str(tmp_path)) == tmp_path
    assert data_root("~/x") == Path.home() / "x"
    monkeypatch.setenv("TOWERNAS_DATA", str(tmp_path / "env"))
    assert data_root() == tmp_path / "env"
    monkeypatch.delenv("TOWERNAS_DATA")
    assert data_root() == Path.home() / ".cache" / "towernas"
