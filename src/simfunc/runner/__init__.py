"""Plans of jobs and the executors that run them, on top of :mod:`simfunc.store`.

A study describes its work as a :class:`Plan` of :class:`Job` s (train X, extract Y, compare
pair Z); :func:`run_plan` computes what the cache lacks, reuses what it has, calls each job's
``record`` function so results reach the database, and returns a :class:`RunReport`. Jobs run
in the driver (:class:`LocalExecutor`), in worker processes (:class:`ProcessExecutor`), or as
Ray tasks on a local Ray instance or a cluster (:class:`RayExecutor`; Ray is imported only when
one is created: ``pip install simfunc[ray]``), all behind the same :class:`Executor` interface.

This package knows nothing about studies, networks or measures.
"""

from __future__ import annotations

from simfunc.runner.context import JobContext, JobSettings
from simfunc.runner.executors import Executor, LocalExecutor, ProcessExecutor
from simfunc.runner.plan import Job, Plan, resolve_callable
from simfunc.runner.ray_executor import RayExecutor
from simfunc.runner.run import JobFailure, JobsFailed, RunReport, run_plan, run_plans
from simfunc.runner.task import JobTask, TaskResult, execute_task

__all__ = [
    "Job",
    "Plan",
    "JobContext",
    "JobSettings",
    "Executor",
    "LocalExecutor",
    "ProcessExecutor",
    "RayExecutor",
    "JobTask",
    "TaskResult",
    "execute_task",
    "run_plan",
    "run_plans",
    "RunReport",
    "JobFailure",
    "JobsFailed",
    "resolve_callable",
]
