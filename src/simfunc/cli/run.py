"""``simfunc run``, ``simfunc reproduce`` and ``simfunc report``: the studies from the shell."""

from __future__ import annotations

import argparse
import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simfunc.errors import InputError

if TYPE_CHECKING:
    from simfunc.runner import Executor
    from simfunc.studies.base import Study

DEFAULT_JOBS = max(1, min(os.cpu_count() or 1, 8))

PROFILE_HELP = (
    "quick: CPU, minutes, bundled data (digits); standard: real images from --data-root, "
    "CPU-feasible; paper: the thesis's settings, for GPUs (default: quick)"
)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", choices=("quick", "standard", "paper"), default="quick",
                        help=PROFILE_HELP)
    parser.add_argument("--data-root", metavar="DIR",
                        help="folder holding the image data sets (e.g. ../shared/data)")
    parser.add_argument("--out", metavar="DIR", default="runs",
                        help="where run directories are written (default: runs)")
    parser.add_argument("--cache-dir", metavar="DIR",
                        help="artifact cache (default: $SIMFUNC_CACHE or ./cache)")
    parser.add_argument("--jobs", type=int, metavar="N",
                        help="jobs run at once, each in a worker process with one thread "
                        f"(default: the number of CPUs, {DEFAULT_JOBS}); --jobs 1 runs them "
                        "here, one at a time, with a progress bar per job. With --executor ray: "
                        "the CPUs of the local Ray instance (default: all)")
    parser.add_argument("--executor", choices=("local", "ray"), default="local",
                        help="where jobs run: local (this machine, --jobs worker processes; the "
                        "default) or ray (Ray tasks, on a private local Ray instance or on the "
                        "cluster at --ray-address; needs pip install simfunc[ray])")
    parser.add_argument("--ray-address", metavar="ADDRESS",
                        help="with --executor ray: join this Ray cluster (host:port, "
                        "ray://host:port, or auto) instead of starting a local instance; the "
                        "cache directory must be on a file system every node sees")
    parser.add_argument("--max-retries", type=int, metavar="N",
                        help="with --executor ray: how many times a job whose worker process "
                        "died is rerun before it is reported as failed (default: 2)")
    parser.add_argument("--device", default="cpu", help="torch device for jobs (default: cpu)")
    parser.add_argument("--set", dest="assignments", action="append", metavar="KEY=VALUE",
                        help="override a setting, e.g. --set archs=cnn,mlp; a nested one by "
                        "its dotted name, e.g. --set training.epochs=3 (repeatable; "
                        "--show-settings lists them)")
    parser.add_argument("--config", metavar="FILE.toml",
                        help="settings from a TOML file: top-level keys, or a [study-name] table "
                        "(nested settings: a [study-name.training] table)")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def register(subparsers: argparse._SubParsersAction) -> None:
    from simfunc.studies.framework import STUDIES

    run = subparsers.add_parser(
        "run", help="run one study end to end",
        description="Train, extract, compare and analyse one study; writes "
        "OUT/STUDY-PROFILE/ (results.sqlite, summary.json, figures/, report.html). Cached "
        "work is reused, so a rerun finishes in seconds and an interrupted run resumes.",
    )
    run.add_argument("study", choices=list(STUDIES), help="which study")
    run.add_argument("--show-settings", action="store_true",
                     help="print the resolved settings and exit")
    _common(run)
    run.set_defaults(handler=run_one)

    reproduce = subparsers.add_parser(
        "reproduce", help="run every study and write one report",
        description="Run every study under a profile and write OUT/reproduce-PROFILE/report.html "
        "(self-contained) beside each study's own run directory.",
    )
    reproduce.add_argument("--studies", metavar="A,B", help="only these studies (comma-separated)")
    _common(reproduce)
    reproduce.set_defaults(handler=run_all)

    report = subparsers.add_parser(
        "report", help="rebuild a run's report from its results database",
        description="Redo the analysis, figures, summary.json and report.html of a run "
        "directory (a study's, or a reproduce directory) from its results database alone.",
    )
    report.add_argument("run_dir", metavar="RUN_DIR")
    report.set_defaults(handler=rebuild_report)


def _overrides(study: Study[Any], args: argparse.Namespace, strict: bool) -> dict[str, Any]:
    """Overrides for one study from --config, --set and --data-root (in that order)."""
    from simfunc.settings import has_setting, parse_assignments, read_toml

    profile = study.PROFILES[args.profile] if args.profile in study.PROFILES else None
    values: dict[str, Any] = {}
    if args.config:
        values.update(read_toml(args.config, section=study.NAME))
    values.update(parse_assignments(args.assignments))
    if args.data_root:
        values["data_root"] = str(Path(args.data_root).expanduser().resolve())
    if not strict:  # reproduce: a key applies to the studies that have it
        values = {k: v for k, v in values.items()
                  if profile is not None and has_setting(profile, k)}
    return values


