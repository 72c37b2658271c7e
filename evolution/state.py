"""Checkpoints of a running search: one JSON file, replaced atomically after every generation.

Contents (genomes always as op names)::

    {"format": "towernas-evolution", "version": 1,
     "config": {...}, "space": [[names of slot 0], ...],
     "generation": 7, "elapsed": 12.3,
     "population": [[names], ...],
     "memo": [[[names], fitness], ...],                 # every evaluated genome, in evaluation order
     "top_k": [[[names], fitness], ...],                # DEAP HallOfFame order, best first
     "pareto_front": [[[names], fitness, cost], ...],   # DEAP ParetoFront order ([] in single mode)
     "rng": [3, [625 ints], null],                      # random.Random.getstate()
     "history": [{generation record}, ...]}

Non-finite fitness values are written as ``Infinity`` (Python's ``json`` default).
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

FORMAT = "towernas-evolution"
VERSION = 1


def replace_text(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` through a temp file in the same directory and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def save_state(path: str | os.PathLike, state: dict[str, Any],
               write_text: Callable[[Path, str], None] | None = None) -> None:
    """Write ``state`` to ``path`` with ``write_text`` (an atomic replace; default :func:`replace_text`)."""
    (write_text or replace_text)(Path(path), json.dumps({"format": FORMAT, "version": VERSION, **state}))


def load_state(path: str | os.PathLike) -> dict[str, Any] | None:
    """The checkpoint at ``path``, or ``None`` when there is none yet."""
    path = Path(path)
    if not path.exists():
        return None
    with open(path) as f:
        state = json.load(f)
    if state.get("format") != FORMAT or state.get("version") != VERSION:
        raise ValueError(f"{path} is not a version-{VERSION} evolution checkpoint")
    return state


def rng_to_json(rng: random.Random) -> list:
    version, internal, gauss = rng.getstate()
    return [version, list(internal), gauss]


def rng_from_json(data: list) -> random.Random:
    rng = random.Random()
    rng.setstate((data[0], tuple(data[1]), data[2]))
    return rng
