"""Checksums of downloaded files: publisher checksum listings, and the sha256 record kept beside each
download so that a corrupted or replaced cache file is detected on later runs (trust on first use)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from towernas.data.errors import DataError
from towernas.runs.files import atomic_open, sha256_file


def parse_checksum_file(text: str, filename: str, where: str = "checksum file") -> tuple[str, str]:
    """``(algorithm, lowercase hex)`` for ``filename`` from a BSD (``MD5 (f) = hex``) or GNU
    (``hex  f``) checksum listing; a listing with a single entry applies whatever name it gives."""
    entries: list[tuple[str | None, str]] = []
    for line in text.splitlines():
        match = _BSD_LINE.match(line) or _GNU_LINE.match(line)
        if match:
            entries.append((match.group("name"), match.group("hex").lower()))
    named = [hex_ for name, hex_ in entries if name is not None and Path(name.strip()).name == filename]
    if named:
        hex_ = named[0]
    elif len(entries) == 1:
        hex_ = entries[0][1]
    else:
        raise DataError.at(where, None, f"no checksum for {filename} found ({len(entries)} entries)")
    algorithm = {32: "md5", 64: "sha256"}.get(len(hex_))
    if algorithm is None:
        raise DataError.at(
            where, None, f"checksum for {filename} has {len(hex_)} hex digits, expected 32 or 64"
        )
    return algorithm, hex_


_BSD_LINE = re.compile(
    r"^\s*(?:MD5|SHA256)\s*\((?P<name>[^)]*)\)\s*=\s*(?P<hex>[0-9a-fA-F]+)\s*$", re.IGNORECASE
)
_GNU_LINE = re.compile(r"^\s*(?P<hex>[0-9a-fA-F]{32}|[0-9a-fA-F]{64})(?:\s+\*?(?P<name>\S.*?))?\s*$")


def record_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".sha256.json")


def write_record(dest: Path, sha256: str, size: int, url: str) -> None:
    record = {"filename": dest.name, "sha256": sha256, "size": size, "url": url}
    with atomic_open(record_path(dest), suffix=".part") as out:
        json.dump(record, out, indent=1)


def verify_cached(dest: Path, *, size: int | None, sha256: str | None, url: str) -> None:
    """Check an existing file against ``source`` and its record; record it if it has none (TOFU)."""
    record_file = record_path(dest)
    expected_sizes = [size]
    expected_digests = [sha256.lower() if sha256 else None]
    if record_file.exists():
        try:
            record = json.loads(record_file.read_text())
            expected_sizes.append(int(record["size"]))
            expected_digests.append(str(record["sha256"]).lower())
        except (ValueError, KeyError, TypeError) as err:
            raise DataError.at(record_file, None, f"unreadable record ({err!r}); delete it") from None
    hint = f"cached file corrupted or replaced; delete it and {record_file.name} to download again"
    actual_size = dest.stat().st_size
    for expected in (e for e in expected_sizes if e is not None):  # cheap check first
        if actual_size != expected:
            raise DataError.at(dest, None, f"size mismatch: expected {expected} bytes, got {actual_size}; {hint}")
    actual = sha256_file(dest)
    for expected in (e for e in expected_digests if e is not None):
        if actual != expected:
            raise DataError.at(dest, None, f"sha256 mismatch: expected {expected}, got {actual}; {hint}")
    if not record_file.exists():
        write_record(dest, actual, actual_size, url)  # trust on first use, e.g. a file placed by hand
