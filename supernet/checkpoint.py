"""Atomic, pickle-free supernet checkpoints, and the previous one kept for recovery.

A checkpoint is a dict of tensors, numbers, strings, lists and dicts (RNG states included, as numpy's
JSON-able ``bit_generator.state``), written with ``torch.save`` to a temporary file in the same
directory and moved into place with ``os.replace``: a crash leaves either the old or the new checkpoint,
never half of one. It is read back with ``torch.load(weights_only=True)``, which refuses arbitrary
pickled objects.

A file that is truncated or corrupted anyway (a copy cut short, a full disk on a file system without atomic
renames) fails as a one-line ``CheckpointError`` naming it. ``save_checkpoint(..., keep_previous=True)``
keeps the checkpoint it replaces as ``supernet.prev.pt`` (once the new one is written), and
``load_resumable`` falls back to it when ``supernet.pt`` is missing or unreadable (an unreadable one is set
aside as ``supernet.broken.pt``, so the next save does not keep it as the previous checkpoint).
"""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import torch

from towernas.runs.errors import UserError
from towernas.runs.files import atomic_open, writes_files

log = logging.getLogger(__name__)
FILENAME = "supernet.pt"
FORMAT = 1
REMEDY = "to train the supernet again, delete the run directory's supernet*.pt files (or use another run directory)"


class CheckpointError(UserError):
    """A checkpoint is unreadable (truncated, corrupted) or does not fit the model (one-line message)."""


def checkpoint_path(directory: str | Path) -> Path:
    return Path(directory) / FILENAME


def previous_path(path: str | Path) -> Path:
    """Where ``save_checkpoint(path, ..., keep_previous=True)`` keeps the checkpoint it replaces."""
    return _sibling(path, "prev")


def broken_path(path: str | Path) -> Path:
    """Where ``load_resumable`` sets an unreadable ``path`` aside when it resumes from the previous checkpoint."""
    return _sibling(path, "broken")


def _sibling(path: str | Path, tag: str) -> Path:
    path = Path(path)
    return path.with_name(f"{path.stem}.{tag}{path.suffix}")


def save_checkpoint(path: str | Path, state: dict[str, Any], keep_previous: bool = False) -> None:
    """Write ``state`` (plus the format version) to ``path`` atomically; with ``keep_previous``, the checkpoint
    it replaces becomes ``previous_path(path)`` once the new one is fully written (at every instant one of
    the two is intact)."""
    if not writes_files():  # another rank of a distributed job: rank 0 saves
        return
    path = Path(path)
    with atomic_open(path, "wb") as fh:
        torch.save({"format": FORMAT, **state}, fh)
        if keep_previous and path.exists():
            os.replace(path, previous_path(path))


def load_checkpoint(path: str | Path, map_location: torch.device | str = "cpu") -> dict[str, Any] | None:
    """The state saved at ``path``, or None when there is no checkpoint.

    Raises:
        CheckpointError: the file is not a checkpoint of this format (truncated, corrupted, other format).
    """
    path = Path(path)
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except OSError:
        raise
    except Exception as err:  # torch raises RuntimeError, UnpicklingError, EOFError, KeyError, ... on bad bytes
        raise CheckpointError(f"{path}: truncated or corrupted checkpoint ({type(err).__name__} while reading it); "
                              f"{REMEDY}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        found = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise CheckpointError(f"{path}: checkpoint format {found!r}; this TowerNAS reads format {FORMAT}; {REMEDY}")
    return state


def load_resumable(path: str | Path, map_location: torch.device | str = "cpu") -> tuple[dict[str, Any] | None, Path]:
    """The newest intact checkpoint of ``path`` and ``previous_path(path)``, and the file it came from;
    ``(None, path)`` when neither exists. An unreadable ``path`` is moved to ``broken_path(path)`` when the
    previous checkpoint is intact.

    Raises:
        CheckpointError: there are checkpoints but none is intact (the message names every file tried).
    """
    broken: list[Path] = []
    for candidate in (Path(path), previous_path(path)):
        try:
            state = load_checkpoint(candidate, map_location)
        except CheckpointError as err:
            log.warning("%s", err)
            broken.append(candidate)
            continue
        if state is not None:
            if candidate != Path(path):
                _set_aside(broken)
                log.warning("%s is missing or unreadable; resuming from the previous checkpoint %s", path, candidate)
            return state, candidate
    if broken:
        raise CheckpointError(f"{' and '.join(map(str, broken))}: truncated or corrupted, no intact checkpoint to "
                              f"resume from; {REMEDY}")
    return None, Path(path)


def _set_aside(broken: list[Path]) -> None:
    """Move the unreadable checkpoints out of the rotation (kept for a look, not overwritten by the next save)."""
    for path in broken:
        os.replace(path, broken_path(path))
        log.warning("kept the unreadable %s as %s", path.name, broken_path(path).name)


@contextmanager
def loading(path: str | Path | None) -> Iterator[None]:
    """Around putting a loaded checkpoint into a model: a state that does not fit it (parameters renamed,
    reshaped, missing) becomes a one-line CheckpointError naming ``path``."""
    try:
        yield
    except UserError:
        raise
    except (RuntimeError, KeyError, ValueError) as err:
        detail = " ".join(str(err).split())  # torch lists every missing key: keep the start
        detail = detail if len(detail) <= 160 else detail[:160] + "…"
        raise CheckpointError(f"{path}: checkpoint written by an incompatible TowerNAS version, it does not fit "
                              f"this model ({type(err).__name__}: {detail}); {REMEDY}") from None
