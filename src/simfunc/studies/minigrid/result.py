"""The MiniGrid study's typed result: what its analysis computes, and what its prose,
scorecard rows and tests read (attributes, never string keys).

:class:`MiniGridResult` holds one :class:`VariantResult` per variant (its cells, its two
headline relations, the spread of its slopes), the headline in every population
(:class:`PopulationResult`), the bottleneck-minus-plain contrasts (:class:`Contrast`), and the
agents' counts and test returns. ``to_json()`` is ``summary.json``'s content (the framework
adds ``"schema"``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from simfunc.studies.common import relation_interval
from simfunc.studies.relation import Relation
from simfunc.studies.serialise import to_json

__all__ = [
    "AgentCount",
    "Cell",
    "CellRelation",
    "Contrast",
    "EqualPolicies",
    "FactorLevel",
    "FactorTable",
    "MeanRelation",
    "MiniGridResult",
    "PopulationResult",
    "SlopeSpread",
    "TestReturn",
    "VariantResult",
    "to_json",
]


@dataclass(frozen=True)
class CellRelation:
    """One cell's Spearman ρ(CKA, output), least-squares line and fraction of discordant pairs
    of pairs over its pairs (pair-level, descriptive), or why they are undefined."""

    n_pairs: int
    rho: float | None = None
    slope: float | None = None
    intercept: float | None = None
    discordant_fraction: float | None = None
    undefined: str | None = None


@dataclass(frozen=True)
class Cell:
    """One (training room, test room) cell of one variant in the headline population.

    n_pairs: its pairs; categories: how many of each quality class; in_headline: whether its
    relations enter the means over cells (``left_out`` says why not); jsd, rank: its relation of
    CKA to each output measure.
    """

    train_size: int
    test_size: int
    n_pairs: int
    categories: dict[str, int]
    in_headline: bool
    left_out: str | None
    jsd: CellRelation
    rank: CellRelation


@dataclass(frozen=True)
class MeanRelation:
    """The thesis's statistic: the mean over cells of Spearman ρ(CKA, output), with
    network-level inference (:func:`simfunc.studies.common.relate_headline`).

    rho: the mean over cells (None when undefined: ``relation.undefined``). ci: the
    network-level 95% interval, or None and ``ci_undefined`` says why (e.g. too few runs per
    cell). p_value: the network-level Mantel p-value (None when it is not network-level).
    n_pairs, n_cells, cells: the pairs, cells and each cell's ρ. population: the pairs in
    words. relation: ``relate_headline``'s whole :class:`~simfunc.studies.relation.Relation`
    (pair-level values beside, notes).
    """

    output: str
    expected_sign: int
    rho: float | None
    ci: tuple[float, float] | None
    ci_undefined: str | None
    p_value: float | None
    n_pairs: int
    n_cells: int
    cells: tuple[float, ...]
    population: str
    relation: Relation

    @property
    def network_level(self) -> bool:
        return self.relation.network_level

    @classmethod
    def from_relation(cls, output: str, expected_sign: int, relation: Relation,
                      cells: tuple[float, ...], population: str) -> MeanRelation:
        """From a :class:`~simfunc.studies.relation.Relation` of a ``combine="mean"`` design.
        Without network-level inference the relation's ρ is not the mean over cells (it is the
        pooled pair-level ρ): the mean of the cells' ρ is shown, with no p-value."""
        ci, why = relation_interval(relation)
        if relation.undefined is not None or not cells:
            rho = None
        elif relation.network_level:
            rho = relation.rho
        else:
            rho = float(sum(cells) / len(cells))
        return cls(output=output, expected_sign=expected_sign, rho=rho, ci=ci, ci_undefined=why,
                   p_value=relation.p_value if relation.network_level else None,
                   n_pairs=relation.n, n_cells=len(cells), cells=tuple(cells),
                   population=population, relation=relation)


@dataclass(frozen=True)
class SlopeSpread:
    """How alike the cells' least-squares slopes are: mean, standard deviation (n − 1),
    interquartile range, min, max and the coefficient of variation std / |mean| (None when
    the mean is 0 or there is one slope)."""

    n_cells: int
    mean: float
    std: float | None
    iqr: float
    min: float
    max: float
    cv: float | None


