"""How a study runs: settings -> plan -> runner -> database -> analysis -> summary, figures, report.

A study is a :class:`~simfunc.studies.base.Study` (see :mod:`simfunc.studies.base` for the
contract); :data:`STUDIES` lists where each registered one lives. :func:`run_study` drives one
study; :func:`rebuild_study` redoes the analysis of an existing run directory from its
results database alone. Running several studies into one report, with the measure
leaderboard, is :mod:`simfunc.reproduce`, a layer above.

Every study's report section shows the notes its run recorded (what was left out and why):
the framework adds them, so a study gets them without code of its own.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from simfunc import __version__
from simfunc.errors import InputError
from simfunc.io import atomic_write_json, load_json
from simfunc.report import (
    RenderedSection,
    Section,
    left_out_table,
    scorecard_rows,
    scorecard_section,
    section_html,
    write_report,
)
from simfunc.scorecard import SCHEMA, SCORECARD_FILE, Scorecard
from simfunc.runner import (
    Executor,
    LocalExecutor,
    ProcessExecutor,
    RunReport,
    run_plan,
    run_plans,
)
from simfunc.runs import (
    CSV_DIR,
    FIGURES_DIR,
    REPORT_FILE,
    RESULTS_FILE,
    SUMMARY_FILE,
    latest_completed_run,
    run_dir_name,
)
from simfunc.settings import settings_dict
from simfunc.store import Cache, ResultsDB
from simfunc.studies.base import AnalysisContext, JSON, Study
from simfunc.studies.serialise import from_json

__all__ = [
    "STUDIES",
    "PROFILES",
    "StudyResult",
    "load_study",
    "run_study",
    "run_study_jobs",
    "run_studies_jobs",
    "analyse_study_run",
    "JobsDone",
    "rebuild_study",
    "analyse_run",
    "analysis_key",
    "code_fingerprint",
    "default_cache_dir",
    "make_executor",
]

# Study name -> the module that defines its STUDY. ``simfunc reproduce`` runs them
# in this order.
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


def default_cache_dir() -> Path:
    """``$SIMFUNC_CACHE``, else ``./cache`` (beside ``./runs``, as DESIGN.md lays out)."""
    return Path(os.environ.get("SIMFUNC_CACHE", "cache")).expanduser()


def load_study(name: str) -> Study[Any]:
    """The registered study ``name``, or an InputError listing the studies."""
    if name not in STUDIES:
        raise InputError(f"unknown study {name!r}; choose from {', '.join(STUDIES)}")
    study = getattr(importlib.import_module(STUDIES[name]), "STUDY", None)
    if not isinstance(study, Study):
        raise TypeError(f"{STUDIES[name]} must define STUDY, a simfunc.studies.base.Study")
    return study


@dataclass
class StudyResult:
    """One study's run: its typed result and summary (``summary.json``: the result's JSON
    form), report section (or, when the analysis was found unchanged, the section as its run
    directory kept it, rendered), runner report and scorecard; ``analysis_key`` identifies the
    analysis (see :func:`analysis_key`)."""

    name: str
    run_dir: Path
    summary: dict[str, JSON]
    section: Section | RenderedSection
    report: RunReport | None  # None when rebuilt from the database
    scorecard: Scorecard | None = None  # the study's claims, judged
    analysis_key: str | None = None
    #: The study's typed result (what ``summary`` serialises); read back from summary.json
    #: when the analysis was found unchanged, None then if the study declares no ``RESULT``.
    result: Any = None

    @property
    def analysed_now(self) -> bool:
        """Whether this run made the analysis (False: found unchanged and kept)."""
        return isinstance(self.section, Section)


#: What a run directory keeps of its analysis: its key and the rendered section.
ANALYSIS_FILE = "analysis.json"


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """A hash of simfunc's own source files: an analysis made by other code is redone."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256(__version__.encode())
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def analysis_key(study: Study[Any], db: ResultsDB, settings: Any, profile: str) -> str:
    """The analysis's key, like every artifact's: the study, profile and settings, the
    results it reads (:meth:`ResultsDB.content_digest`) and the code that reads them."""
    parts = {"study": study.NAME, "profile": profile, "settings": settings_dict(settings),
             "results": db.content_digest(), "code": code_fingerprint()}
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _kept_analysis(run_dir: Path, key: str, study: Study[Any]) -> StudyResult | None:
    """The analysis ``run_dir`` keeps, when it was made with ``key`` and its files are there
    (its typed result read back from ``summary.json`` when the study declares ``RESULT``)."""
    kept = run_dir / ANALYSIS_FILE
    files = (SUMMARY_FILE, SCORECARD_FILE, REPORT_FILE)
    if not kept.is_file() or not all((run_dir / name).is_file() for name in files):
        return None
    try:
        values = load_json(kept)
        if values.get("key") != key:
            return None
        summary = load_json(run_dir / SUMMARY_FILE)
        card = Scorecard.read(run_dir)
        section = RenderedSection.from_json(values["section"])
        result = None
        if study.RESULT is not None:
            if summary.get("schema") != SCHEMA:
                return None
            fields = {k: v for k, v in summary.items() if k not in _FRAMEWORK_KEYS}
            result = from_json(study.RESULT, fields, str(run_dir / SUMMARY_FILE))
    except (InputError, OSError, KeyError, ValueError, TypeError):
        return None  # unreadable: analyse again
    return StudyResult(str(summary.get("study")), run_dir, summary, section, None, card, key,
                       result)


