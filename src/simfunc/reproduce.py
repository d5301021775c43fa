"""Every study under one profile, and one report: ``simfunc reproduce``.

:func:`reproduce` runs the studies (:func:`simfunc.studies.framework.run_study` each, in the
order of :data:`~simfunc.studies.framework.STUDIES`) and writes ``OUT/reproduce-<profile>/``:
one report with a section per study and, last, the measure leaderboard over every study's pairs
(:mod:`simfunc.leaderboard`), ``summary.json``, ``leaderboard.csv`` and ``reproduce.json``
(the study run directories it combines). :func:`rebuild` redoes a run directory's analysis
from its databases — a study's, or a reproduce directory's (its combined report too).

This module sits above the studies and the leaderboard (it uses both), below the command line.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import queue
import threading
from pathlib import Path
from typing import Any, Mapping, Sequence

from simfunc import __version__
from simfunc.errors import InputError
from simfunc.io import atomic_write_json, load_json
from simfunc.leaderboard import CSV_FILE, selection_of, write_leaderboard
from simfunc.leaderboard import warm as warm_leaderboard
from simfunc.report import scorecard_section, write_report
from simfunc.runner import Executor, JobsFailed
from simfunc.runs import REPORT_FILE, REPRODUCE_FILE, SUMMARY_FILE, reproduce_dir_name
from simfunc.scorecard import SCHEMA, SCORECARD_FILE, Scorecard
from simfunc.studies.framework import (
    ANALYSIS_FILE,
    STUDIES,
    JobsDone,
    StudyResult,
    analyse_study_run,
    code_fingerprint,
    load_study,
    make_executor,
    rebuild_study,
    run_studies_jobs,
)

__all__ = ["reproduce", "rebuild", "combined_scorecard", "INTRO"]

INTRO = (
    "Are the proposed similarity metrics also a measure of functional similarity? "
    "This report re-derives the findings of Yellapragada (NYU, 2020) from scratch: every "
    "network below was trained, every feature extracted and every pair compared by this run. "
    "Each section puts this run's numbers beside the thesis's. The networks are trained in "
    "float32: on one machine the same seeds give the same numbers bit for bit, but a CPU with "
    "another instruction set or vendor rounds differently, so on another machine the values "
    "move a little and a verdict whose interval nearly reaches its boundary can change (the "
    "machine is named above)."
)


def combined_scorecard(profile: str, results: Sequence[StudyResult]) -> Scorecard:
    """Every study's claims, in the order of the studies."""
    return Scorecard.combine(profile, __version__,
                             [r.scorecard for r in results if r.scorecard is not None])


def _combined_key(profile: str, results: Sequence[StudyResult]) -> str | None:
    """The combined report's key: every study's analysis key (None when one has none)."""
    keys = [r.analysis_key for r in results]
    if any(k is None for k in keys):
        return None
    parts = {"profile": profile, "studies": [[r.name, r.analysis_key] for r in results],
             "code": code_fingerprint()}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _kept_combined(out_dir: Path, key: str | None) -> bool:
    """Whether ``out_dir`` holds the combined report, scorecard and leaderboard of ``key``."""
    files = (ANALYSIS_FILE, REPORT_FILE, SUMMARY_FILE, SCORECARD_FILE, CSV_FILE, REPRODUCE_FILE)
    if key is None or not all((out_dir / name).is_file() for name in files):
        return False
    try:
        return load_json(out_dir / ANALYSIS_FILE).get("key") == key
    except (InputError, OSError, ValueError):
        return False


def _write_combined(out_dir: Path, profile: str, results: Sequence[StudyResult],
                    force: bool = False) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    key = _combined_key(profile, results)
    if not force and _kept_combined(out_dir, key):  # every study unchanged: so are the leaderboard and report
        return out_dir / REPORT_FILE
    # Which measure tracks function best, over every study's pairs (leaderboard.csv).
    board = write_leaderboard([r.run_dir for r in results], out_dir)
    card = combined_scorecard(profile, results)
    card.write(out_dir)
    atomic_write_json(
        out_dir / SUMMARY_FILE,
        {"schema": SCHEMA, "profile": profile, "studies": {r.name: r.summary for r in results},
         "scorecard": card.counts(), "leaderboard": board.summary},
    )
    atomic_write_json(
        out_dir / REPRODUCE_FILE,
        {"profile": profile, "studies": [os.path.relpath(r.run_dir, out_dir) for r in results]},
    )
    meta = {"profile": profile, "simfunc": __version__, "python": platform.python_version()}
    report = write_report(out_dir / REPORT_FILE, f"simfunc reproduce · {profile} profile",
                          [scorecard_section(card), *(r.section for r in results), board.section],
                          meta, INTRO)
    if key is not None:  # written last: an interrupted write is redone
        atomic_write_json(out_dir / ANALYSIS_FILE, {"key": key})
    return report


