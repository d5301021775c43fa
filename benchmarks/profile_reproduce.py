"""Where a quick reproduce spends its time: per stage, per study.

    python benchmarks/profile_reproduce.py --cache-dir /tmp/prof-cache --out /tmp/prof-runs \
        [--profile quick] [--jobs 2] [--cprofile FILE.pstats]

Runs ``simfunc.reproduce.reproduce`` exactly as ``simfunc reproduce --profile quick --jobs 2
--no-progress`` does, with timing hooks wrapped around the stages (nothing in simfunc is
changed; the hooks wrap module attributes in this process only):

* **jobs** — every job's compute time from the run report (``RunReport.seconds``: the time
  inside the worker, lock to commit), summed per kind of job (the job function: training,
  PPO, rollouts, extraction, comparisons, ...), and when each study's jobs were done (the
  studies' jobs run as one plan, ``run_studies_jobs``);
* **analysis** — each study's ``analyse_run`` (its statistics, tables, figures, report; in a
  second thread of the driver, beside the jobs, so its CPU is that thread's), with
  the figure rendering inside it (``simfunc.figures.save_figure`` plus matplotlib's
  ``tight_layout``) and the statistics inside it (``simfunc.stats``'s permutation and bootstrap
  functions) broken out;
* **combined** — the leaderboard (its statistics and heatmap broken out) and the combined
  report.

Run it twice on the same cache: the first run is cold (every job computed), the second finds
every job cached and measures the rerun cost. ``--cprofile`` also writes a cProfile of the
driver process (jobs in worker processes are not in it; ``--jobs 1`` puts them there).
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import sys
import threading
import time
from collections import defaultdict
from typing import Any, Callable

TIMES: dict[str, float] = defaultdict(float)
CPU: dict[str, float] = defaultdict(float)
CALLS: dict[str, int] = defaultdict(int)
_local = threading.local()  # each thread's stack of open stages


def _stack() -> list[str]:
    if not hasattr(_local, "stack"):
        _local.stack = []
    return _local.stack


def _timed(name: Callable[..., str] | str, function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` that adds its wall time to TIMES[label] (outermost call only per label)."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        label = name(*args, **kwargs) if callable(name) else name
        stack = _stack()
        if label in stack:  # nested call of the same stage: counted by the outer one
            return function(*args, **kwargs)
        stack.append(label)
        started, started_cpu = time.perf_counter(), time.thread_time()
        try:
            return function(*args, **kwargs)
        finally:
            TIMES[label] += time.perf_counter() - started
            CPU[label] += time.thread_time() - started_cpu
            CALLS[label] += 1
            stack.remove(label)

    return wrapper


def _current_study() -> str:
    for label in reversed(_stack()):
        if label.startswith("study "):
            return label.split()[1]
    return "combined"


def _in_study(kind: str) -> Callable[..., str]:
    return lambda *a, **k: f"{_current_study()}: {kind}"


def install_hooks() -> None:
    import matplotlib.figure

    import simfunc.figures as figures
    import simfunc.leaderboard as leaderboard
    import simfunc.reproduce as reproduce
    import simfunc.stats as stats
    import simfunc.studies.framework as framework

    # reproduce runs a study's jobs in the driver thread and its analysis in a second thread,
    # overlapping the next study's jobs; each thread keeps its own stack of stages, and CPU
    # seconds are the thread's own (time.thread_time)
    reproduce.run_studies_jobs = _timed("jobs of every study (one plan)",
                                        reproduce.run_studies_jobs)
    reproduce.analyse_study_run = _timed(lambda ran: f"study {ran.study.NAME} (analysis thread)",
                                         reproduce.analyse_study_run)
    framework.analyse_run = _timed(_in_study("analysis (all)"), framework.analyse_run)
    figures.save_figure = _timed(_in_study("figures: save_figure"), figures.save_figure)
    matplotlib.figure.Figure.tight_layout = _timed(
        _in_study("figures: tight_layout"), matplotlib.figure.Figure.tight_layout)
    matplotlib.figure.Figure.savefig = _timed(
        _in_study("figures: savefig"), matplotlib.figure.Figure.savefig)
    for name in ("permutation_pvalue", "bootstrap_ci", "network_permutation_pvalue",
                 "network_bootstrap_ci", "relate", "relate_networks"):
        if hasattr(stats, name):
            setattr(stats, name, _timed(_in_study(f"statistics: {name}"), getattr(stats, name)))
    reproduce.write_leaderboard = _timed("combined: leaderboard (all)",
                                         reproduce.write_leaderboard)
    reproduce.write_report = _timed("combined: report", reproduce.write_report)
    _ = leaderboard  # imported so its module-level imports are in place before the run


def job_kind(fn: str) -> str:
    """A short name for a job function ``package.module:function``."""
    module, _, function = fn.partition(":")
    return f"{module.rsplit('.', 1)[-1]}:{function}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--studies", default=None)
    parser.add_argument("--cprofile", default=None, help="write a cProfile of this process")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    import simfunc.reproduce

    install_hooks()
    import_seconds = time.perf_counter() - started
    profiler = cProfile.Profile() if args.cprofile else None
    if profiler:
        profiler.enable()
    run_started = time.perf_counter()
    _, results = simfunc.reproduce.reproduce(
        args.profile, studies=args.studies.split(",") if args.studies else None,
        out=args.out, cache_dir=args.cache_dir, jobs=args.jobs, progress=False)
    total = time.perf_counter() - run_started
    if profiler:
        profiler.disable()
        profiler.dump_stats(args.cprofile)

    from simfunc.machine import this_machine

    print(f"# machine: {this_machine().describe()}")
    print(f"quick reproduce: {total:.1f} s (+ {import_seconds:.1f} s importing simfunc), "
          f"--jobs {args.jobs}")
    job_seconds: dict[str, float] = defaultdict(float)
    job_cpu: dict[str, float] = defaultdict(float)
    job_counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for result in results:
        report = result.report
        if report is None:
            continue
        # a job's kind: its function; the plan is not in the report, so read the jobs back
        for job_id, status in report.status.items():
            kind = _KINDS.get(job_id, job_id.split("/")[0])
            job_counts[kind][0 if status == "run" else 1] += 1
            job_seconds[kind] += report.seconds.get(job_id, 0.0)
            job_cpu[kind] += getattr(report, "cpu_seconds", {}).get(job_id, 0.0)
    print("\njobs, summed over jobs (wall and CPU seconds inside the workers; runs, cached):")
    for kind, seconds in sorted(job_cpu.items(), key=lambda item: -item[1]):
        run, cached = job_counts[kind]
        print(f"  {job_seconds[kind]:8.1f} s wall {seconds:8.1f} s CPU  {kind}  "
              f"({run} run, {cached} cached)")
    print(f"  {sum(job_seconds.values()):8.1f} s wall {sum(job_cpu.values()):8.1f} s CPU  "
          "all jobs")
    print("\neach study's jobs done, seconds after the start (they run as one plan):")
    for result in results:
        if result.report is not None:
            print(f"  {result.report.wall_time:8.1f} s  {result.name}")
    print("\nstages in this process (wall and CPU seconds):")
    for label, seconds in sorted(TIMES.items()):
        print(f"  {seconds:8.1f} s wall {CPU[label]:8.1f} s CPU  {label}  ({CALLS[label]} calls)")
    cpu = time.process_time()
    print(f"\nthis process: {cpu:.1f} s CPU in all; run wall time {total:.1f} s")
    return 0


_KINDS: dict[str, str] = {}


def _remember_kinds() -> None:
    """Map job ids to their function's short name as plans are made."""
    import simfunc.studies.framework as framework

    original = framework.run_plans

    @functools.wraps(original)
    def run_plans(plans: Any, *args: Any, **kwargs: Any) -> Any:
        for plan in plans:
            for job in plan:
                _KINDS[job.id] = job_kind(job.fn)
        return original(plans, *args, **kwargs)

    framework.run_plans = run_plans


if __name__ == "__main__":
    import simfunc.studies.framework  # noqa: F401

    _remember_kinds()
    sys.exit(main())
