"""Run a plan: compute what is missing, reuse what is cached, record everything, report.

``run_plan`` walks the plan in dependency order. A job whose cache entry exists and verifies is
*cached* (not run again); any other job whose dependencies are done is submitted to the
executor, and the driver waits for any completion before submitting more. After a job is done
(run now or found in the cache) its ``record`` function is called in the driver with
``(entry_path, db, job)`` — the driver is the only writer of the results database.

A job that raises is *failed*: its error and traceback are in the report. With
``keep_going=True`` everything that does not depend on it still runs and its dependents are
*skipped*; with ``keep_going=False`` nothing new is started (running jobs finish) and every job
not done is skipped. Ctrl-C stops submitting, interrupts running jobs, keeps their staging
directories (a rerun resumes them), prints what finished and re-raises ``KeyboardInterrupt``.
"""

from __future__ import annotations

import contextlib
import heapq
import signal
import sys
import threading
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simfunc.errors import InputError
from simfunc.progress import LineProgress
from simfunc.runner.context import JobSettings
from simfunc.runner.executors import Executor, LocalExecutor
from simfunc.runner.plan import Job, Plan, resolve_callable
from simfunc.runner.task import FAILED, RUN, JobTask
from simfunc.store.cache import Cache

__all__ = ["run_plan", "run_plans", "RunReport", "JobFailure", "JobsFailed"]

STATUSES = ("run", "cached", "failed", "skipped")


class JobsFailed(RuntimeError):
    """Raised by :meth:`RunReport.raise_for_failures` when jobs failed or were skipped."""


@dataclass(frozen=True)
class JobFailure:
    """Why a job failed: the error in one line and the full traceback."""

    job_id: str
    error: str
    traceback: str


@dataclass
class RunReport:
    """The outcome of :func:`run_plan`.

    ``status`` maps every job id to "run", "cached", "failed" or "skipped"; ``entries`` maps
    each done job to its cache entry; ``failures`` and ``skip_reasons`` say why;
    ``seconds`` is each run job's compute time (wall), ``cpu_seconds`` the CPU time of the
    process that ran it meanwhile; ``wall_time`` the whole run's.
    """

    status: dict[str, str] = field(default_factory=dict)
    entries: dict[str, Path] = field(default_factory=dict)
    failures: dict[str, JobFailure] = field(default_factory=dict)
    skip_reasons: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    wall_time: float = 0.0

    def _count(self, status: str) -> int:
        return sum(1 for value in self.status.values() if value == status)

    @property
    def run(self) -> int:
        return self._count("run")

    @property
    def cached(self) -> int:
        return self._count("cached")

    @property
    def failed(self) -> int:
        return self._count("failed")

    @property
    def skipped(self) -> int:
        return self._count("skipped")

    @property
    def ok(self) -> bool:
        """True when every job is done (run or cached)."""
        return self.failed == 0 and self.skipped == 0

    def summary(self) -> str:
        """Counts in one line, then one line per failed job."""
        lines = [
            f"{len(self.status)} jobs: {self.run} run, {self.cached} cached, {self.failed} "
            f"failed, {self.skipped} skipped in {self.wall_time:.1f} s"
        ]
        lines += [
            f"  failed {job_id}: {failure.error}" for job_id, failure in self.failures.items()
        ]
        return "\n".join(lines)

    def raise_for_failures(self) -> None:
        """Raise :class:`JobsFailed` (with the summary and first traceback) unless ``ok``."""
        if self.ok:
            return
        detail = ""
        if self.failures:
            detail = "\n\nfirst failure:\n" + next(iter(self.failures.values())).traceback
        raise JobsFailed(self.summary() + detail)


