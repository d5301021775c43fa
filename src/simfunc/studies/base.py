"""The study contract: what a study declares, and what the framework hands it.

A study is a thesis section in code. It subclasses :class:`Study` and declares:

* ``NAME`` (the command-line name, ``simfunc run NAME``), ``TITLE`` (the report's heading) and
  ``SECTION`` (the thesis section it re-derives, or None);
* ``PROFILES``: ``{"quick": Settings(...), "standard": ..., "paper": ...}``, instances of the
  study's settings, a frozen dataclass whose fields may be nested frozen dataclasses (the
  training configuration), each overridable with ``--set name=value`` / ``--set group.name=value``;
* ``RESULT``: the type of its analysis's result (frozen dataclasses whose fields are the
  quantities, each relation a :class:`~simfunc.studies.relation.Relation`);
* ``LEADERBOARD``: which of its pairs the measure leaderboard compares (a :class:`Selection`),
  or None when it contributes none; a study with a headline relation declares it instead by
  ``headlines(results, settings)`` (:class:`Headline`), which its analysis and the
  leaderboard both use;
* ``plan(settings) -> Plan``: the jobs (train, extract, compare…); each job's ``record`` function
  puts its results into the results database;
* ``analyse(results, context) -> StudyOutput``: reads *only* the results database (so ``simfunc
  report RUN_DIR`` rebuilds the same report later), draws the figures into
  ``context.figures_dir``, and returns its typed result (frozen dataclasses, each relation a
  :class:`~simfunc.studies.relation.Relation`; ``summary.json`` is its JSON form) and the
  report section, whose
  thesis comparison is declared as :class:`~simfunc.report.ThesisRow` s; the rows with an
  ``id`` are the study's scorecard claims (:mod:`simfunc.scorecard`), judged by its one rule.

The module ``simfunc.studies.<name>`` (a package: ``__init__.py`` holds the study, ``jobs.py``
the job functions only it needs, ``prose.py`` its report's words) exposes the instance as
``STUDY``; :data:`simfunc.studies.framework.STUDIES` lists the modules. See
``docs/adding-a-study.md`` for a whole study in under 100 lines.
"""

from __future__ import annotations

import abc
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Dict, Generic, List, Mapping, TypeVar, Union

from simfunc.errors import InputError
from simfunc.report import Section
from simfunc.settings import apply_overrides
from simfunc.studies.serialise import to_json

if TYPE_CHECKING:
    import pandas as pd

    from simfunc.runner import Plan
    from simfunc.store import ResultsDB

__all__ = ["JSON", "Selection", "Headline", "AnalysisContext", "StudyOutput", "Study", "SettingsT"]

#: A JSON value: what ``summary.json`` holds.
JSON = Union[None, bool, int, float, str, List["JSON"], Dict[str, "JSON"]]

#: A study's settings type: a frozen dataclass.
SettingsT = TypeVar("SettingsT")


@dataclass(frozen=True)
class Selection:
    """Which of a study's pairs the measure leaderboard compares.

    layer: the representational layer (None: the study's ``layer`` setting, else
    ``features``). trained_only: both models trained. exclude_kinds: leave out pairs in which
    either model is of one of these kinds. group_by: a key of the models' ``extra`` that splits
    the study into groups (by model_a's value), named ``<study>/<value>``.

    The leaderboard's p-values and intervals are network-level (a Mantel test relabelling
    networks, a bootstrap redrawing them; :mod:`simfunc.stats.network`), within the study's
    own networks. Two fields say how, when each network is not an exchangeable, independent
    unit. Each names a column of the ``models`` table (such as ``kind``) or a key of the
    models' ``extra``:

    * strata: networks are relabelled only among networks that share the values of these
      keys. Declare them when pairs exist only within such groups, so that relabelling maps
      compared pairs onto compared pairs: the checkpoints study compares each checkpoint with
      its run's final model, so ``("run", "kind")`` relabels a run's checkpoints among
      themselves, never with a final model or another run's. A network without a key shares
      the value None. Default: every network of the study (of the group) is exchangeable.
    * clusters: networks with the same value are redrawn together by the bootstrap: the
      independent units when networks are not (the checkpoints of one training run:
      ``"run"``). A network without the key is a unit of its own. Default: each network.
    """

    layer: str | None = None
    trained_only: bool = False
    exclude_kinds: tuple[str, ...] = ()
    group_by: str | None = None
    strata: tuple[str, ...] = ()
    clusters: str | None = None


