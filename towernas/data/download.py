"""Downloading public dataset files into the cache, verified and atomic.

(Skeleton: the implementation is being written; the Source dataclass is the stable interface.)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Source:
    """One downloadable file.

    Args:
        url: where to fetch it.
        filename: the name it is stored under in the dataset directory.
        sha256: expected digest when pinned; None = verify against ``checksum_url`` if given.
        size: expected size in bytes when known.
        checksum_url: a published checksum file (e.g. GroupLens ``.md5``) used when no sha256 is pinned.
        members: for zip archives, ``(member path in archive, destination file name)`` pairs to extract
            into the dataset directory.
    """

    url: str
    filename: str
    sha256: str | None = None
    size: int | None = None
    checksum_url: str | None = None
    members: tuple[tuple[str, str], ...] = ()
