"""Independent jobs (retrains of the top-k, seeds) on an existing engine: in this process, in local worker
processes, or as Ray tasks.

``jobs.engine=local`` (default) runs them one after the other; ``processes`` in ``jobs.workers`` local worker
processes of ``jobs.cpus_per_job`` torch threads each (the function must be picklable). ``jobs.engine=ray``
(``pip install 'towernas[distributed]'``) runs them as Ray tasks: on a local Ray started with ``jobs.workers``
CPUs, or on the cluster at ``jobs.address`` (``auto``, ``ray://head:10001``). Each task gets ``jobs.cpus_per_job`` CPUs
(and as many torch threads) and, when ``jobs.gpus_per_job`` > 0, a GPU. Large shared inputs (the dataset) go
to Ray's object store once (``shared``); results come back in the order of the jobs, so a run is the same
whichever engine ran it. A job that raises fails the call with its own error, and an engine that is asked
for but not installed is a one-line error. ``on_result(i, result)``, if given, is called in the calling
process as each job finishes (local and processes: as soon as it does; ray: in order at the end), e.g. to record
it durably so a killed run loses only the running jobs.

Example:
    >>> run_jobs(pow, [(2, 3), (3, 2)], JobsSettings())
    [8, 9]
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, Callable, Sequence

from towernas.runs.errors import UserError

ENGINES = ("local", "processes", "ray")


@dataclass(frozen=True)
class JobsSettings:
    """``cfg.jobs`` (``towernas.config.run.JobsConfig``) as plain values."""

    engine: str = "local"
    address: str | None = None
    workers: int = 2
    cpus_per_job: float = 1.0
    gpus_per_job: float = 0.0

    @classmethod
    def from_config(cls, cfg) -> "JobsSettings":
        settings = cls(**{k: cfg[k] for k in ("engine", "address", "workers", "cpus_per_job", "gpus_per_job")})
        settings.check()
        return settings

    def check(self) -> None:
        if self.engine not in ENGINES:
            raise UserError(f"jobs.engine={self.engine!r}: expected one of {list(ENGINES)}")
        if self.workers < 1 or self.cpus_per_job <= 0 or self.gpus_per_job < 0:
            raise UserError(f"jobs.workers={self.workers}, jobs.cpus_per_job={self.cpus_per_job}, "
                            f"jobs.gpus_per_job={self.gpus_per_job}: expected >= 1, > 0 and >= 0")
        if self.engine == "ray":
            try:
                import ray  # noqa: F401
            except ImportError:
                raise UserError("jobs.engine=ray needs Ray: pip install 'towernas[distributed]'") from None


def run_jobs(fn: Callable[..., Any], jobs: Sequence[tuple], settings: JobsSettings,
             shared: dict[str, Any] | None = None,
             on_result: Callable[[int, Any], None] | None = None) -> list[Any]:
    """``[fn(*job, **shared) for job in jobs]`` on ``settings.engine``; ``shared``: keyword arguments every job
    receives (put into Ray's object store once); ``on_result(i, result)``: called as job ``i`` finishes."""
    shared, notify = shared or {}, on_result or (lambda i, result: None)
    if settings.engine == "local" or not jobs:
        results = []
        for i, job in enumerate(jobs):
            results.append(fn(*job, **shared))
            notify(i, results[-1])
        return results
    if settings.engine == "processes":
        return _run_processes(fn, jobs, settings, shared, notify)
    import ray

    started = not ray.is_initialized()
    if started:  # the workers import this checkout's code (on a cluster: install towernas there)
        ray.init(address=settings.address, num_cpus=None if settings.address else settings.workers,
                 include_dashboard=False, log_to_driver=True,
                 runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(_import_roots())}})
    try:
        refs = {k: ray.put(v) for k, v in shared.items()}
        task = ray.remote(num_cpus=settings.cpus_per_job, num_gpus=settings.gpus_per_job)(_call)
        threads = max(1, int(settings.cpus_per_job))
        results = ray.get([task.remote(fn, threads, job, refs) for job in jobs])
        for i, result in enumerate(results):
            notify(i, result)
        return results
    finally:
        if started:
            ray.shutdown()


def _run_processes(fn: Callable[..., Any], jobs: Sequence[tuple], settings: JobsSettings, shared: dict[str, Any],
                   notify: Callable[[int, Any], None]) -> list[Any]:
    """The jobs in ``settings.workers`` worker processes of ``cpus_per_job`` torch threads each; results in the
    order of the jobs (each job seeds itself, so which worker ran it does not matter)."""
    results: list[Any] = [None] * len(jobs)
    threads = max(1, int(settings.cpus_per_job))
    with ProcessPoolExecutor(settings.workers, initializer=_set_threads, initargs=(threads,)) as pool:
        futures = {pool.submit(fn, *job, **shared): i for i, job in enumerate(jobs)}
        for future in as_completed(futures):
            results[futures[future]] = future.result()
            notify(futures[future], results[futures[future]])
    return results


def _set_threads(threads: int) -> None:
    """A worker process's initializer: ``threads`` torch threads."""
    import torch

    torch.set_num_threads(threads)


def _call(fn, threads: int, job: tuple, shared: dict) -> Any:
    """One task: ``fn(*job, **shared)`` with ``threads`` torch threads (refs in ``shared`` arrive resolved only
    at the top level of a task's arguments, so they are fetched here)."""
    import ray
    import torch

    torch.set_num_threads(threads)
    return fn(*job, **{k: ray.get(v) for k, v in shared.items()})


def _import_roots() -> list[str]:
    """Where this checkout's packages are imported from, so Ray's workers import the same code."""
    import towernas

    return [os.path.dirname(os.path.dirname(os.path.abspath(towernas.__file__)))]