#: What the framework adds to a study's summary besides its result's fields.
_FRAMEWORK_KEYS = ("schema", "study", "profile")


def make_executor(jobs: int) -> Executor:
    """Run ``jobs`` jobs at once: here (1) or in worker processes."""
    if jobs < 1:
        raise InputError(f"jobs must be at least 1, got {jobs}")
    return LocalExecutor() if jobs == 1 else ProcessExecutor(jobs)


def analyse_run(study: Study[Any], run_dir: Path, db: ResultsDB, settings: Any,
                profile: str) -> tuple[dict[str, JSON], Section, Scorecard, Any]:
    """The study's analysis of ``db``, with the run's notes added to its section; writes
    ``summary.json`` (the typed result's JSON form, with ``"schema"``), ``scorecard.json``
    (its claims, judged), ``report.html`` (the scorecard first) and ``csv/`` into
    ``run_dir``. Returns the summary as written, the section, the scorecard and the typed
    result."""
    context = AnalysisContext(settings=settings, profile=profile, figures_dir=run_dir / FIGURES_DIR)
    output = study.analyse(db, context)
    section = dataclasses.replace(output.section, left_out=left_out_table(db.notes()))
    summary: dict[str, JSON] = {"schema": SCHEMA, "study": study.NAME, "profile": profile,
                                **output.summary}
    clash = [k for k in _FRAMEWORK_KEYS if k in output.summary]
    if clash:
        raise TypeError(f"study {study.NAME!r}: its result has a field {clash[0]!r}, which "
                        "summary.json keeps for the framework")
    card = Scorecard(profile, __version__,
                     scorecard_rows(section.thesis_rows, study.NAME, study.SECTION))
    atomic_write_json(run_dir / SUMMARY_FILE, summary)
    summary = json.loads((run_dir / SUMMARY_FILE).read_text(encoding="utf-8"))  # as written
    card.write(run_dir)
    sections = [scorecard_section(card), section] if card.rows else [section]
    write_report(run_dir / REPORT_FILE, f"simfunc · {study.TITLE}", sections,
                 {"study": study.NAME, "profile": profile, "simfunc": __version__})
    db.export_csv(run_dir / CSV_DIR)
    return summary, section, card, output.result


