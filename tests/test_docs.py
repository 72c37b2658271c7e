"""The documentation: the README stays a short front page, every relative link of the README and of ``docs/``
reaches an existing file and heading, and the MkDocs site (guides, results, the mkdocstrings API pages) builds
with ``mkdocs build --strict``, which also fails on a docstring that mkdocstrings cannot render."""

import importlib.util
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from tests.conftest import REPO

README = REPO / "README.md"
DOCS = REPO / "docs"
README_MAX_LINES = 200

FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.S)
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)


def _prose(text: str) -> str:
    """``text`` without fenced code blocks and code spans, where brackets are code, not links."""
    return CODE_SPAN.sub("", FENCE.sub("", text))


def _slug(heading: str) -> str:
    """The anchor MkDocs (Python-Markdown's ``toc``) gives a heading; GitHub's agrees on these headings."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def _anchors(path: Path) -> set[str]:
    anchors: set[str] = set()
    for heading in HEADING.findall(FENCE.sub("", path.read_text())):
        slug = base = _slug(heading)
        n = 0
        while slug in anchors:  # a repeated heading gets _1, _2, ... as in toc
            n += 1
            slug = f"{base}_{n}"
        anchors.add(slug)
    return anchors


def _broken_links(page: Path) -> list[str]:
    """Every relative link of ``page`` whose file or ``#anchor`` does not exist, with the reason."""
    broken = []
    for target in LINK.findall(_prose(page.read_text())):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(f"{target} (no heading with that anchor)")
    return broken


def test_the_readme_is_a_short_front_page():
    text = README.read_text()
    n_lines = len(text.splitlines())
    assert n_lines <= README_MAX_LINES, f"README.md has {n_lines} lines; move detail into docs/"
    assert "make test" in text  # CI runs the README's test command (.ci/run)
    assert "python -m towernas.search" in text and "python -m towernas.retrain" in text


@pytest.mark.parametrize("page", [README, *sorted(DOCS.rglob("*.md"))], ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_reach_a_file_and_heading(page):
    assert not _broken_links(page)


def test_the_link_check_catches_broken_links(tmp_path):
    (tmp_path / "b.md").write_text("# A heading (`code`) ≤ 2\n\n# A heading (`code`) ≤ 2\n")
    page = tmp_path / "a.md"
    page.write_text("[ok](b.md#a-heading-code-2) [again](b.md#a-heading-code-2_1) [self](#top) `[code](nowhere.md)`\n"
                    "[bad](missing.md) [bad anchor](b.md#nope) [web](https://example.org)\n\n# Top\n"
                    "```\n[in a fence](nowhere.md)\n```\n")
    assert _broken_links(page) == ["missing.md (no such file)", "b.md#nope (no heading with that anchor)"]


def test_every_benchmark_is_documented():
    """Every registered benchmark's ``make`` command (or, for the quick suite's, its name) is on the benchmarks page."""
    from benchmarks.common.registry import discover

    documented = (DOCS / "benchmarks.md").read_text()
    registry = discover()
    assert registry and not [name for name, entry in registry.items()
                             if entry.make not in documented and f"| `{name}` |" not in documented]


MKDOCS_MISSING = [m for m in ("mkdocs", "mkdocstrings", "mkdocstrings_handlers", "griffe") if importlib.util.find_spec(m) is None]


def test_doctests_in_docstrings_render_as_code():
    """The API pages' griffe extension fences doctests, whose brackets Markdown would read as links."""
    if "griffe" in MKDOCS_MISSING:
        pytest.skip("griffe not installed (the `docs` extra: pip install -e '.[docs]')")
    spec = importlib.util.spec_from_file_location("griffe_doctests", DOCS / "griffe_doctests.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = 'Build one.\n\n    >>> OPS["SA-2"](5, Dims()).shape\n    torch.Size([3, 32])\n\nAfter.\n```\n>>> fenced\n```'
    assert module.fence_doctests(text) == ('Build one.\n\n    ```pycon\n    >>> OPS["SA-2"](5, Dims()).shape\n'
                                           '    torch.Size([3, 32])\n    ```\n\nAfter.\n```\n>>> fenced\n```')


@pytest.mark.skipif(bool(MKDOCS_MISSING), reason=f"{', '.join(MKDOCS_MISSING)} not installed "
                    "(the `docs` extra: pip install -e '.[docs]')")
def test_the_site_builds_strictly(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet",
                           "--config-file", str(REPO / "mkdocs.yml"), "--site-dir", str(tmp_path / "site")],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert (tmp_path / "site" / "index.html").exists()
    assert (tmp_path / "site" / "api" / "space" / "index.html").exists()
