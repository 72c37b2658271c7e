"""One exception type for every data problem, rendered as a single line a user can act on."""

from __future__ import annotations

from pathlib import Path

from towernas.runs.errors import UserError, one_line


class DataError(UserError):
    """A problem with dataset files, configuration or content.

    The message is always one line naming where (file, line, field) and what was expected.

    Example:
        >>> raise DataError.at("u.data", 12, "expected 4 tab-separated columns, got 3")
        Traceback (most recent call last):
        ...
        towernas.data.errors.DataError: u.data:12: expected 4 tab-separated columns, got 3
    """

    @classmethod
    def at(cls, path: str | Path, line: int | None, problem: str) -> "DataError":
        """Build an error located at ``path`` (and 1-based ``line`` when known)."""
        where = str(path) if line is None else f"{path}:{line}"
        return cls(f"{where}: {one_line(problem)}")
