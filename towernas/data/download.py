"""Downloading public dataset files into the cache, verified and atomic.

A download streams into a temporary file next to its destination while hashing it, is checked (size,
then digest) and only then renamed into place, so an interrupted or corrupted transfer never leaves a
file that looks complete. Every problem is raised as a one-line :class:`DataError`.

Checksums, strongest first:

1. ``Source.sha256`` pinned in code;
2. otherwise the published checksum file at ``Source.checksum_url`` (GroupLens ``.md5`` files:
   ``MD5 (ml-100k.zip) = <hex>`` or ``<hex>  ml-100k.zip``; 32 hex digits = md5, 64 = sha256);
3. in every case the computed sha256 and size are recorded in ``<filename>.sha256.json`` and later runs
   check the cached file against that record ("trust on first use"), so a corrupted cache is caught.

Environment:
    TOWERNAS_DATA: default cache root (see :func:`data_root`), else ``~/.cache/towernas``.
    TOWERNAS_OFFLINE: ``1`` (or ``true``/``yes``) forbids network access; missing files then raise a
        DataError telling what to download by hand, exactly as ``download=False`` does.

Example:
    >>> src = Source(url="https://files.grouplens.org/datasets/movielens/ml-100k.zip",
    ...              filename="ml-100k.zip",
    ...              checksum_url="https://files.grouplens.org/datasets/movielens/ml-100k.zip.md5",
    ...              members=(("ml-100k/u.data", "u.data"),))
    >>> ensure_files(data_root() / "ml-100k", ["u.data"], (src,), "get ml-100k.zip from GroupLens")
    ... # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path
from typing import Callable, TypeVar

from tqdm import tqdm

from towernas.data.checksums import parse_checksum_file, verify_cached, write_record
from towernas.data.errors import DataError
from towernas.runs.files import atomic_open

_CHUNK = 1 << 16
_T = TypeVar("_T")


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


def data_root(root: str | None = None) -> Path:
    """The cache root: ``root`` if given, else ``$TOWERNAS_DATA``, else ``~/.cache/towernas`` (expanded)."""
    chosen = root or os.environ.get("TOWERNAS_DATA") or "~/.cache/towernas"
    return Path(os.path.expandvars(chosen)).expanduser()


def offline() -> bool:
    """True when ``TOWERNAS_OFFLINE`` forbids network access."""
    return os.environ.get("TOWERNAS_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def ensure_files(
    directory: Path,
    required: list[str],
    sources: tuple[Source, ...],
    manual: str,
    *,
    download: bool = True,
    progress: bool = True,
) -> None:
    """Make sure every ``required`` path exists in ``directory``, downloading ``sources`` if allowed.

    Raises:
        DataError: one line naming the directory, the missing files and the ``manual`` instructions.
    """
    directory = Path(directory)
    missing = [name for name in required if not (directory / name).exists()]
    if not missing:
        return
    how = " ".join(manual.split())
    if sources and download and not offline():
        for source in sources:
            try:
                archive = fetch(source, directory, progress=progress)
                if source.members:
                    extract_members(archive, source.members, directory)
            except DataError as err:
                raise DataError(f"{err}; {how}" if how else str(err)) from err
        missing = [name for name in required if not (directory / name).exists()]
        if not missing:
            return
        why = "not produced by the downloads"
    elif not sources:
        why = "no public download"
    else:
        why = "downloads disabled " + ("(TOWERNAS_OFFLINE)" if offline() else "(download=false)")
    problem = f"missing {', '.join(missing)} ({why})" + (f"; {how}" if how else "")
    raise DataError.at(directory, None, problem)


def fetch(
    source: Source,
    directory: Path,
    *,
    progress: bool = True,
    timeout: float = 60.0,
    retries: int = 2,
    backoff: float = 0.5,
) -> Path:
    """Download ``source`` to ``directory / source.filename`` unless a verified copy is already there.

    Connection errors, timeouts and truncated transfers are retried ``retries`` times, waiting
    ``backoff * 2**attempt`` seconds; HTTP errors and size or checksum mismatches are not.

    Returns:
        The path of the verified file.
    """
    directory = Path(directory)
    dest = directory / source.filename
    if dest.exists():
        verify_cached(dest, size=source.size, sha256=source.sha256, url=source.url)
        return dest
    if offline():
        raise DataError.at(
            source.url,
            None,
            f"not downloaded: TOWERNAS_OFFLINE is set; put {source.filename} into {directory} by hand",
        )
    directory.mkdir(parents=True, exist_ok=True)

    def retrying(action: Callable[[], _T], url: str) -> _T:
        return _retrying(action, url, directory, retries, backoff)

    algorithm, expected = ("sha256", source.sha256.lower()) if source.sha256 else (None, None)
    if expected is None and source.checksum_url:
        text = retrying(lambda: _read_text(source.checksum_url, timeout), source.checksum_url)
        algorithm, expected = parse_checksum_file(text, source.filename, source.checksum_url)

    fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{source.filename}.", suffix=".part")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        size, digests = retrying(
            lambda: _download_once(source.url, tmp, timeout, progress, source.filename), source.url
        )
        if source.size is not None and size != source.size:
            raise DataError.at(source.url, None, f"size mismatch: expected {source.size} bytes, got {size}")
        if algorithm is not None and digests[algorithm] != expected:
            raise DataError.at(
                source.url, None, f"{algorithm} mismatch: expected {expected}, got {digests[algorithm]}"
            )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)  # no-op after a successful os.replace
    write_record(dest, digests["sha256"], size, source.url)
    return dest


def extract_members(archive: Path, members: tuple[tuple[str, str], ...], directory: Path) -> None:
    """Extract each ``(member, dest)`` of the zip ``archive`` to ``directory / dest``, atomically."""
    try:
        with zipfile.ZipFile(archive) as zf:
            for member, dest_name in members:
                try:
                    info = zf.getinfo(member)
                except KeyError:
                    raise DataError.at(archive, None, f"missing member {member!r}") from None
                dest = Path(directory) / dest_name
                dest.parent.mkdir(parents=True, exist_ok=True)
                with atomic_open(dest, "wb", suffix=".part") as out, zf.open(info) as src:
                    shutil.copyfileobj(src, out, _CHUNK)
    except (zipfile.BadZipFile, zipfile.LargeZipFile) as err:
        raise DataError.at(archive, None, f"not a readable zip archive: {err}") from err


class _Transient(Exception):
    """A connection-level failure worth retrying; its message is the problem description."""


def _retrying(action: Callable[[], _T], url: str, directory: Path, retries: int, backoff: float) -> _T:
    attempts = retries + 1
    for attempt in range(attempts):
        try:
            return action()
        except _Transient as err:
            last = err
            if attempt + 1 < attempts:
                time.sleep(backoff * 2**attempt)
    raise DataError.at(
        url,
        None,
        f"{last} (after {attempts} attempt{'s' if attempts > 1 else ''}); "
        f"check your network or download it by hand into {directory}",
    )


def _open(url: str, timeout: float):
    try:
        return urllib.request.urlopen(url, timeout=timeout)
    except urllib.error.HTTPError as err:
        raise DataError.at(url, None, f"HTTP {err.code} {err.reason}") from None
    except urllib.error.URLError as err:
        raise _Transient(f"connection failed: {err.reason}") from err
    except TimeoutError:
        raise _Transient(f"connection failed: timed out after {timeout:g} s") from None
    except (OSError, HTTPException) as err:
        raise _Transient(f"connection failed: {err!r}") from err


def _read_text(url: str, timeout: float) -> str:
    with _open(url, timeout) as response:
        try:
            return response.read().decode("utf-8", errors="replace")
        except (OSError, HTTPException) as err:
            raise _Transient(f"connection failed while reading: {err!r}") from err


def _download_once(
    url: str, tmp: Path, timeout: float, progress: bool, desc: str
) -> tuple[int, dict[str, str]]:
    """Stream ``url`` into ``tmp`` (truncating it first); return ``(size, {"sha256": .., "md5": ..})``."""
    sha256, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    size = 0
    with _open(url, timeout) as response:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=desc,
                   disable=not progress, leave=False)
        with bar, open(tmp, "wb") as out:
            while True:
                try:
                    chunk = response.read(_CHUNK)
                except TimeoutError:
                    raise _Transient(f"download stalled: no data for {timeout:g} s") from None
                except (OSError, HTTPException) as err:
                    raise _Transient(f"download interrupted: {err!r}") from err
                if not chunk:
                    break
                out.write(chunk)
                sha256.update(chunk)
                md5.update(chunk)
                size += len(chunk)
                bar.update(len(chunk))
    if total is not None and size != total:
        raise _Transient(f"truncated download: got {size} of {total} bytes")
    return size, {"sha256": sha256.hexdigest(), "md5": md5.hexdigest()}
