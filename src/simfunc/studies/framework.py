"""How a study runs: settings -> plan -> runner -> database -> analysis -> summary, figures, report.

A study is a module under ``simfunc.studies`` that defines:

* ``NAME`` and ``TITLE``;
* ``Settings``, a frozen dataclass, and ``PROFILES``, a dict mapping ``quick`` / ``standard`` /
  ``paper`` to instances of it (explicit, documented settings);
* ``plan(settings) -> Plan`` — the jobs (train, extract, compare), each recording its results
  into the database through its ``record`` function;
* ``analyse(db, settings, figures_dir) -> (summary, Section)`` — reads *only* the results
  database, writes the figures, returns the headline numbers (``summary.json``) and the report
  section. Because the analysis needs nothing but the database, ``simfunc report RUN_DIR``
  rebuilds the same report later.

:func:`run_study` drives one study; :func:`reproduce` runs several and writes one report;
:func:`rebuild` redoes the analysis of an existing run directory.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Mapping, Sequence

from simfunc import __version__
from simfunc.errors import InputError
from simfunc.report import Section, write_report
from simfunc.runner import Executor, LocalExecutor, ProcessExecutor, RunReport, run_plan
from simfunc.settings import apply_overrides, settings_dict
from simfunc.store import Cache, ResultsDB
from simfunc.io.atomic import atomic_write_json

__all__ = [
    "STUDIES",
    "PROFILES",
    "StudyResult",
    "load_study",
    "resolve_settings",
    "run_study",
    "reproduce",
    "rebuild",
    "default_cache_dir",
]

# Study name -> module. ``simfunc reproduce`` runs them in this order.
STUDIES: dict[str, str] = {
    "dataset-bias": "simfunc.studies.dataset_bias",
    "cross-dataset": "simfunc.studies.cross_dataset",
    "architectures": "simfunc.studies.architectures",
    "checkpoints": "simfunc.studies.checkpoints",
    "minigrid": "simfunc.studies.minigrid",
    "existence": "simfunc.studies.existence",
    "converse": "simfunc.studies.converse",
}

PROFILES = ("quick", "standard", "paper")

RESULTS_FILE = "results.sqlite"
SUMMARY_FILE = "summary.json"
REPORT_FILE = "report.html"
REPRODUCE_FILE = "reproduce.json"


def default_cache_dir() -> Path:
    """``$SIMFUNC_CACHE``, else ``./cache`` (beside ``./runs``, as DESIGN.md lays out)."""
    return Path(os.environ.get("SIMFUNC_CACHE", "cache")).expanduser()


def load_study(name: str) -> ModuleType:
    """The module of study ``name``, or an InputError listing the studies."""
    if name not in STUDIES:
        raise InputError(f"unknown study {name!r}; choose from {', '.join(STUDIES)}")
    return importlib.import_module(STUDIES[name])


def resolve_settings(study: ModuleType, profile: str, overrides: Mapping[str, Any] | None = None,
                     source: str = "override") -> Any:
    """The profile's settings with ``overrides`` applied (type-checked)."""
    if profile not in study.PROFILES:
        raise InputError(
            f"unknown profile {profile!r} for study {study.NAME!r}; choose from "
            f"{', '.join(study.PROFILES)}"
        )
    return apply_overrides(study.PROFILES[profile], dict(overrides or {}), source)


@dataclass
class StudyResult:
    name: str
    run_dir: Path
    summary: dict[str, Any]
    section: Section
    report: RunReport | None  # None when rebuilt from the database


def _executor(jobs: int) -> Executor:
    if jobs < 1:
        raise InputError(f"jobs must be at least 1, got {jobs}")
    return LocalExecutor() if jobs == 1 else ProcessExecutor(jobs)


def _meta(study: ModuleType, profile: str) -> dict[str, str]:
    return {"study": study.NAME, "profile": profile, "simfunc": __version__}


def _write_outputs(study: ModuleType, run_dir: Path, db: ResultsDB, settings: Any,
                   profile: str) -> tuple[dict[str, Any], Section]:
    summary, section = study.analyse(db, settings, run_dir / "figures")
    summary = {"study": study.NAME, "profile": profile, **summary}
    atomic_write_json(run_dir / SUMMARY_FILE, summary)
    write_report(run_dir / REPORT_FILE, f"simfunc · {study.TITLE}", [section], _meta(study, profile))
    db.export_csv(run_dir / "csv")
    return summary, section


