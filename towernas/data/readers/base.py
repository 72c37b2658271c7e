"""The contract every dataset reader fulfils; the registry lives in ``readers/__init__.py``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from towernas.data.download import Source
from towernas.data.raw import RawDataset


@dataclass
class NoOptions:
    """For readers without settings of their own."""


@dataclass(frozen=True)
class Reader:
    """A named way to read one dataset format.

    Args:
        name: the value of ``dataset.reader`` in ``conf/dataset/*.yaml``.
        read: ``read(directory, options) -> RawDataset``; raises DataError on bad input.
        files: ``files(options) -> [relative paths]`` that must exist in the directory before ``read``.
        optional: ``optional(options) -> [relative paths]`` read when present (they join the cache key).
        options: dataclass of reader-specific settings (``dataset.options`` in the config). A field ``name`` left
            None is filled with ``dataset.name`` (the files' prefix of RecBole-style datasets).
        sources: public downloads that produce ``files``; empty when the data must be placed by hand.
        manual: what to download by hand and where to put it, shown when files are missing.
        progress: ``read`` takes ``progress=`` (shows a progress bar while streaming a large file).
    """

    name: str
    read: Callable[[Path, Any], RawDataset]
    files: Callable[[Any], list[str]]
    options: type = NoOptions
    optional: Callable[[Any], list[str]] = lambda options: []
    sources: tuple[Source, ...] = field(default_factory=tuple)
    manual: str = ""
    progress: bool = False