def _progress(args: argparse.Namespace) -> bool:
    return not args.no_progress


def _jobs(args: argparse.Namespace) -> int:
    return DEFAULT_JOBS if args.jobs is None else args.jobs


def _executor(args: argparse.Namespace) -> Executor | None:
    """A RayExecutor for --executor ray; None lets the study pick a local one from --jobs."""
    if args.jobs is not None and args.jobs < 1:
        raise InputError(f"--jobs must be at least 1, got {args.jobs}")
    if args.executor != "ray":
        for option, value in (("--ray-address", args.ray_address),
                              ("--max-retries", args.max_retries)):
            if value is not None:
                raise InputError(f"{option} needs --executor ray")
        return None
    if args.max_retries is not None and args.max_retries < 0:
        raise InputError(f"--max-retries must be 0 or more, got {args.max_retries}")
    if args.ray_address is not None and args.jobs is not None:
        raise InputError("--jobs sets the CPUs of a local Ray instance; a cluster joined with "
                         "--ray-address has its own")
    from simfunc.runner.ray_executor import RayExecutor

    retries = {} if args.max_retries is None else {"max_retries": args.max_retries}
    return RayExecutor(address=args.ray_address, num_cpus=args.jobs, **retries)


def run_one(args: argparse.Namespace) -> int:
    from simfunc.settings import flat_settings
    from simfunc.studies.framework import load_study, run_study

    study = load_study(args.study)
    overrides = _overrides(study, args, strict=True)
    settings = study.settings(args.profile, overrides)
    if args.show_settings:
        flat = flat_settings(settings)
        width = max(map(len, flat), default=0)
        for name, value in flat.items():
            print(f"{name:<{width}}  {value!r}")
        return 0
    executor = _executor(args)
    with executor or contextlib.nullcontext():  # shut down a Ray instance started here
        result = run_study(study, args.profile, out=args.out, cache_dir=args.cache_dir,
                           overrides=overrides, jobs=_jobs(args), executor=executor,
                           progress=_progress(args), device=args.device)
    _print_done(result.report, result.run_dir)
    _print_scorecard(result.scorecard)
    return 0


def run_all(args: argparse.Namespace) -> int:
    from simfunc.reproduce import combined_scorecard, reproduce
    from simfunc.studies.framework import STUDIES, load_study

    names = [n.strip() for n in args.studies.split(",")] if args.studies else list(STUDIES)
    overrides = {name: _overrides(load_study(name), args, strict=False) for name in names}
    if args.assignments:
        used = {k for values in overrides.values() for k in values}
        unused = [a.split("=", 1)[0].strip().replace("-", "_") for a in args.assignments]
        unused = [k for k in unused if k not in used]
        if unused:
            raise InputError(f"--set {', '.join(unused)}: no study has such a setting")
    executor = _executor(args)
    with executor or contextlib.nullcontext():  # shut down a Ray instance started here
        report_path, results = reproduce(args.profile, studies=names, out=args.out,
                                         cache_dir=args.cache_dir, overrides=overrides,
                                         jobs=_jobs(args), executor=executor,
                                         progress=_progress(args), device=args.device)
    for result in results:
        _print_done(result.report, result.run_dir)
    print(f"report: {report_path}")
    _print_scorecard(combined_scorecard(args.profile, results))
    return 0


def _print_scorecard(card: Any) -> None:
    """The scorecard in short, then the machine: float32 results move between CPUs."""
    if card is not None and card.rows:
        from simfunc.machine import this_machine

        print(card.terminal())
        print(f"  machine: {this_machine().describe()} (another CPU may round differently)")


def _print_done(report: Any, run_dir: Path) -> None:
    counts = f" ({report.summary()})" if report is not None else ""
    print(f"{run_dir}: done{counts}; report {run_dir / 'report.html'}")


def rebuild_report(args: argparse.Namespace) -> int:
    from simfunc.reproduce import combined_scorecard, rebuild
    from simfunc.runs import REPORT_FILE
    from simfunc.scorecard import SCORECARD_FILE

    results = rebuild(args.run_dir)
    target = Path(args.run_dir) / REPORT_FILE
    print(f"rebuilt {target} and {Path(args.run_dir) / SCORECARD_FILE} from {len(results)} "
          "results database(s)")
    profile = results[0].scorecard.profile if results and results[0].scorecard else "?"
    _print_scorecard(combined_scorecard(profile, results))
    return 0
