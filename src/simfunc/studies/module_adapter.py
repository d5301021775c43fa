"""TRANSITIONAL — runs a study still written as a plain module through the :class:`Study` contract.

A module-style study defines ``NAME``, ``TITLE``, ``PROFILES``, ``plan(settings) -> Plan``,
``analyse(db, settings, figures_dir) -> (summary, Section)`` and a ``LEADERBOARD``
:class:`~simfunc.studies.base.Selection` (or None). :func:`simfunc.studies.framework.load_study`
wraps such a module in :class:`ModuleStudy`. Convert a study by making it a
:class:`~simfunc.studies.base.Study` subclass exposed as ``STUDY``; when the last one is
converted, delete this module and the branch of ``load_study`` that uses it.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, Mapping

from simfunc.runner import Plan
from simfunc.store import ResultsDB
from simfunc.studies.base import AnalysisContext, Selection, Study, StudyOutput

__all__ = ["ModuleStudy"]


class ModuleStudy(Study[Any]):
    """A module-style study seen through the Study contract (see the module docstring)."""

    def __init__(self, module: ModuleType) -> None:
        self.module = module
        self.NAME = module.NAME  # type: ignore[misc]  # per instance: one adapter per module
        self.TITLE = module.TITLE  # type: ignore[misc]
        self.LEADERBOARD: Selection | None = getattr(module, "LEADERBOARD", Selection())  # type: ignore[misc]

    @property
    def PROFILES(self) -> Mapping[str, Any]:  # type: ignore[override]
        profiles: Mapping[str, Any] = self.module.PROFILES
        return profiles

    def plan(self, settings: Any) -> Plan:
        plan: Plan = self.module.plan(settings)
        return plan

    def analyse(self, results: ResultsDB, context: AnalysisContext[Any]) -> StudyOutput:
        summary, section = self.module.analyse(results, context.settings, context.figures_dir)
        return StudyOutput(summary, section)
