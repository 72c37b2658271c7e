"""Run metrics: always appended to JSONL files in the run directory; mirrored to wandb on request.

wandb runs offline unless the user sets ``WANDB_MODE`` (so nothing leaves the machine by default),
and is imported only when enabled.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from towernas.runs.files import writes_files


class Tracker:
    """Append-only metric streams.

    Args:
        run_dir: where ``<stream>.jsonl`` files go.
        use_wandb: also log to wandb (project ``project``, config ``config``).

    Example:
        >>> import tempfile
        >>> t = Tracker(Path(tempfile.mkdtemp()))
        >>> t.log("supernet", {"step": 1, "loss": 3.2})
        >>> (t.run_dir / "supernet.jsonl").read_text().strip()
        '{"step": 1, "loss": 3.2}'
    """

    def __init__(self, run_dir: Path, *, use_wandb: bool = False, project: str = "towernas",
                 config: dict[str, Any] | None = None, name: str | None = None) -> None:
        self.run_dir = Path(run_dir)
        self.writes = writes_files()  # in a distributed job, rank 0 logs for all
        if self.writes:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        self._wandb = None
        if use_wandb and self.writes:
            os.environ.setdefault("WANDB_MODE", "offline")
            import wandb

            self._wandb = wandb.init(project=project, config=config, name=name, dir=str(self.run_dir),
                                     resume="allow")

    def log(self, stream: str, record: dict[str, Any]) -> None:
        """Append ``record`` to ``<stream>.jsonl`` (one line, flushed) and to wandb under ``stream/``."""
        if not self.writes:
            return
        with open(self.run_dir / f"{stream}.jsonl", "a") as fh:
            fh.write(json.dumps(record, default=_jsonable) + "\n")
        if self._wandb is not None:
            numbers = {f"{stream}/{k}": v for k, v in record.items()
                       if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}
            self._wandb.log(numbers)

    def close(self) -> None:
        if self._wandb is not None:
            self._wandb.finish()
            self._wandb = None


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