@dataclass(frozen=True)
class Headline:
    """A study's headline relation, declared once: which pairs, and how they are related.

    The study's own headline numbers and the measure leaderboard's rows for its group are both
    computed from this one declaration by :func:`simfunc.studies.common.relate_headline` (a
    network-level :func:`simfunc.stats.relate_networks`), so the leaderboard's ``(group,
    linear_cka, jsd)`` row has exactly the study's ρ, p and interval.

    Attributes:
        group: the leaderboard group ("architectures", "minigrid/plain").
        pairs: one row per pair of the headline population: ``model_a``, ``model_b`` and one
            column per measure (representational at the compared layer, and output measures);
            ``blocks`` names a further column when the design has blocks.
        population: the population in words ("pairs of trained networks").
        blocks: the column of ``pairs`` that splits them into blocks (one pair matrix each:
            a test set, a MiniGrid cell, a training run), or None for one block.
        combine: "pooled" (one correlation over every pair) or "mean" (the mean over blocks
            of the correlation within each).
        strata, clusters, bootstrap_strata: network -> group mappings, as
            :func:`~simfunc.stats.relate_networks` takes them (None: its defaults).
        n_permutations, n_resamples, seed: the Monte Carlo settings.
    """

    group: str
    pairs: "pd.DataFrame"
    population: str
    blocks: str | None = None
    combine: str = "pooled"
    strata: Mapping[str, Any] | None = None
    clusters: Mapping[str, Any] | None = None
    bootstrap_strata: Mapping[str, Any] | None = None
    n_permutations: int = 10_000
    n_resamples: int = 10_000
    seed: int = 0


@dataclass(frozen=True)
class AnalysisContext(Generic[SettingsT]):
    """What the framework hands ``analyse`` besides the results database."""

    settings: SettingsT  # the settings the run used (the profile's, overrides applied)
    profile: str  # quick, standard or paper
    figures_dir: Path  # where the figures go (created by the study's first figure)


@dataclass
class StudyOutput:
    """What ``analyse`` returns: the study's typed result and its report section.

    result: frozen dataclasses whose fields are the quantities the analysis computed (each
    relation a :class:`~simfunc.studies.relation.Relation`); the prose, the scorecard rows and
    the tests read its attributes. ``summary`` is its JSON form, ``summary.json``'s content
    (the framework adds ``"schema"``, ``"study"`` and ``"profile"``).
    """

    result: Any
    section: Section

    @property
    def summary(self) -> dict[str, JSON]:
        """The result as plain JSON values (:func:`~simfunc.studies.serialise.to_json`)."""
        out = to_json(self.result)
        if not isinstance(out, dict):
            raise TypeError(f"a study's result must be a dataclass, got {type(self.result)!r}")
        return out


class Study(abc.ABC, Generic[SettingsT]):
    """Base class of every study (see the module docstring)."""

    NAME: ClassVar[str]
    TITLE: ClassVar[str]
    #: The thesis section the study re-derives ("3.3", "4"); None for simfunc's own studies.
    SECTION: ClassVar[str | None] = None
    PROFILES: Mapping[str, SettingsT]
    LEADERBOARD: ClassVar[Selection | None] = Selection()
    #: The type of ``analyse``'s result (a frozen dataclass), so that a run directory's
    #: ``summary.json`` reads back as it (:func:`simfunc.studies.serialise.from_json`); None:
    #: not declared (an analysis found unchanged then leaves ``StudyResult.result`` None).
    RESULT: ClassVar[type | None] = None
    #: Scheduling only: in a reproduce, whose studies' jobs run as one plan, the jobs of a
    #: study with ``RUN_FIRST`` go ahead of the others' (for a study whose analysis is long,
    #: so that it runs while the other studies' jobs do). Results are the same either way.
    RUN_FIRST: ClassVar[bool] = False

    @abc.abstractmethod
    def plan(self, settings: SettingsT) -> Plan:
        """The jobs that compute everything the analysis reads."""

    @abc.abstractmethod
    def analyse(self, results: ResultsDB, context: AnalysisContext[SettingsT]) -> StudyOutput:
        """The headline numbers, figures and report section, from the results database alone."""

    def headlines(self, results: ResultsDB, settings: SettingsT) -> list[Headline]:
        """The study's headline relations (one per leaderboard group), from the results
        database alone; the study's analysis and the leaderboard both relate them. Default:
        none declared (the leaderboard then takes the pairs ``LEADERBOARD`` selects)."""
        return []

    def settings(self, profile: str, overrides: Mapping[str, object] | None = None,
                 source: str = "override") -> SettingsT:
        """The settings of ``profile`` with ``overrides`` applied (type-checked; dotted keys
        reach nested groups)."""
        if profile not in self.PROFILES:
            raise InputError(f"unknown profile {profile!r} for study {self.NAME!r}; choose from "
                             f"{', '.join(self.PROFILES)}")
        base = self.PROFILES[profile]
        if not dataclasses.is_dataclass(base) or isinstance(base, type):
            raise InputError(f"study {self.NAME!r}: PROFILES[{profile!r}] must be a settings "
                             "dataclass instance")
        result: SettingsT = apply_overrides(base, dict(overrides or {}), source)
        return result
