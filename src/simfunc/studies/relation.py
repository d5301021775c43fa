"""One :class:`Relation` per relation a study tests: the typed value every study's result uses
for a correlation with its inference (:mod:`simfunc.studies.serialise` writes it, with the rest
of the result, to ``summary.json``).

A :class:`Relation` is what :func:`simfunc.studies.common.relation_summary` (and through it
:func:`~simfunc.studies.common.relate_headline`) computes: Spearman's ρ of y on x over a set of
points (pairs of networks, checkpoints), its p-value and 95% interval, the number of points and
the population they are, the statistic (one correlation over every pair, or the mean over
blocks of the correlation within each), and how the p-value and interval were obtained
(``inference``: network-level, or pair-level when the points are not pairs of networks or the
network-level procedures are undefined) — or why the relation is undefined. The study's prose,
its scorecard rows, the leaderboard and the tests all read its attributes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["MEAN", "NETWORK_LEVEL", "PAIR_LEVEL", "POOLED", "Relation"]

#: How a :class:`Relation`'s p-value and interval were computed.
NETWORK_LEVEL = "network-level"
PAIR_LEVEL = "pair-level"

#: The statistic of a :class:`Relation` (the ``combine`` of :func:`simfunc.stats.relate_networks`).
POOLED = "pooled"
MEAN = "mean"


def _interval(values: Any) -> tuple[float, float] | None:
    return None if values is None else (float(values[0]), float(values[1]))


def _optional(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class Relation:
    """How y relates to x over a study's points, with its inference — or why it is undefined.

    Attributes:
        n: the points the relation was computed on (pairs of networks, checkpoints against
            their final model). population: which points, in words (None: not declared).
        expected_sign: the direction the study's claim expects (+1: y rises with x, −1: falls).
        statistic: ``"pooled"`` (one Spearman ρ over every point) or ``"mean"`` (the mean over
            blocks of the Spearman ρ within each); a pair-level relation is always pooled.
        inference: :data:`NETWORK_LEVEL` (networks relabelled and redrawn:
            :func:`simfunc.stats.relate_networks`), :data:`PAIR_LEVEL` (points treated as
            independent: :func:`simfunc.stats.relate`), or None when undefined.
        rho: Spearman's ρ (the statistic); None when undefined.
        p_value: the **network-level** two-sided permutation p-value; None when the inference
            is pair-level or the design too sparse (``notes``).
        ci: the **network-level** 95% percentile bootstrap interval of ρ; None when the
            inference is pair-level or too few resamples have a defined ρ (``notes``). The only
            interval a verdict may use (:func:`simfunc.studies.common.relation_interval`).
        pair_p_value, pair_ci: the same treating the points as independent (too small / too
            narrow when pairs share networks), shown beside.
        kendall, kendall_p, pair_kendall_p: Kendall's τ-b, its network-level and pair-level
            p-values.
        slope, intercept: the least-squares line y ≈ slope x + intercept over every point.
        discordant_fraction: the fraction of pairs of points that break the expected trend
            (:func:`simfunc.studies.common.discordant_fraction`).
        n_networks, n_blocks: the network-level design's size (None without one).
        permutation, n_relabellings, design, n_resamples_used: how the network-level
            procedures ran (see :class:`simfunc.stats.NetworkRelation`).
        confidence, n_permutations, n_resamples, seed: the settings that produced it.
        notes: why a value is None, or what to keep in mind reading it.
        undefined: why the relation is undefined (a constant variable, too few points), else
            None. network_level_undefined: why the inference fell back to pair-level, else None.
    """

    n: int
    population: str | None = None
    expected_sign: int | None = None
    statistic: str = POOLED
    inference: str | None = None
    rho: float | None = None
    p_value: float | None = None
    ci: tuple[float, float] | None = None
    pair_p_value: float | None = None
    pair_ci: tuple[float, float] | None = None
    kendall: float | None = None
    kendall_p: float | None = None
    pair_kendall_p: float | None = None
    slope: float | None = None
    intercept: float | None = None
    discordant_fraction: float | None = None
    n_networks: int | None = None
    n_blocks: int | None = None
    permutation: str | None = None
    n_relabellings: int | None = None
    design: str | None = None
    n_resamples_used: int | None = None
    confidence: float | None = None
    n_permutations: int | None = None
    n_resamples: int | None = None
    seed: int | None = None
    notes: tuple[str, ...] = ()
    undefined: str | None = None
    network_level_undefined: str | None = None

    @property
    def network_level(self) -> bool:
        """Whether ρ's p-value and interval are network-level."""
        return self.inference == NETWORK_LEVEL

    @classmethod
    def undefined_because(cls, n: int, why: str, expected_sign: int | None = None,
                          population: str | None = None) -> Relation:
        """A relation that could not be computed over ``n`` points, and why."""
        return cls(n=int(n), undefined=why, expected_sign=expected_sign, population=population)

    @classmethod
    def pair_level(cls, relation: Any, expected_sign: int, discordant: float,
                   network_level_undefined: str | None = None,
                   n_networks: int | None = None) -> Relation:
        """From a :class:`simfunc.stats.Relation` (points treated as independent)."""
        return cls(
            n=int(relation.n), expected_sign=expected_sign, statistic=POOLED,
            inference=PAIR_LEVEL, rho=float(relation.spearman),
            pair_p_value=float(relation.spearman_p), pair_ci=_interval(relation.spearman_ci),
            kendall=float(relation.kendall), pair_kendall_p=_optional(relation.kendall_p),
            slope=float(relation.slope), intercept=float(relation.intercept),
            discordant_fraction=discordant, n_networks=n_networks,
            confidence=relation.confidence, n_permutations=relation.n_permutations,
            n_resamples=relation.n_resamples, seed=relation.seed,
            network_level_undefined=network_level_undefined)

    @classmethod
    def from_network(cls, relation: Any, expected_sign: int, discordant: float) -> Relation:
        """From a :class:`simfunc.stats.NetworkRelation`."""
        return cls(
            n=int(relation.n_pairs), expected_sign=expected_sign, statistic=relation.combine,
            inference=NETWORK_LEVEL, rho=float(relation.spearman),
            p_value=None if relation.spearman_p is None else float(relation.spearman_p),
            ci=_interval(relation.spearman_ci),
            pair_p_value=float(relation.pair_spearman_p),
            pair_ci=_interval(relation.pair_spearman_ci), kendall=float(relation.kendall),
            kendall_p=None if relation.kendall_p is None else float(relation.kendall_p),
            pair_kendall_p=_optional(relation.pair_kendall_p), slope=float(relation.slope),
            intercept=float(relation.intercept), discordant_fraction=discordant,
            n_networks=int(relation.n_networks), n_blocks=int(relation.n_blocks),
            permutation=relation.permutation, n_relabellings=int(relation.n_relabellings),
            design=relation.design, n_resamples_used=int(relation.n_resamples_used),
            confidence=relation.confidence, n_permutations=relation.n_permutations,
            n_resamples=relation.n_resamples, seed=relation.seed, notes=tuple(relation.notes))
