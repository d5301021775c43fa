"""The unit an executor ships to a worker, and the function that runs it there.

:func:`execute_task` is the whole worker side of the runner: it takes the job's lock in the
cache, checks whether another process committed the entry meanwhile, prepares the staging
directory, imports and calls the job function, and commits. It never raises for a failing job:
the error and its traceback come back in the :class:`TaskResult`, which is small and picklable
(nothing big travels back to the driver; the outputs are in the cache). Only
``KeyboardInterrupt`` and other non-``Exception`` signals propagate.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from simfunc.runner.context import JobContext, JobSettings
from simfunc.runner.plan import Job, resolve_callable
from simfunc.store.cache import Cache

__all__ = ["JobTask", "TaskResult", "execute_task", "THREAD_VARIABLES"]

RUN, FOUND, FAILED = "run", "found", "failed"

THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)


@dataclass(frozen=True)
class JobTask:
    """Everything a worker needs to run one job (picklable, small)."""

    job: Job
    key: str
    cache_root: str
    inputs: dict[str, str] = field(default_factory=dict)  # dep id -> committed entry path
    settings: JobSettings = field(default_factory=JobSettings)


@dataclass(frozen=True)
class TaskResult:
    """How a task ended: ``outcome`` is "run" (computed and committed), "found" (another
    process committed it first) or "failed" (``error`` and ``traceback`` say why).

    ``worker_lost`` marks a failure where the process running the task died (and possibly took
    other tasks with it); the runner then retries the task on its own to find the culprit.
    ``seconds`` is the task's wall time, ``cpu_seconds`` the CPU time of the process running
    it meanwhile (all its threads): on a shared machine the second says what the job costs.
    """

    job_id: str
    outcome: str
    entry: str | None = None
    seconds: float = 0.0
    error: str | None = None
    traceback: str | None = None
    worker_lost: bool = False
    cpu_seconds: float = 0.0


@contextlib.contextmanager
def _thread_limits(cpus: int) -> Iterator[None]:
    """Limit BLAS/OpenMP/torch threads to ``cpus`` while the job runs, then restore them.

    Every job runs under its declared ``cpus``, in the driver too: on a busy machine an OpenMP
    thread that waits for a core held by another job spins, and small models train 10-80x
    slower than with one thread (measured in benchmarks/train.py). Parallelism comes from
    running several jobs at once (``--jobs``), not from threads inside a job.
    """
    saved_environment = {variable: os.environ.get(variable) for variable in THREAD_VARIABLES}
    for variable in THREAD_VARIABLES:
        os.environ[variable] = str(cpus)  # read by libraries the job imports for the first time
    torch = sys.modules.get("torch")
    torch_threads = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(cpus)
    try:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # scikit-learn brings it; without it the variables above still apply
            yield
            return
        with threadpool_limits(limits=cpus):
            yield
    finally:
        for variable, value in saved_environment.items():
            if value is None:
                os.environ.pop(variable, None)
            else:
                os.environ[variable] = value
        torch = sys.modules.get("torch")
        if torch is not None:
            torch.set_num_threads(torch_threads if torch_threads is not None else cpus)


def execute_task(task: JobTask) -> TaskResult:
    """Run one job in this process (see the module docstring)."""
    started, started_cpu = time.perf_counter(), time.process_time()
    job = task.job
    cache = Cache(task.cache_root)
    try:
        with cache.lock(job.namespace, task.key):
            found = cache.lookup(job.namespace, task.key, verify=task.settings.verify)
            if found is not None:
                return TaskResult(job.id, FOUND, str(found), time.perf_counter() - started,
                                  cpu_seconds=time.process_time() - started_cpu)
            staging = cache.prepare_staging(job.namespace, task.key)
            function = resolve_callable(job.fn)
            context = JobContext(job, task.key, cache, staging, task.inputs, task.settings)
            limits = (
                _thread_limits(max(1, int(job.resources.get("cpus", 1))))
                if task.settings.limit_threads
                else contextlib.nullcontext()
            )
            with limits:
                function(context)
            entry = cache.commit(
                staging,
                fn=job.fn,
                config=job.config,
                inputs={dep: Path(path).name for dep, path in task.inputs.items()},
            )
    except Exception as error:
        return TaskResult(
            job.id,
            FAILED,
            None,
            time.perf_counter() - started,
            error=f"{type(error).__name__}: {error}",
            traceback=traceback.format_exc(),
        )
    return TaskResult(job.id, RUN, str(entry), time.perf_counter() - started,
                      cpu_seconds=time.process_time() - started_cpu)
