"""Run directories: the guard that only the same config resumes a run.

What may differ between a run and its resumption is the config's knowledge, not this module's: a command
passes ``ResumeRules`` (the shared ones are ``towernas.config.resume.RESUME``), e.g.
``claim(run_dir, config, RESUME.ignoring("rank.seeds"))``.

Example:
    >>> rules = ResumeRules(ignore=("progress",), neutral={"train.decay": 0.0})
    >>> config_hash({"train": {"lr": 0.1}}, rules) == config_hash({"train": {"lr": 0.1, "decay": 0.0}}, rules)
    True
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

from towernas.runs.files import write_json_atomic


@dataclass(frozen=True)
class ResumeRules:
    """Which config keys a run may change and still resume (both are left out of the hash and the comparison).

    Args:
        ignore: dotted keys (``section``, ``section.key`` or deeper) whose changes extend or observe a run, or
            that the command never reads.
        neutral: keys added after runs were made -> the value that reproduces those runs; at that value a key
            counts as absent, so an earlier run still resumes (and keeps its hash) once the key is added.
    """

    ignore: tuple[str, ...] = ()
    neutral: Mapping[str, Any] = field(default_factory=dict)

    def ignoring(self, *keys: str) -> ResumeRules:
        """These rules with ``keys`` ignored too (what one command never reads, or its units of their own)."""
        return replace(self, ignore=self.ignore + keys)


def config_hash(config: dict[str, Any], rules: ResumeRules) -> str:
    """Short hash of the settings that determine a run's results: ``config`` without what ``rules`` leave out."""
    stable = _without(config, rules)
    return hashlib.sha256(json.dumps(stable, sort_keys=True, default=str).encode()).hexdigest()[:12]


def claim(run_dir: Path, config: dict[str, Any], rules: ResumeRules) -> bool:
    """Record ``config`` in ``run_dir``; return True if this resumes an earlier run of the same config.

    ``rules``: the keys that may change without blocking a resume or changing the hash (a search ignores
    ``dataset.ctr``, which it never reads).
    The marker also records ``world_size`` (torchrun's, 1 alone): the global batch is the same at any world
    size, so a run may resume at another one. Raises a one-line ValueError if the directory holds a run of a
    different config. The settings decide, not the stored hash: a run hashed before one of its keys joined
    ``rules.neutral`` (at the neutral value) still resumes, and its marker takes the new hash.
    """
    import torch.distributed as dist

    world_size = dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1
    marker = run_dir / "run_config.json"
    digest = config_hash(config, rules)
    if marker.exists():
        previous = json.loads(marker.read_text())
        if previous.get("hash") != digest:
            changed = _diff(_without(previous.get("config", {}), rules), _without(config, rules))
            # no change under another hash: a key made neutral after the run was hashed with it at that value
            if changed or "config" not in previous:
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


def _parent(config: dict[str, Any], key: str) -> tuple[Any, str]:
    """The dict holding a dotted ``key`` (a root key "precision", a section's "dataset.ctr", a nested
    "dataset.split.seed") and the key's last part; the parent is None when the path is not in ``config``."""
    *path, name = key.split(".")
    node: Any = config
    for part in path:
        node = node.get(part) if isinstance(node, dict) else None
    return (node if isinstance(node, dict) else None), name


def _without(config: dict[str, Any], rules: ResumeRules) -> dict[str, Any]:
    out = json.loads(json.dumps(config, default=str))
    for key, neutral in rules.neutral.items():
        node, name = _parent(out, key)
        if node is not None and node.get(name, neutral) == neutral:
            node.pop(name, None)
    for key in rules.ignore:
        node, name = _parent(out, key)
        if node is not None:
            node.pop(name, None)
    return out


def _diff(a: Any, b: Any, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b)) for d in _diff(a.get(k), b.get(k), f"{prefix}{k}.")]
    return [prefix.rstrip(".")] if a != b else []