@dataclass(frozen=True)
class VariantResult:
    """One variant's headline: its cells, the means over cells of ρ(CKA, JSD) and ρ(CKA, rank
    coefficient), the spread of the cells' CKA–JSD and CKA–rank slopes, the mean fraction of
    discordant pairs of pairs, the mean JSD per quality class, and every other
    representational measure's mean over cells of ρ(measure, JSD) (pair-level, descriptive)."""

    variant: str
    n_pairs: int
    n_agents: int
    cells: dict[str, Cell]
    jsd: MeanRelation
    rank: MeanRelation
    slopes_jsd: SlopeSpread | None
    slopes_rank: SlopeSpread | None
    mean_discordant_fraction: float | None
    mean_jsd_by_category: dict[str, float | None]
    other_measures: dict[str, float]

    def relation(self, key: str) -> MeanRelation:
        """``"jsd"`` or ``"rank"``."""
        return {"jsd": self.jsd, "rank": self.rank}[key]


@dataclass(frozen=True)
class PopulationResult:
    """The headline relations of every variant in one population of pairs."""

    name: str
    same_run_pairs: bool
    suboptimal: str
    headline: bool
    n_pairs: dict[str, int]
    jsd: dict[str, MeanRelation]
    rank: dict[str, MeanRelation]


@dataclass(frozen=True)
class Contrast:
    """``bottleneck − plain`` of one statistic (the mean over cells of ρ(CKA, JSD), or the
    spread of the cells' standardized slopes), with the network-bootstrap interval that
    redraws each variant's runs independently (:func:`simfunc.stats.network_difference`);
    ``undefined`` says why there is no value, ``ci_undefined`` why there is no interval."""

    statistic: str
    plain: float | None
    bottleneck: float | None
    difference: float | None
    ci: tuple[float, float] | None
    ci_undefined: str | None
    n_resamples_used: int = 0
    notes: tuple[str, ...] = ()
    undefined: str | None = None


@dataclass(frozen=True)
class AgentCount:
    """One cell's agents by quality, and how many of its runs end optimal."""

    variant: str
    train_size: int
    optimal: int
    mediocre: int
    poor: int
    runs: int
    runs_solved: int


@dataclass(frozen=True)
class TestReturn:
    """The mean return of a cell's agents on one test room (the episodes pairs are compared on)."""

    variant: str
    train_size: int
    test_size: int
    mean_return: float


@dataclass(frozen=True)
class FactorLevel:
    """One row: ``factor`` changed to ``level``; per variant its pairs and ρ(CKA, JSD)
    (mean over cells, network-level), bottleneck − plain, and qualities (agents per quality
    class, for the training-budget rows). ``note``: why a row was not computed, or a caveat."""

    factor: str
    level: str
    is_headline: bool
    n_pairs: dict[str, int]
    jsd: dict[str, MeanRelation]
    difference: float | None
    qualities: dict[str, dict[str, int]] | None = None
    note: str | None = None


@dataclass(frozen=True)
class EqualPolicies:
    """One variant's pairs of two optimal agents (headline population): how many, the share
    whose greedy paths differ, their mean JSD when the paths agree and when they differ, and
    the mean share of pooled states on which both act on a shortest path with different
    actions."""

    n_pairs: int
    share_paths_differ: float | None
    mean_jsd_paths_agree: float | None
    mean_jsd_paths_differ: float | None
    mean_equal_good_disagreement: float | None


@dataclass(frozen=True)
class FactorTable:
    """The bottleneck factor table (:mod:`~simfunc.studies.minigrid.factors`)."""

    levels: tuple[FactorLevel, ...]
    equal_policies: dict[str, EqualPolicies]


@dataclass(frozen=True)
class MiniGridResult:
    """Everything the MiniGrid analysis computes (see the module docstring).

    missing: per thesis measure, how many recorded pairs lack it (left out as undefined).
    """

    population: dict[str, Any]
    n_agents: int
    n_pairs: int
    n_headline_pairs: int
    agents: tuple[AgentCount, ...]
    variants: dict[str, VariantResult]
    populations: tuple[PopulationResult, ...]
    stronger: Contrast | None
    slopes_alike: Contrast | None
    test_returns: tuple[TestReturn, ...]
    missing: dict[str, int]
    thesis: dict[str, Any]
    factors: FactorTable | None = None

    def to_json(self) -> dict[str, Any]:
        """``summary.json``'s content."""
        out: dict[str, Any] = to_json(self)
        return out
