"""The thesis's question asked of the user's own models: ``simfunc study CONFIG.toml``.

    from simfunc.study import run_study_config
    result = run_study_config("zoo.toml", out="runs/zoo", jobs=4)
    result.summary.relations      # rho(representational, functional) with network-level p, CI
    result.report.run, result.report.cached   # jobs computed now / reused from the cache

A study is a TOML file (:mod:`.config`): the examples, the models (TorchScript files, simfunc
``model.pt`` files, or ``package.module:factory`` + a state dict; each with an optional layer,
output and group) and the measures. Every model is loaded by :mod:`simfunc.models` and
recorded by :mod:`simfunc.extract`, as ``simfunc compare`` and ``simfunc map`` do; the pairs
are runner jobs (:mod:`.jobs`); the files are ``results.sqlite``, ``summary.json``,
``pairs.csv``, ``relation.csv`` and ``report.html`` (:mod:`.run`).
"""

from __future__ import annotations

from simfunc.study.analysis import (
    LeaderboardRow,
    ModelResult,
    PairValue,
    RelationRow,
    StudySummary,
)
from simfunc.study.config import (
    DataConfig,
    IntervalConfig,
    MeasuresConfig,
    ModelConfig,
    StatisticsConfig,
    StudyConfig,
    load_config,
)
from simfunc.study.run import OwnStudyResult, run_study_config, study_plan

__all__ = ["run_study_config", "load_config", "study_plan", "OwnStudyResult", "StudyConfig",
           "DataConfig", "ModelConfig", "MeasuresConfig", "IntervalConfig", "StatisticsConfig",
           "StudySummary", "ModelResult", "PairValue", "RelationRow", "LeaderboardRow"]
