"""Executors: where jobs run. The runner talks to them through four methods only.

The interface (:class:`Executor`)
--------------------------------
``capacity``
    How many tasks the runner keeps in flight at once (it submits no more than that).
``submit(task: JobTask) -> handle``
    Start or queue the task and return an opaque handle at once.
``wait_any(handles) -> list[handle]``
    Block until at least one of ``handles`` is done; return the done ones.
``result(handle) -> TaskResult``
    The result of a done handle. Never raises for a failing job (the worker catches job errors
    into the result); a worker that *died* (killed, out of memory, ``os._exit``) also becomes a
    failed ``TaskResult`` with ``worker_lost=True``, so the runner can carry on: it retries such
    tasks one at a time, alone, and fails only the one that dies on its own. An executor whose
    workers run one task each and that retries lost tasks itself (Ray) reports a death it has
    given up on with ``worker_lost=False``: the culprit is known and nothing is retried again.
``shutdown(cancel=False)``
    Release workers. With ``cancel`` (Ctrl-C), drop queued tasks and interrupt running ones
    without waiting for them to finish; their staging directories stay, so a rerun resumes.
``bar_backend``
    How jobs' progress bars reach the screen: ``"tqdm"`` (the driver's terminal: jobs run in the
    driver, or in worker processes that draw on their own lines under a shared lock) or
    ``"ray"`` (Ray's distributed tqdm; the driver draws). See :mod:`simfunc.progress`.

Every executor runs a task by calling :func:`simfunc.runner.task.execute_task` on it, in some
process. :class:`simfunc.runner.ray_executor.RayExecutor` runs it as a Ray task (the cache root
must then be on a file system every Ray node sees).

Implementations here: :class:`LocalExecutor` (in the driver, one job at a time; the default)
and :class:`ProcessExecutor` (a pool of ``spawn``-ed worker processes: torch and ``fork`` do
not mix).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import multiprocessing
import os
import signal
from abc import ABC, abstractmethod
from collections.abc import Collection
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from simfunc.errors import InputError
from simfunc.runner.task import FAILED, THREAD_VARIABLES, JobTask, TaskResult, execute_task

__all__ = ["Executor", "LocalExecutor", "ProcessExecutor"]

logger = logging.getLogger(__name__)


class Executor(ABC):
    """Runs tasks somewhere; see the module docstring for the contract."""

    bar_backend: str = "tqdm"

    @property
    @abstractmethod
    def capacity(self) -> int:
        """Tasks the runner may keep in flight at once."""

    @abstractmethod
    def submit(self, task: JobTask) -> Any:
        """Start or queue ``task``; return a handle."""

    @abstractmethod
    def wait_any(self, handles: Collection[Any]) -> list[Any]:
        """Block until at least one handle is done; return the done handles."""

    @abstractmethod
    def result(self, handle: Any) -> TaskResult:
        """The TaskResult of a done handle (never raises for job or worker failures)."""

    @abstractmethod
    def shutdown(self, cancel: bool = False) -> None:
        """Release the workers; with ``cancel`` drop queued tasks and interrupt running ones."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self.shutdown(cancel=exc_type is not None)


class _LocalHandle:
    __slots__ = ("task", "outcome")

    def __init__(self, task: JobTask) -> None:
        self.task = task
        self.outcome: TaskResult | None = None


class LocalExecutor(Executor):
    """Runs jobs one at a time inside the driver process, when the runner waits for them.

    Simple and debuggable (breakpoints and tracebacks work as usual); Ctrl-C interrupts the job
    itself. The default executor.
    """

    @property
    def capacity(self) -> int:
        return 1

    def submit(self, task: JobTask) -> _LocalHandle:
        return _LocalHandle(task)

    def wait_any(self, handles: Collection[_LocalHandle]) -> list[_LocalHandle]:
        done = [handle for handle in handles if handle.outcome is not None]
        if done:
            return done
        if not handles:
            raise ValueError("wait_any needs at least one handle")
        handle = next(iter(handles))
        handle.outcome = execute_task(handle.task)
        return [handle]

    def result(self, handle: _LocalHandle) -> TaskResult:
        if handle.outcome is None:
            raise ValueError(f"task {handle.task.job.id!r} has not run yet")
        return handle.outcome

    def shutdown(self, cancel: bool = False) -> None:
        """Nothing to release: jobs run in this process."""