class _Driver:
    """The state of one run_plan call."""

    def __init__(
        self,
        plan: Plan,
        cache: Cache,
        executor: Executor,
        settings: JobSettings,
        progress: bool,
        keep_going: bool,
        parts: Sequence[tuple[frozenset[str], Any]],
        on_part_done: Callable[[int, RunReport], None] | None,
    ) -> None:
        self.plan, self.cache, self.executor = plan, cache, executor
        self.settings, self.keep_going = settings, keep_going
        # the plan may be several plans run as one (run_plans): each part has its own jobs
        # and database (run_plan: one part, the whole plan), and is reported as soon as its
        # last job is settled
        self.part_of = {job_id: index for index, (ids, _) in enumerate(parts) for job_id in ids}
        self.part_ids = [ids for ids, _ in parts]
        self.part_dbs = [part_db for _, part_db in parts]
        self.part_left = [len(ids) for ids in self.part_ids]
        self.on_part_done = on_part_done
        self.started = time.perf_counter()
        self.report = RunReport(status={})
        self.position = {job_id: index for index, job_id in enumerate(plan.order)}
        self.waiting_deps = {job.id: len(job.deps) for job in plan}
        self.ready: list[tuple[int, str]] = [
            (self.position[job_id], job_id)
            for job_id, count in self.waiting_deps.items()
            if not count
        ]
        heapq.heapify(self.ready)
        self.runnable: list[tuple[int, str]] = []
        self.queued_keys: set[str] = set()  # keys runnable or in flight
        self.same_key: dict[str, list[str]] = defaultdict(list)  # key -> jobs waiting on its twin
        self.in_flight: dict[Any, str] = {}
        # jobs lost with a dying worker: retried one at a time, alone, to find the culprit
        self.suspects: list[tuple[int, str]] = []
        # ... some of them after committing their artifact (the pool broke before the result
        # came back): their retry finds it, and reports it run, not cached, since it was not
        # in the cache when this run scheduled it
        self.lost_attempts: set[str] = set()
        self.solo: str | None = None
        self.stopping = False
        self.counts: Counter[str] = Counter()
        self.bar = _plan_bar(len(plan), progress, executor.bar_backend)
        # not a terminal: a line per job that ran or failed (cached ones at most every few s)
        self.lines = progress and isinstance(self.bar, LineProgress)

    # -- bookkeeping ---------------------------------------------------------------------------

    def settle(self, job_id: str, status: str, entry: Path | None = None) -> None:
        """Give a job its final status, record it, and release or skip its dependents."""
        job = self.plan[job_id]
        if status in ("run", "cached") and entry is not None:
            try:
                self.record(job, entry)
            except Exception as error:
                self.report.failures[job_id] = JobFailure(
                    job_id,
                    f"record failed: {type(error).__name__}: {error}",
                    traceback.format_exc(),
                )
                status = "failed"
            else:
                self.report.entries[job_id] = entry
        self.report.status[job_id] = status
        self.part_settled(job_id)
        self.counts[status] += 1
        self.bar.set_postfix({name: self.counts[name] for name in STATUSES}, refresh=False)
        if self.lines and status in ("run", "failed"):
            self.bar.advance(1, self.finished_line(job, status))
        else:
            self.bar.update(1)
        if status == "skipped":
            return
        twins = self.same_key.pop(self.plan.key(job_id), [])
        if status in ("run", "cached"):
            for twin in twins:  # identical work: the entry exists now, they will find it
                heapq.heappush(self.ready, (self.position[twin], twin))
            for dependent in self.plan.dependents(job_id):
                self.waiting_deps[dependent] -= 1
                if self.waiting_deps[dependent] == 0:
                    heapq.heappush(self.ready, (self.position[dependent], dependent))
            return
        if status == "failed" and not self.keep_going:
            self.stopping = True
        doomed = [
            (twin, f"it computes the same artifact as {job_id!r}, which failed") for twin in twins
        ]
        doomed += [
            (dep, f"its dependency {job_id!r} {status}") for dep in self.plan.dependents(job_id)
        ]
        for doomed_id, reason in doomed:  # settle() of a skipped job returns at once
            self.skip(doomed_id, reason)

    def finished_line(self, job: Job, status: str) -> str:
        """``label: run in 4.2 s; 12/130 jobs done (10 run, 2 cached, ...), 35.0 s`` ."""
        seconds = self.report.seconds.get(job.id)
        took = f" in {seconds:.1f} s" if seconds is not None else ""
        counts = ", ".join(f"{self.counts[name]} {name}" for name in STATUSES)
        done = sum(self.counts.values())  # this job included
        return (f"{job.label}: {status}{took}; {done}/{len(self.plan)} jobs done ({counts}), "
                f"{self.bar.elapsed:.1f} s")

    def skip(self, job_id: str, reason: str) -> None:
        """Skip ``job_id`` and, transitively, everything downstream of it (iteratively)."""
        pending = [(job_id, reason)]
        while pending:
            current, why = pending.pop()
            if current in self.report.status:
                continue
            self.report.skip_reasons[current] = why
            self.settle(current, "skipped")
            pending += [
                (dependent, f"its dependency {current!r} skipped")
                for dependent in self.plan.dependents(current)
            ]

    def record(self, job: Job, entry: Path) -> None:
        db = self.part_dbs[self.part_of[job.id]]
        if db is not None and job.record is not None:
            resolve_callable(job.record)(entry, db, job)

    def part_settled(self, job_id: str) -> None:
        """Count a settled job against its part; report the part once all of it is settled."""
        index = self.part_of[job_id]
        self.part_left[index] -= 1
        if self.part_left[index] == 0 and self.on_part_done is not None:
            self.on_part_done(index, self.part_report(index))

    def part_report(self, index: int) -> RunReport:
        """The report of part ``index`` alone (its wall time: from the start to its end)."""
        report = _subset(self.report, self.part_ids[index])
        report.wall_time = time.perf_counter() - self.started
        return report

    def fail(self, job_id: str, error: str, trace: str) -> None:
        self.report.failures[job_id] = JobFailure(job_id, error, trace)
        self.settle(job_id, "failed")

    # -- the loop ------------------------------------------------------------------------------

    def schedule(self) -> None:
        """Settle cached jobs and submit runnable ones, as far as capacity allows."""
        while self.ready and not self.stopping:
            _, job_id = heapq.heappop(self.ready)
            job, key = self.plan[job_id], self.plan.key(job_id)
            if key in self.queued_keys:  # an identical job is queued or running: wait for it
                self.same_key[key].append(job_id)
                continue
            try:
                entry = self.cache.lookup(job.namespace, key, verify=self.settings.verify)
            except Exception as error:
                self.fail(job_id, f"{type(error).__name__}: {error}", traceback.format_exc())
                continue
            if entry is not None:
                self.settle(job_id, "cached", entry)
            else:
                heapq.heappush(self.runnable, (self.position[job_id], job_id))
                self.queued_keys.add(key)
        if self.suspects:
            if not self.in_flight and not self.stopping:
                _, job_id = heapq.heappop(self.suspects)
                self.solo = job_id
                self.submit(job_id)
            return
        while self.runnable and not self.stopping and len(self.in_flight) < self.executor.capacity:
            _, job_id = heapq.heappop(self.runnable)
            self.submit(job_id)

    def submit(self, job_id: str) -> None:
        job, key = self.plan[job_id], self.plan.key(job_id)
        inputs = {dep: str(self.report.entries[dep]) for dep in job.deps}
        task = JobTask(job, key, str(self.cache.root), inputs, self.settings)
        self.in_flight[self.executor.submit(task)] = job_id
        if not self.lines:  # a bar shows the job last started; a line names the job it is about
            self.bar.set_description_str(_short(job.label), refresh=False)

    def collect(self) -> None:
        """Wait for at least one running job and settle what finished."""
        for handle in self.executor.wait_any(list(self.in_flight)):
            job_id = self.in_flight.pop(handle)
            result = self.executor.result(handle)
            alone = self.solo == job_id
            if alone:
                self.solo = None
            if result.worker_lost and not alone:  # maybe another job's crash: retry it alone
                heapq.heappush(self.suspects, (self.position[job_id], job_id))
                self.lost_attempts.add(job_id)
                continue
            self.queued_keys.discard(self.plan.key(job_id))
            if result.outcome == FAILED:
                self.fail(job_id, result.error or "failed", result.traceback or "")
                continue
            if result.outcome == RUN:
                self.report.seconds[job_id] = result.seconds
                self.report.cpu_seconds[job_id] = result.cpu_seconds
            # found by the retry of a lost attempt: that attempt committed it in this run
            computed = result.outcome == RUN or job_id in self.lost_attempts
            self.settle(job_id, "run" if computed else "cached", Path(result.entry))

    def run(self) -> RunReport:
        while True:
            self.schedule()
            if not self.in_flight:
                break
            self.collect()
        for job_id in self.plan.order:  # only when stopping after a failure
            self.skip(job_id, "not started: a job failed and keep_going is False")
        self.bar.set_description_str("jobs", refresh=False)
        return self.report

    def interrupted_summary(self) -> str:
        running = [self.plan[job_id].label for job_id in self.in_flight.values()]
        report = self.report
        not_started = len(self.plan) - len(report.status) - len(running)
        lines = [
            f"interrupted: {report.run} run, {report.cached} cached, {report.failed} failed, "
            f"{report.skipped} skipped, {len(running)} interrupted while running, "
            f"{not_started} not started",
        ]
        if running:
            lines.append("  interrupted: " + ", ".join(running))
        lines.append(
            "  partial outputs are kept in the cache's staging directories; rerun to resume"
        )
        return "\n".join(lines)


