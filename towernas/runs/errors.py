"""The one base class of errors a user can fix, and the one-line rendering every message goes through.

Commands (``towernas.runs.cli``) print a ``UserError`` (or any ``ValueError``) as a single line and exit
with status 2; every package raises its own subclass (``DataError``, ``ArchError``, ``BudgetError``,
``ArtifactError``, ``TrainingDivergedError``, ``UnknownNameError``) so callers can still catch narrowly.

Example:
    >>> one_line("bad value\\n  at line 3")
    'bad value at line 3'
    >>> one_line(KeyError("no such key"))
    "KeyError: 'no such key'"
"""

from __future__ import annotations


class UserError(ValueError):
    """Bad input a user can fix (a file, a config value, a name); the message is one line."""


def one_line(problem: str | BaseException) -> str:
    """``problem`` on one line: a text with its whitespace runs collapsed; an exception as its type name and
    the first line of its message (library tracebacks can run to pages)."""
    if isinstance(problem, BaseException):
        lines = str(problem).strip().splitlines()
        return f"{type(problem).__name__}: {' '.join(lines[0].split()) if lines else ''}"
    return " ".join(str(problem).split())