def run_study(
    study: str | Study[Any],
    profile: str = "quick",
    *,
    out: str | os.PathLike[str] = "runs",
    cache_dir: str | os.PathLike[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    jobs: int = 1,
    executor: Executor | None = None,
    progress: bool = True,
    device: str = "cpu",
) -> StudyResult:
    """Run ``study`` (a registered name, or a :class:`Study`) under ``profile``: every job not
    in the cache, then the analysis.

    Writes ``OUT/<name>-<profile>/`` (results.sqlite, summary.json, figures/, report.html,
    csv/). Raises :class:`simfunc.runner.JobsFailed` (after recording the run as failed) when a
    job fails; the jobs that finished stay in the cache, so a rerun continues from there.
    ``executor``: where jobs run (default: made from ``jobs`` and shut down at the end; one
    passed in is left running, so it can serve several studies).
    """
    owned = executor is None
    executor = make_executor(jobs) if executor is None else executor
    try:
        ran = run_study_jobs(study, profile, out=out, cache_dir=cache_dir, overrides=overrides,
                             executor=executor, progress=progress, device=device)
    finally:
        if owned:
            executor.shutdown()
    return analyse_study_run(ran)


@dataclass(frozen=True)
class JobsDone:
    """A study whose jobs are all done and recorded (:func:`run_study_jobs`), awaiting
    :func:`analyse_study_run`; ``run_id`` is its row in the run table, still marked running."""

    study: Study[Any]
    profile: str
    settings: Any
    run_dir: Path
    run_id: int
    report: RunReport


def run_study_jobs(
    study: str | Study[Any],
    profile: str,
    *,
    out: str | os.PathLike[str],
    cache_dir: str | os.PathLike[str] | None,
    overrides: Mapping[str, Any] | None,
    executor: Executor,
    progress: bool,
    device: str,
) -> JobsDone:
    """The first half of :func:`run_study`: every job of the study's plan, recorded in its
    database. The database connection is closed on return, so the analysis may run in
    another thread (:func:`simfunc.reproduce.reproduce` overlaps one study's analysis with the
    next study's jobs)."""
    if isinstance(study, str):
        study = load_study(study)
    settings = study.settings(profile, overrides)
    run_dir = Path(out) / run_dir_name(study.NAME, profile)
    run_dir.mkdir(parents=True, exist_ok=True)
    cache = Cache(Path(cache_dir) if cache_dir is not None else default_cache_dir())
    plan = study.plan(settings)
    with ResultsDB(run_dir / RESULTS_FILE) as db:
        run_id = db.start_run(study.NAME, profile, settings_dict(settings))
        status = "failed"
        try:
            report = run_plan(plan, cache, db=db, executor=executor, progress=progress,
                              keep_going=True, device=device)
            report.raise_for_failures()
            db.keep_only_run(run_id)
            status = None  # jobs done: the analysis ends the run
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        finally:
            if status is not None:
                db.finish_run(run_id, status)
    return JobsDone(study, profile, settings, run_dir, run_id, report)


def run_studies_jobs(
    studies: Sequence[str | Study[Any]],
    profile: str,
    *,
    out: str | os.PathLike[str],
    cache_dir: str | os.PathLike[str] | None,
    overrides: Mapping[str, Mapping[str, Any]] | None,
    executor: Executor,
    progress: bool,
    device: str,
    on_done: Callable[[JobsDone], None],
) -> None:
    """The jobs of several studies as one plan (:func:`simfunc.runner.run_plans`): a study's
    jobs go first whenever they are ready, the next studies' jobs fill the workers it leaves
    idle (its last, longest jobs; its dependencies). Each study's :class:`JobsDone` is handed
    to ``on_done`` (in this thread) as soon as its last job is done, e.g. to analyse it while
    the rest run. Studies with ``RUN_FIRST`` go first, the others in the given order. Each
    study is recorded in its own database, exactly as by :func:`run_study_jobs`. Raises
    :class:`simfunc.runner.JobsFailed` for the first study (in that order) whose jobs failed,
    after every study's jobs ran."""
    loaded = [load_study(study) if isinstance(study, str) else study for study in studies]
    loaded.sort(key=lambda study: not study.RUN_FIRST)  # stable: otherwise the given order
    settings = [study.settings(profile, (overrides or {}).get(study.NAME)) for study in loaded]
    run_dirs = [Path(out) / run_dir_name(study.NAME, profile) for study in loaded]
    plans = [study.plan(each) for study, each in zip(loaded, settings)]
    cache = Cache(Path(cache_dir) if cache_dir is not None else default_cache_dir())
    dbs: list[ResultsDB] = []
    run_ids: list[int] = []
    open_runs: set[int] = set()
    failed: dict[int, RunReport] = {}
    try:
        for study, each, run_dir in zip(loaded, settings, run_dirs):
            run_dir.mkdir(parents=True, exist_ok=True)
            dbs.append(ResultsDB(run_dir / RESULTS_FILE))
            run_ids.append(dbs[-1].start_run(study.NAME, profile, settings_dict(each)))
            open_runs.add(len(dbs) - 1)

        def done(index: int, report: RunReport) -> None:
            db = dbs[index]
            open_runs.discard(index)
            if not report.ok:
                db.finish_run(run_ids[index], "failed")
                failed[index] = report
                return
            db.keep_only_run(run_ids[index])
            db.close()  # the analysis opens its own connection, maybe in another thread
            on_done(JobsDone(loaded[index], profile, settings[index], run_dirs[index],
                             run_ids[index], report))

        run_plans(plans, cache, dbs, executor=executor, progress=progress, keep_going=True,
                  device=device, on_plan_done=done)
    except KeyboardInterrupt:
        for index in open_runs:
            dbs[index].finish_run(run_ids[index], "interrupted")
        raise
    finally:
        for db in dbs:
            db.close()
    if failed:
        failed[min(failed)].raise_for_failures()


def analyse_study_run(ran: JobsDone) -> StudyResult:
    """The second half of :func:`run_study`: the analysis of a study whose jobs are done
    (kept as it is when the results, settings and code are unchanged), in a connection of its
    own to the study's database."""
    study, run_dir = ran.study, ran.run_dir
    with ResultsDB(run_dir / RESULTS_FILE) as db:
        status = "failed"
        try:
            key = analysis_key(study, db, ran.settings, ran.profile)
            kept = _kept_analysis(run_dir, key, study)
            if kept is not None:  # the same results, settings and code: nothing to redo
                status = "completed"
                return dataclasses.replace(kept, name=study.NAME, report=ran.report)
            summary, section, card, result = analyse_run(study, run_dir, db, ran.settings,
                                                         ran.profile)
            _keep_analysis(run_dir, key, section)
            status = "completed"
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        finally:
            db.finish_run(ran.run_id, status)
    return StudyResult(study.NAME, run_dir, summary, section, ran.report, card, key, result)


def _keep_analysis(run_dir: Path, key: str, section: Section) -> None:
    """Record the analysis's key and its rendered section (written last: a run interrupted
    before it is analysed again)."""
    atomic_write_json(run_dir / ANALYSIS_FILE, {
        "key": key, "section": RenderedSection(section.id, section.title,
                                               section_html(section)).to_json()})


def rebuild_study(run_dir: str | os.PathLike[str], study: Study[Any] | None = None) -> StudyResult:
    """Redo the analysis, summary and report of one study's run directory from its database.

    ``study``: the study that made the run (default: the registered study the database names).
    """
    run_dir = Path(run_dir)
    database = run_dir / RESULTS_FILE
    if not database.is_file():
        raise InputError(f"{run_dir} holds no {RESULTS_FILE}: not a simfunc run directory")
    with ResultsDB(database) as db:
        latest = latest_completed_run(db)
        if latest is None:
            raise InputError(f"{database} records no completed run to build a report from")
        if study is None:
            study = load_study(latest["study"])
        settings = study.settings(latest["profile"], latest["settings"], f"{database} settings")
        summary, section, card, result = analyse_run(study, run_dir, db, settings,
                                                     latest["profile"])
        key = analysis_key(study, db, settings, latest["profile"])
        _keep_analysis(run_dir, key, section)
    return StudyResult(study.NAME, run_dir, summary, section, None, card, key, result)