def _short(text: str, width: int = 32) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _plan_bar(total: int, progress: bool, backend: str) -> Any:
    from simfunc.progress import progress_bar

    return progress_bar(total=total, desc="jobs", unit="job", leave=True, position=0,
                        disable=not progress, backend=backend, dynamic_ncols=True)


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """While a plan runs, SIGTERM (``kill``, a batch system's time limit) stops it as Ctrl-C
    does: running jobs are interrupted, their workers stopped (not left running, orphaned),
    finished jobs kept. Only the main thread can install a signal handler; elsewhere nothing
    changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_plan(
    plan: Plan,
    cache: Cache,
    db: Any = None,
    executor: Executor | None = None,
    progress: bool = True,
    keep_going: bool = True,
    device: str = "cpu",
    verify: bool = True,
) -> RunReport:
    """Run ``plan`` against ``cache`` and return a :class:`RunReport` (see the module docstring).

    Parameters
    ----------
    db:
        A ``ResultsDB`` (or anything the plan's ``record`` functions accept); without one the
        ``record`` functions are not called.
    executor:
        Where jobs run; default a :class:`LocalExecutor` (in this process, one at a time). An
        executor passed in is not shut down (unless interrupted), so it can serve several plans.
    progress:
        Show one bar for the plan (jobs done / total, run / cached / failed counts) and the
        running jobs' own bars below it, wherever the executor runs them.
    device:
        Handed to every job as ``ctx.device``.
    verify:
        Re-hash cache entries before reusing them (a damaged entry is recomputed).
    """
    if not isinstance(plan, Plan):
        raise InputError(f"plan must be a Plan, got {type(plan).__name__}")
    return _run(plan, [(frozenset(plan.order), db)], None, cache, executor, progress,
                keep_going, device, verify)


def run_plans(
    plans: Sequence[Plan],
    cache: Cache,
    dbs: Sequence[Any] | None = None,
    executor: Executor | None = None,
    progress: bool = True,
    keep_going: bool = True,
    device: str = "cpu",
    verify: bool = True,
    on_plan_done: Callable[[int, RunReport], None] | None = None,
) -> list[RunReport]:
    """Run several plans as one, so that no worker waits while any plan has work: the jobs of
    an earlier plan go first whenever they are ready, later plans' jobs fill the free
    workers. Returns one :class:`RunReport` per plan.

    ``dbs``: each plan's database (its jobs' ``record`` functions get it), or None.
    ``on_plan_done(index, report)`` is called in this thread as soon as every job of plan
    ``index`` is settled (run, cached, failed or skipped), with that plan's report: e.g. to
    start its analysis while the other plans' jobs run. Job ids must be unique across the
    plans; jobs of different plans with the same key are computed once. A failed job skips
    its dependents in its own plan only (with ``keep_going``). Otherwise as :func:`run_plan`.
    """
    plans = list(plans)
    for index, plan in enumerate(plans):
        if not isinstance(plan, Plan):
            raise InputError(f"plans[{index}] must be a Plan, got {type(plan).__name__}")
    if not plans:
        raise InputError("plans must hold at least one plan")
    dbs = [None] * len(plans) if dbs is None else list(dbs)
    if len(dbs) != len(plans):
        raise InputError(f"dbs must hold one database per plan ({len(plans)}), got {len(dbs)}")
    merged = Plan([job for plan in plans for job in plan])
    parts = [(frozenset(plan.order), db) for plan, db in zip(plans, dbs)]
    reports: dict[int, RunReport] = {}

    def done(index: int, report: RunReport) -> None:
        reports[index] = report
        if on_plan_done is not None:
            on_plan_done(index, report)

    whole = _run(merged, parts, done, cache, executor, progress, keep_going, device, verify)
    return [reports.get(index) or _subset(whole, parts[index][0]) for index in range(len(plans))]


def _subset(report: RunReport, ids: frozenset[str]) -> RunReport:
    def mine(values: dict[str, Any]) -> dict[str, Any]:
        return {job_id: value for job_id, value in values.items() if job_id in ids}

    return RunReport(status=mine(report.status), entries=mine(report.entries),
                     failures=mine(report.failures), skip_reasons=mine(report.skip_reasons),
                     seconds=mine(report.seconds), cpu_seconds=mine(report.cpu_seconds),
                     wall_time=report.wall_time)


def _run(
    plan: Plan,
    parts: Sequence[tuple[frozenset[str], Any]],
    on_part_done: Callable[[int, RunReport], None] | None,
    cache: Cache,
    executor: Executor | None,
    progress: bool,
    keep_going: bool,
    device: str,
    verify: bool,
) -> RunReport:
    if not isinstance(cache, Cache):
        raise InputError(f"cache must be a Cache, got {type(cache).__name__}")
    if executor is not None and not isinstance(executor, Executor):
        raise InputError(f"executor must be an Executor, got {type(executor).__name__}")
    if not isinstance(device, str) or not device:
        raise InputError(f"device must be a non-empty string such as 'cpu', got {device!r}")
    owned = executor is None
    executor = executor or LocalExecutor()
    settings = JobSettings(
        device=device,
        progress=bool(progress),
        limit_threads=True,
        verify=bool(verify),
    )
    driver = _Driver(plan, cache, executor, settings, bool(progress), bool(keep_going), parts,
                     on_part_done)
    started = time.perf_counter()
    try:
        with _terminate_as_interrupt():
            report = driver.run()
    except KeyboardInterrupt:
        executor.shutdown(cancel=True)
        driver.bar.close()
        print(driver.interrupted_summary(), file=sys.stderr, flush=True)
        raise
    finally:
        driver.report.wall_time = time.perf_counter() - started
        driver.bar.close()
    if owned:
        executor.shutdown()
    return report
