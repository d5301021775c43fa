"""``run_study_config``: a study of the user's models, from its configuration to its files.

Steps: read and check the configuration (:func:`simfunc.study.config.load_config`), load every
model once and run it on a few examples (:func:`simfunc.study.check.check_models`) -- nothing
starts before both pass -- then a :class:`~simfunc.runner.Plan` of one features job per model
and one job per pair (:mod:`simfunc.study.jobs`) runs through :func:`simfunc.runner.run_plan`
(cached: a rerun with one more model computes only its features and its pairs; parallel with
``jobs``; on Ray with a :class:`~simfunc.runner.RayExecutor`), recording into
``results.sqlite``; finally the analysis (:mod:`.analysis`) writes ``summary.json``,
``pairs.csv``, ``relation.csv`` and ``report.html``.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

from simfunc.errors import InputError
from simfunc.io import atomic_write_json, atomic_write_text
from simfunc.runner import Executor, Plan, RunReport, run_plan
from simfunc.store import Cache, ResultsDB
from simfunc.studies.framework import default_cache_dir, make_executor
from simfunc.study.analysis import (
    ModelResult,
    StudySummary,
    measure_leaderboard,
    pair_values,
    relations,
)
from simfunc.study.check import CheckedModel, check_models
from simfunc.study.config import StudyConfig, load_config
from simfunc.study.data import data_fingerprint
from simfunc.study.jobs import (
    STUDY_NAME,
    features_job,
    load_model_record,
    load_pair,
    pair_job,
)
from simfunc.study.render import write_study_report

__all__ = ["OwnStudyResult", "run_study_config", "study_plan", "PAIRS_FILE", "RELATION_FILE",
           "SUMMARY_FILE", "RESULTS_FILE", "REPORT_FILE"]

RESULTS_FILE = "results.sqlite"
SUMMARY_FILE = "summary.json"
PAIRS_FILE = "pairs.csv"
RELATION_FILE = "relation.csv"
REPORT_FILE = "report.html"
PROFILE = "own"


@dataclass
class OwnStudyResult:
    """Where the files are, what was found, and how the plan ran (run / cached jobs)."""

    run_dir: Path
    summary: StudySummary
    report: RunReport

    @property
    def files(self) -> dict[str, Path]:
        return {name: self.run_dir / name for name in (RESULTS_FILE, SUMMARY_FILE, PAIRS_FILE,
                                                       RELATION_FILE, REPORT_FILE)}


def study_plan(config: StudyConfig, checked: list[CheckedModel]) -> Plan:
    """One features job per model, one comparison job per pair (in the configuration's order)."""
    fingerprint = data_fingerprint(config.data)
    by_name = {item.name: item for item in checked}
    jobs = [features_job(model, by_name[model.name].fingerprint, config.data, fingerprint,
                         config.batch_size) for model in config.models]
    jobs += [pair_job(a.name, b.name, config) for a, b in combinations(config.models, 2)]
    return Plan(jobs)


def _csv(rows: list[dict[str, Any]], columns: list[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore",
                            lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: ("" if value is None else
                               (f"{value:.6g}" if isinstance(value, float) else value))
                         for key, value in row.items()})
    return buffer.getvalue()


PAIR_COLUMNS = ["model_a", "model_b", "measure", "kind", "value", "ci_low", "ci_high",
                "resamples", "note"]
RELATION_COLUMNS = ["representational", "functional", "n_pairs", "n_networks", "spearman",
                    "ci_low", "ci_high", "p_value", "kendall", "pair_p_value", "permutation",
                    "strata", "note"]


def run_study_config(
    config: StudyConfig | str | os.PathLike[str] | Mapping[str, Any],
    *,
    out: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    jobs: int = 1,
    executor: Executor | None = None,
    device: str = "cpu",
    progress: bool = False,
) -> OwnStudyResult:
    """Run a study of the user's models (see the module docstring) and write its files.

    Args:
        config: a :class:`StudyConfig`, a TOML file, or its parsed contents.
        out: the run directory (default ``runs/<name>``).
        cache_dir: the artifact cache (default ``$SIMFUNC_CACHE`` or ``./cache``).
        jobs: jobs at once in worker processes (1: here); ignored with ``executor``.
        executor: where jobs run (e.g. a :class:`~simfunc.runner.RayExecutor`).
        device: torch device the models run on.

    Raises:
        InputError: the configuration is broken (before any work starts).
        simfunc.runner.JobsFailed: a job failed (finished jobs stay cached).
    """
    if not isinstance(config, StudyConfig):
        config = load_config(config)
    checked = check_models(config)
    plan = study_plan(config, checked)
    run_dir = Path(out) if out is not None else Path("runs") / config.name
    if run_dir.exists() and not run_dir.is_dir():
        raise InputError(f"--out {run_dir}: exists and is not a folder")
    run_dir.mkdir(parents=True, exist_ok=True)
    cache = Cache(Path(cache_dir) if cache_dir is not None else default_cache_dir())
    with ResultsDB(run_dir / RESULTS_FILE) as db:
        run_id = db.start_run(STUDY_NAME, PROFILE, config.settings())
        status = "failed"
        try:
            report = run_plan(plan, cache, db=db, executor=executor or make_executor(jobs),
                              progress=progress, keep_going=True, device=device)
            report.raise_for_failures()
            db.keep_only_run(run_id)
            summary = _analyse(config, report)
            status = "completed"
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        finally:
            db.finish_run(run_id, status)
    atomic_write_json(run_dir / SUMMARY_FILE, summary.to_json())
    atomic_write_text(run_dir / PAIRS_FILE,
                      _csv([asdict(p) for p in summary.pairs], PAIR_COLUMNS))
    atomic_write_text(run_dir / RELATION_FILE,
                      _csv([asdict(r) for r in summary.relations], RELATION_COLUMNS))
    write_study_report(summary, run_dir)
    return OwnStudyResult(run_dir, summary, report)


def _analyse(config: StudyConfig, report: RunReport) -> StudySummary:
    models = []
    n_examples = 0
    for model in config.models:
        record = load_model_record(report.entries[f"study-features/{model.name}"])
        n_examples = record["n_examples"]
        models.append(ModelResult(model.name, record["kind"], model.group, record["layer"],
                                  record["output"], record["features"], record["classes"],
                                  record["accuracy"], record["accuracy_note"]))
    pairs = []
    for a, b in combinations(config.models, 2):
        comparison, intervals, _ = load_pair(report.entries[f"study-pairs/{a.name}--{b.name}"])
        pairs += pair_values(a.name, b.name, comparison, intervals, config)
    return StudySummary(
        name=config.name, n_examples=n_examples, models=tuple(models), pairs=tuple(pairs),
        relations=tuple(relations(pairs, models, config)),
        leaderboard=tuple(measure_leaderboard(pairs, models, config)),
        settings=config.settings(), jobs={"run": report.run, "cached": report.cached})
