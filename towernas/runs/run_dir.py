"""Run directories: the guard that only the same config resumes a run."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from towernas.runs.files import write_json_atomic

# keys that may change between a run and its resumption (they extend or observe it)
RESUMABLE_CHANGES = ("supernet.steps", "search.generations", "search.random_baseline", "tracking", "progress",
                     "device", "eval", "jobs")
# keys added after runs were made, at the value that reproduces those runs: at that value they are left out of
# the hash and the comparison, so an earlier run still resumes (and keeps its hash) once a key is added
NEUTRAL_WHEN = {"retrain.weight_decay": 0.0, "retrain.learn_weight_decay": False, "retrain.decay_every": 10,
                "retrain.decay_lr": 0.05, "search.hparams": [], "search.hparam_trials": 8,
                "search.hparam_epochs": None, "precision": "fp32"}


def config_hash(config: dict[str, Any], ignore: tuple[str, ...] = ()) -> str:
    """Short hash of the settings that determine a run's results (``ignore``: keys the command never reads)."""
    stable = _without(config, RESUMABLE_CHANGES + tuple(ignore))
    return hashlib.sha256(json.dumps(stable, sort_keys=True, default=str).encode()).hexdigest()[:12]


def claim(run_dir: Path, config: dict[str, Any], ignore: tuple[str, ...] = ()) -> bool:
    """Record ``config`` in ``run_dir``; return True if this resumes an earlier run of the same config.

    ``ignore``: dotted keys (``section`` or ``section.key``) the command does not read, so adding or changing
    them neither blocks a resume nor changes the hash (a search ignores ``dataset.ctr``).
    The marker also records ``world_size`` (torchrun's, 1 alone): the global batch is the same at any world
    size, so a run may resume at another one. Raises a one-line ValueError if the directory holds a run of a
    different config.
    """
    import torch.distributed as dist

    world_size = dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1
    marker = run_dir / "run_config.json"
    skip = RESUMABLE_CHANGES + tuple(ignore)
    digest = config_hash(config, ignore)
    if marker.exists():
        previous = json.loads(marker.read_text())
        if previous.get("hash") != digest:
            changed = _diff(_without(previous.get("config", {}), skip), _without(config, skip))
            raise ValueError(f"{run_dir} holds a run of another config (changed: {', '.join(changed) or '?'}); "
                             "pick another directory with hydra.run.dir=... or delete it")
        write_json_atomic(marker, {"hash": digest, "world_size": world_size, "config": config})
        return True
    write_json_atomic(marker, {"hash": digest, "world_size": world_size, "config": config})
    return False


def newest_run(root: Path, marker_glob: str, missing: str) -> Path:
    """The directory of the most recently written file matching ``root / marker_glob`` (a run's marker file,
    e.g. ``summary.json``). Raises FileNotFoundError with ``missing`` (what to run or pass) if none exists."""
    found = sorted(root.glob(marker_glob), key=lambda p: p.stat().st_mtime)
    if not found:
        raise FileNotFoundError(missing)
    return found[-1].parent


def _without(config: dict[str, Any], dotted: tuple[str, ...]) -> dict[str, Any]:
    out = json.loads(json.dumps(config, default=str))
    for key, neutral in NEUTRAL_WHEN.items():
        *section, name = key.split(".")  # a root key ("precision") or a section's ("retrain.weight_decay")
        node = out.get(section[0]) if section else out
        if isinstance(node, dict) and node.get(name, neutral) == neutral:
            node.pop(name, None)
    for key in dotted:
        node, *rest = key.split(".")
        if not rest:
            out.pop(node, None)
        elif isinstance(out.get(node), dict):
            out[node].pop(rest[0], None)
    return out


def _diff(a: Any, b: Any, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b)) for d in _diff(a.get(k), b.get(k), f"{prefix}{k}.")]
    return [prefix.rstrip(".")] if a != b else []
