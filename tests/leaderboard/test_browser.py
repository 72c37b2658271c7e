"""The leaderboard in a real headless browser (Debian ``chromium``; skipped where it is not installed): the
page loads without script errors, its sort script runs (a ``#sort=`` URL hash orders the rows in the dumped
DOM, numerically, missing values last), and a screenshot renders."""

import shutil
import struct
import subprocess

import pytest

from tests.leaderboard import fake_runs
from tests.leaderboard.dom import parse
from towernas.leaderboard import build_site
from towernas.leaderboard.html import page

CHROMIUM = next((path for path in map(shutil.which, ("chromium", "chromium-browser")) if path), None)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium not found: apt-get install chromium")


def chromium(url: str, profile, *args: str) -> subprocess.CompletedProcess:
    """One headless chromium run on ``url`` (its own profile directory; 60 s at most)."""
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args, url], capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL, check=False)


def dump(url: str, profile):
    """The DOM after the page's scripts ran, and the browser's console log."""
    proc = chromium(url, profile, "--enable-logging=stderr", "--v=0", "--dump-dom")
    assert proc.returncode == 0 and "</html>" in proc.stdout, proc.stderr[-2000:]
    return parse(proc.stdout), proc.stderr


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser")
    runs = fake_runs.all_runs(root / "runs")
    build_site([runs["baselines_L"], runs["winners_L"], runs["baselines_M"], runs["other"], runs["cascade"]],
               root / "site")
    return root


def _values(table, key):
    return [attrs.get("data-sort", "") for _, attrs in table.column(key)]


@pytest.mark.parametrize("hash_, key, descending", [("#sort=leaderboard:uf", "uf", False),
                                                     ("#sort=leaderboard:arp:desc", "arp", True)])
def test_the_page_loads_without_errors_and_sorts_by_the_url_hash(site, tmp_path, hash_, key, descending):
    dom, console = dump((site / "site" / "index.html").as_uri() + hash_, tmp_path / "profile")
    assert dom.text_by_id["js-errors"] == "" and "Uncaught" not in console
    assert {t.attrs.get("data-sort-ready") for t in dom.tables.values()} == {"1"}  # the script set up every table
    table = dom.tables["leaderboard"]
    assert len(table.rows) == 8 and table.attrs["data-sorted-by"] == f"{key}:{'desc' if descending else 'asc'}"
    values = _values(table, key)
    numbers = [float(v) for v in values if v != ""]
    assert numbers == sorted(numbers, reverse=descending) and len(set(numbers)) >= 2
    assert values == [*(v for v in values if v != ""), *(v for v in values if v == "")]  # missing ones last
    if key == "uf":  # numeric, not text order: 1000 < 9000 < 34000 < 57000 < ... < 157000
        assert numbers[:4] == [1000, 9000, 34000, 57000] and len(numbers) == 8


def test_an_error_in_a_page_script_shows_in_the_error_box(tmp_path):
    """The check above can fail: a throwing script lands in ``#js-errors`` and the console."""
    broken = tmp_path / "broken.html"
    broken.write_text(page("t", "", ['<script>throw new Error("boom")</script>'], []))
    dom, console = dump(broken.as_uri(), tmp_path / "profile")
    assert "boom" in dom.text_by_id["js-errors"] and "Uncaught" in console


def test_a_screenshot_of_the_page_renders(site, tmp_path):
    shot = tmp_path / "shot.png"
    proc = chromium((site / "site" / "index.html").as_uri(), tmp_path / "profile", f"--screenshot={shot}",
                    "--window-size=1400,1800", "--hide-scrollbars")
    assert proc.returncode == 0 and shot.exists(), proc.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", data[16:24]) == (1400, 1800)
    from PIL import Image

    with Image.open(shot) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    assert len(colours) > 100  # text, table stripes and a figure, not a blank page
    assert max(n for n, _ in colours) < 0.95 * 1400 * 1800
