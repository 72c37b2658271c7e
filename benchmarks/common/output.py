"""A benchmark's result files: ``<out>/<stem>.json`` and ``<out>/<stem>.md``, each written atomically
(``towernas.runs.files``: a crash leaves the old file or the new one, never half of one).

Example:
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> write_report(out, "demo", {"a": 1}, markdown_table(["k", "v"], [["a", 1]]) + "\\n")
    >>> print((out / "demo.md").read_text(), end="")
    | k | v |
    |---|---|
    | a | 1 |
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from towernas.runs.files import write_json_atomic, write_text_atomic
from towernas.runs.tables import markdown as markdown_table

__all__ = ["markdown_table", "write_report"]


def write_report(out: Path | str, stem: str, result: Any, markdown: str, echo: bool = False) -> None:
    """Write ``result`` as indented JSON to ``<out>/<stem>.json`` and ``markdown`` as is (its own trailing
    newline or none) to ``<out>/<stem>.md``; ``echo``: print the Markdown too."""
    out = Path(out)
    write_json_atomic(out / f"{stem}.json", result)
    write_text_atomic(out / f"{stem}.md", markdown)
    if echo:
        print(markdown)