def _initialize_worker(
    threads: int, log_level: int, bar_lock: Any = None, bar_lines: Any = None, n_lines: int = 1
) -> None:
    """Runs first in every worker: thread limits before numpy/torch load, logging, and the
    line its progress bars take below the plan's bar (a shared counter hands out lines)."""
    for variable in THREAD_VARIABLES:
        os.environ.setdefault(variable, str(threads))
    # Ctrl-C reaches running jobs as SIGINT from the driver (ProcessExecutor.shutdown). A driver
    # started in the background by a shell, or under nohup, hands its workers SIGINT *ignored*,
    # and such a worker would run on after the driver stopped: make it interruptible.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if bar_lines is not None:
        from simfunc.progress import place_bars

        with bar_lines.get_lock():
            bar_lines.value += 1
            line = 1 + (bar_lines.value - 1) % n_lines
        place_bars(position=line, lock=bar_lock)
    simfunc_logger = logging.getLogger("simfunc")
    simfunc_logger.setLevel(log_level)
    if not simfunc_logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(
            logging.Formatter(f"[worker {os.getpid()}] %(levelname)s %(name)s: %(message)s")
        )
        simfunc_logger.addHandler(handler)


class ProcessExecutor(Executor):
    """Runs up to ``n_workers`` jobs at once in worker processes (``--jobs N``).

    Workers are started with ``spawn`` (default) or ``forkserver``, never ``fork``. Each job's
    torch/BLAS threads are limited to its ``resources["cpus"]``. Job functions are imported by
    name in the workers, which inherit the driver's ``sys.path``. A worker that dies (killed, out
    of memory) breaks the pool and loses every job running in it; the pool is then replaced,
    and the runner retries the lost jobs one at a time so that only the culprit fails. GPUs are
    not scheduled: jobs use ``ctx.device``.
    """

    def __init__(self, n_workers: int = 2, start_method: str = "spawn") -> None:
        # validated without simfunc.validation, which imports numpy: workers import this module
        # before their thread limits are set, and BLAS reads those limits when numpy loads
        if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1:
            raise InputError(f"n_workers must be an integer >= 1, got {n_workers!r}")
        if start_method not in ("spawn", "forkserver"):
            raise InputError(
                f"start_method must be 'spawn' or 'forkserver' (torch and fork do not mix), "
                f"got {start_method!r}"
            )
        self.n_workers = n_workers
        self.start_method = start_method
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self._tasks: dict[concurrent.futures.Future, JobTask] = {}
        self._bar_lock: Any = None
        self._bar_lines: Any = None

    def __repr__(self) -> str:
        return f"ProcessExecutor(n_workers={self.n_workers}, start_method={self.start_method!r})"

    @property
    def capacity(self) -> int:
        return self.n_workers

    def _new_pool(self) -> concurrent.futures.ProcessPoolExecutor:
        threads = max(1, (os.cpu_count() or 1) // self.n_workers)
        context = multiprocessing.get_context(self.start_method)
        if self._bar_lock is None:
            # tqdm writes under this lock in the driver and in every worker (a lock made in the
            # driver's default 'fork' context cannot go to 'spawn'-ed workers)
            from tqdm.auto import tqdm

            from simfunc.progress import ScreenLock

            self._bar_lock = ScreenLock(context.RLock())
            self._bar_lines = context.Value("i", 0)
            tqdm.set_lock(self._bar_lock)
        return concurrent.futures.ProcessPoolExecutor(
            max_workers=self.n_workers,
            mp_context=context,
            initializer=_initialize_worker,
            initargs=(threads, logging.getLogger("simfunc").getEffectiveLevel(),
                      self._bar_lock, self._bar_lines, self.n_workers),
        )

    def submit(self, task: JobTask) -> concurrent.futures.Future:
        if self._pool is None:
            self._pool = self._new_pool()
        try:
            future = self._pool.submit(execute_task, task)
        except BrokenProcessPool:  # a worker died earlier: start a fresh pool
            logger.warning("the worker pool broke (a worker process died); starting a new one")
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new_pool()
            future = self._pool.submit(execute_task, task)
        self._tasks[future] = task
        return future

    def wait_any(
        self, handles: Collection[concurrent.futures.Future]
    ) -> list[concurrent.futures.Future]:
        if not handles:
            raise ValueError("wait_any needs at least one handle")
        done, _ = concurrent.futures.wait(handles, return_when=concurrent.futures.FIRST_COMPLETED)
        return list(done)

    def result(self, handle: concurrent.futures.Future) -> TaskResult:
        task = self._tasks.pop(handle)
        try:
            return handle.result()
        except BrokenProcessPool as error:
            message = (
                "the worker process running this job died (killed, out of memory, or the job "
                f"exited the process): {error}"
            )
            return TaskResult(
                task.job.id, FAILED, error=message, traceback=message, worker_lost=True
            )
        except concurrent.futures.CancelledError:
            message = "the job was cancelled before it started"
        except BaseException as error:
            message = f"the worker raised {type(error).__name__}: {error}"
        return TaskResult(task.job.id, FAILED, error=message, traceback=message)

    def shutdown(self, cancel: bool = False) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if not cancel:
            pool.shutdown(wait=True)
            return
        processes = list(getattr(pool, "_processes", {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:  # interrupt running jobs, as Ctrl-C in a terminal does
            if process.is_alive() and process.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGINT)
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join()
        self._tasks.clear()