def run_study(
    name: str,
    profile: str = "quick",
    *,
    out: str | os.PathLike = "runs",
    cache_dir: str | os.PathLike | None = None,
    overrides: Mapping[str, Any] | None = None,
    jobs: int = 1,
    executor: Executor | None = None,
    progress: bool = True,
    device: str = "cpu",
) -> StudyResult:
    """Run study ``name`` under ``profile``: every job not in the cache, then the analysis.

    Writes ``OUT/<name>-<profile>/`` (results.sqlite, summary.json, figures/, report.html,
    csv/). Raises :class:`simfunc.runner.JobsFailed` (after recording the run as failed) when a
    job fails; the jobs that finished stay in the cache, so a rerun continues from there.
    """
    study = load_study(name)
    settings = resolve_settings(study, profile, overrides)
    run_dir = Path(out) / f"{name}-{profile}"
    run_dir.mkdir(parents=True, exist_ok=True)
    cache = Cache(Path(cache_dir) if cache_dir is not None else default_cache_dir())
    plan = study.plan(settings)
    with ResultsDB(run_dir / RESULTS_FILE) as db:
        run_id = db.start_run(name, profile, settings_dict(settings))
        status = "failed"
        try:
            report = run_plan(
                plan, cache, db=db, executor=executor or _executor(jobs),
                progress=progress, keep_going=True, device=device,
            )
            report.raise_for_failures()
            db.keep_only_run(run_id)
            summary, section = _write_outputs(study, run_dir, db, settings, profile)
            status = "completed"
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        finally:
            db.finish_run(run_id, status)
    return StudyResult(name, run_dir, summary, section, report)


def rebuild(run_dir: str | os.PathLike) -> list[StudyResult]:
    """Redo the analysis, summary and report of a run directory from its database alone.

    ``run_dir`` is a study's run directory (holding results.sqlite) or a ``reproduce`` directory
    (holding reproduce.json), whose combined report is rebuilt from each study's database.
    """
    run_dir = Path(run_dir)
    if (run_dir / REPRODUCE_FILE).is_file():
        index = json.loads((run_dir / REPRODUCE_FILE).read_text())
        results = [rebuild(run_dir / entry)[0] for entry in index["studies"]]
        _write_combined(run_dir, index["profile"], results)
        return results
    database = run_dir / RESULTS_FILE
    if not database.is_file():
        raise InputError(
            f"{run_dir} holds neither {RESULTS_FILE} nor {REPRODUCE_FILE}: not a simfunc run directory"
        )
    with ResultsDB(database) as db:
        runs = db.runs()
        finished = runs[runs["status"] == "completed"]
        if finished.empty:
            raise InputError(f"{database} records no completed run to build a report from")
        latest = finished.sort_values("started").iloc[-1]
        study = load_study(latest["study"])
        stored = latest["settings"]
        stored = json.loads(stored) if isinstance(stored, str) else stored
        settings = apply_overrides(study.PROFILES[latest["profile"]], stored, f"{database} settings")
        summary, section = _write_outputs(study, run_dir, db, settings, latest["profile"])
    return [StudyResult(study.NAME, run_dir, summary, section, None)]


def _write_combined(out_dir: Path, profile: str, results: Sequence[StudyResult]) -> Path:
    from simfunc.studies.leaderboard import write_leaderboard

    out_dir.mkdir(parents=True, exist_ok=True)
    # Which measure tracks function best, over every study's pairs (leaderboard.csv).
    board = write_leaderboard([r.run_dir for r in results], out_dir)
    atomic_write_json(
        out_dir / SUMMARY_FILE,
        {"profile": profile, "studies": {r.name: r.summary for r in results},
         "leaderboard": board.summary},
    )
    atomic_write_json(
        out_dir / REPRODUCE_FILE,
        {"profile": profile, "studies": [os.path.relpath(r.run_dir, out_dir) for r in results]},
    )
    intro = (
        "Are the proposed similarity metrics also a measure of functional similarity? "
        "This report re-derives the findings of Yellapragada (NYU, 2020) from scratch: every "
        "network below was trained, every feature extracted and every pair compared by this run. "
        "Each section puts this run's numbers beside the thesis's."
    )
    meta = {"profile": profile, "simfunc": __version__, "python": platform.python_version()}
    return write_report(out_dir / REPORT_FILE, f"simfunc reproduce · {profile} profile",
                        [*(r.section for r in results), board.section], meta, intro)


def reproduce(
    profile: str = "quick",
    *,
    studies: Sequence[str] | None = None,
    out: str | os.PathLike = "runs",
    cache_dir: str | os.PathLike | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    jobs: int = 1,
    executor: Executor | None = None,
    progress: bool = True,
    device: str = "cpu",
) -> tuple[Path, list[StudyResult]]:
    """Run every study (or ``studies``) under ``profile`` and write one combined report.

    ``overrides`` maps a study name to its overrides. The combined report goes to
    ``OUT/reproduce-<profile>/report.html``, with the measure leaderboard over every study's
    pairs as its last section (and ``leaderboard.csv`` beside it); each study keeps its own
    run directory. ``executor`` (default: chosen from ``jobs``) runs every study's jobs; it is
    not shut down.
    """
    names = list(studies or STUDIES)
    for name in names:
        load_study(name)
    results = []
    for name in names:
        results.append(
            run_study(
                name, profile, out=out, cache_dir=cache_dir,
                overrides=(overrides or {}).get(name), jobs=jobs, executor=executor,
                progress=progress, device=device,
            )
        )
    out_dir = Path(out) / f"reproduce-{profile}"
    return _write_combined(out_dir, profile, results), results