def reproduce(
    profile: str = "quick",
    *,
    studies: Sequence[str] | None = None,
    out: str | os.PathLike[str] = "runs",
    cache_dir: str | os.PathLike[str] | None = None,
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
    run directory. ``executor`` (default: made from ``jobs``, one worker pool for every study,
    shut down at the end) runs every study's jobs; one passed in is not shut down. The
    studies' jobs run as one plan, so no worker idles while any study has a job ready
    (:func:`~simfunc.studies.framework.run_studies_jobs`), and each study's analysis runs in a
    thread of this process as soon as its jobs are done; the results are those of running the
    studies one by one.
    """
    names = list(studies or STUDIES)
    for name in names:
        load_study(name)
    owned = executor is None
    executor = make_executor(jobs) if executor is None else executor
    # Every study's jobs run as one plan (a study's jobs first, the next studies' filling
    # idle workers); a study's analysis starts in a background thread once its jobs are done.
    analyses = _Analyses([load_study(name).NAME for name in names])
    try:
        try:
            run_studies_jobs(names, profile, out=out, cache_dir=cache_dir, overrides=overrides,
                             executor=executor, progress=progress, device=device,
                             on_done=analyses.start)
        except JobsFailed:
            analyses.finish()  # the studies whose jobs were all done are still analysed
            raise
        results = analyses.results([load_study(name).NAME for name in names])
    finally:
        analyses.stop()
        if owned:
            executor.shutdown()
    out_dir = Path(out) / reproduce_dir_name(profile)
    return _write_combined(out_dir, profile, results), results


class _Analyses:
    """The studies' analyses, one at a time in a background thread, in the order started
    (the order in which the studies' jobs finish).

    After each analysis the study's leaderboard rows are computed (remembered by value, see
    :func:`simfunc.leaderboard.warm`), and once every study of ``names`` that contributes
    leaderboard pairs is analysed, the pooled rows too: the final leaderboard then finds its
    rows computed, and the pooled ones are computed while the other studies' jobs (those
    without leaderboard pairs, existence and converse) still run instead of after them.

    The thread is a daemon: an interrupted reproduce does not wait for an analysis (its
    outputs are written atomically, its key last, so the rerun redoes it). The first error of
    an analysis is raised by :meth:`results` (the analyses after it are not run).
    """

    def __init__(self, names: Sequence[str]) -> None:
        self._pooled_from = [name for name in names if selection_of(name) is not None]
        self._queue: queue.Queue[JobsDone | None] = queue.Queue()
        self._done: list[StudyResult] = []
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name="simfunc-analyses", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while (ran := self._queue.get()) is not None:
            if self._error is None:
                try:
                    result = analyse_study_run(ran)
                    self._done.append(result)
                    self._warm(result)
                except BaseException as error:  # handed to the driver thread
                    self._error = error

    def _warm(self, result: StudyResult) -> None:
        """The leaderboard rows the final leaderboard will ask for, computed now."""
        if not result.analysed_now:  # a kept analysis may mean a kept leaderboard
            return
        warm_leaderboard(result.run_dir)
        done = {r.name: r for r in self._done}
        if result.name in self._pooled_from and all(n in done for n in self._pooled_from):
            warm_leaderboard([done[n].run_dir for n in self._pooled_from], pooled=True)

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def start(self, ran: JobsDone) -> None:
        self._queue.put(ran)

    def finish(self) -> None:
        """Wait until every analysis started is done."""
        self._queue.put(None)
        while self._thread.is_alive():  # a timed join: Ctrl-C still reaches the driver
            self._thread.join(timeout=0.2)

    def results(self, names: Sequence[str]) -> list[StudyResult]:
        """Every analysis's result once all are done, in the order of ``names``."""
        self.finish()
        self._raise()
        return sorted(self._done, key=lambda result: list(names).index(result.name))

    def stop(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)


def rebuild(run_dir: str | os.PathLike[str]) -> list[StudyResult]:
    """Redo the analysis, summary and report of a run directory from its database(s) alone.

    ``run_dir`` is a study's run directory (holding results.sqlite) or a ``reproduce``
    directory (holding reproduce.json), whose combined report is rebuilt from each study's
    database.
    """
    run_dir = Path(run_dir)
    if (run_dir / REPRODUCE_FILE).is_file():
        index = json.loads((run_dir / REPRODUCE_FILE).read_text())
        results = [rebuild_study(run_dir / entry) for entry in index["studies"]]
        _write_combined(run_dir, index["profile"], results, force=True)
        return results
    return [rebuild_study(run_dir)]
