"""Files of a run: atomic writes (a temp file in the target's directory, fsync, then ``os.replace``) and
content digests.

A crash or an interrupt leaves either the old file or the new one, never a half-written file, and
never a stray temp file. In a distributed job (torchrun) only rank 0 writes: on the other ranks every writer
here is a no-op (``writes_files``), so a run directory has one author.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Iterator


def writes_files() -> bool:
    """False on the ranks other than 0 of an initialised ``torch.distributed`` job, else True."""
    import torch.distributed as dist

    return not (dist.is_available() and dist.is_initialized() and dist.get_rank() != 0)


@contextmanager
def main_first() -> Iterator[None]:
    """In a distributed job, rank 0 runs the block first (e.g. processes and caches a dataset, generates
    files), then the other ranks do (and find its results); alone, just the block."""
    import torch.distributed as dist

    active = dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1
    if active and dist.get_rank() != 0:
        dist.barrier()
    yield
    if active and dist.get_rank() == 0:
        dist.barrier()


@contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", suffix: str = ".tmp") -> Iterator[IO]:
    """Open a temp file for writing that replaces ``path`` when the block exits without error.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
        >>> with atomic_open(p) as fh:
        ...     _ = fh.write("done")
        >>> p.read_text()
        'done'
    """
    if not writes_files():  # another rank of a distributed job: rank 0 writes this file
        yield io.BytesIO() if "b" in mode else io.StringIO()
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    try:
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Replace ``path`` with ``text`` atomically."""
    with atomic_open(path) as fh:
        fh.write(text)


def write_json_atomic(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON (non-JSON values as ``str``) to ``path`` atomically."""
    with atomic_open(path) as fh:
        json.dump(obj, fh, indent=2, default=str)
        fh.write("\n")


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes, read in ``chunk``-byte pieces (constant memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def write_results(run_dir: Path | str, results: dict, table: str, csv_text: str | None = None) -> None:
    """A command's outputs: ``results.json``, ``results.md`` (``table``) and, if given, ``results.csv`` (each
    atomically), then the table and the JSON's path on stdout."""
    run_dir = Path(run_dir)
    write_json_atomic(run_dir / "results.json", results)
    write_text_atomic(run_dir / "results.md", table + "\n")
    if csv_text is not None:
        write_text_atomic(run_dir / "results.csv", csv_text)
    print("\n" + table + f"\n\nresults: {run_dir / 'results.json'}")
