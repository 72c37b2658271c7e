"""``hydra/sweeper=towernas_optuna``: Hydra's Optuna sweeper (``hydra-optuna-sweeper``) that resumes a stored
study to its ``n_trials`` in all, after an interruption (kill -9 included).

The stock sweeper re-runs ``n_trials`` more on every call, leaves the trials of a killed run RUNNING for ever,
and re-seeds its sampler identically, so a resumed study's first random trials repeat the first ones. Here, when
``storage`` holds the study already:

- trials left RUNNING by an interrupted call are marked FAIL (one sweep per study at a time: this is not for
  several processes sharing a study);
- only ``n_trials`` minus the COMPLETE trials run;
- the sampler is seeded with ``seed`` + the number of trials on record, so a resumed sweep is reproducible and
  does not repeat points.

Defaults: TPE (``n_startup_trials`` 5), maximise (every command returns its validation score, higher is
better), one trial at a time, a failed trial (e.g. a diverged learning rate) counts as failed and the sweep goes
on. A ``sqlite:///path.db`` storage gets its directory created.

No ``from __future__ import annotations`` here: Hydra loads plugin modules outside ``sys.modules``, where a
dataclass cannot resolve string annotations.
"""
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from hydra.core.config_store import ConfigStore
from hydra_plugins.hydra_optuna_sweeper.optuna_sweeper import OptunaSweeper

log = logging.getLogger(__name__)


@dataclass
class ResumableOptunaSweeperConf:
    _target_: str = "hydra_plugins.towernas_optuna.sweeper.ResumableOptunaSweeper"
    # an optuna sampler, instantiated partially: the seed is given at sweep time
    sampler: Any = field(default_factory=lambda: {"_target_": "optuna.samplers.TPESampler", "_partial_": True,
                                                  "n_startup_trials": 5})
    seed: int = 0
    direction: Any = "maximize"
    storage: Optional[str] = None  # e.g. sqlite:///outputs/sweeps/retrain.db; None: in memory, no resume
    study_name: Optional[str] = None
    n_trials: int = 20
    n_jobs: int = 1
    max_failure_rate: float = 1.0
    search_space: Optional[Dict[str, Any]] = None
    params: Optional[Dict[str, str]] = None
    custom_search_space: Optional[str] = None


ConfigStore.instance().store(group="hydra/sweeper", name="towernas_optuna", node=ResumableOptunaSweeperConf,
                             provider="towernas")


class ResumableOptunaSweeper(OptunaSweeper):
    def __init__(self, sampler: Any, seed: int, direction: Any, storage: Optional[str], study_name: Optional[str],
                 n_trials: int, n_jobs: int, max_failure_rate: float, search_space: Any,
                 custom_search_space: Optional[str], params: Any) -> None:
        if not callable(sampler):
            raise ValueError("hydra.sweeper.sampler: expected a sampler config with _partial_: true")
        self.make_sampler, self.seed = sampler, seed
        super().__init__(None, direction, storage, study_name, n_trials, n_jobs, max_failure_rate, search_space,
                         custom_search_space, params)

    def sweep(self, arguments: List[str]) -> None:
        impl = self.sweeper
        on_record = 0
        if impl.storage is not None:
            _make_sqlite_dir(str(impl.storage))
            on_record, complete = resume(str(impl.storage), impl.study_name)
            if on_record:
                impl.n_trials = max(0, impl.n_trials - complete)
                log.info("study %s: %d trials on record (%d complete): %d to go", impl.study_name, on_record,
                         complete, impl.n_trials)
        impl.sampler = self.make_sampler(seed=self.seed + on_record)
        # a finished study launches no job, and so creates no sweep directory for optimization_results.yaml
        Path(str(impl.sweep_dir)).mkdir(parents=True, exist_ok=True)
        return impl.sweep(arguments)


def resume(storage: str, study_name: Optional[str]) -> tuple[int, int]:
    """(trials on record, COMPLETE trials) of a stored study, after marking its RUNNING trials FAIL; (0, 0) if
    there is no such study yet."""
    import optuna

    try:
        study = optuna.load_study(study_name=study_name, storage=storage)
    except KeyError:  # no study of that name yet
        return 0, 0
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        study._storage.set_trial_state(trial._trial_id, optuna.trial.TrialState.FAIL)
        log.warning("study %s: trial %d was left running by an interrupted sweep; marked FAIL", study_name,
                    trial.number)
    trials = study.get_trials(deepcopy=False)
    return len(trials), sum(t.state == optuna.trial.TrialState.COMPLETE for t in trials)


def _make_sqlite_dir(storage: str) -> None:
    prefix = "sqlite:///"
    if storage.startswith(prefix) and storage[len(prefix):] not in ("", ":memory:"):
        Path(storage[len(prefix):]).parent.mkdir(parents=True, exist_ok=True)


__all__ = ["ResumableOptunaSweeper", "ResumableOptunaSweeperConf", "resume"]
