"""Within-group against across-group similarity, with networks as the units.

Networks fall into groups (e.g. the data set each one was trained on), and a similarity is
measured for pairs of them, possibly in several blocks (e.g. one pair matrix per test set).
The contrast is

    D = (mean value of the pairs within a group) - (mean value of the pairs across groups),

over the pairs of every block together. Pairs that share a network are not independent, so
both the test and the interval treat networks as the units (``simfunc.stats.network``):

**Mantel test.** The values are related to the 0/1 "same group" matrix by relabelling the
networks (one relabelling for every block; Mantel 1967). In a complete design (every pair of
the networks compared in every block) a relabelling only permutes each block's values, so
their sum and sum of squares stay fixed and Pearson's r between the values and the 0/1
indicator is a positive multiple of D: the Mantel test of r
(``network_permutation_pvalue(statistic="pearson")``) *is* the test of D, exact when every
relabelling is enumerated (up to ``n_permutations``). Relabellings that map the groups onto
groups give the observed D again, so the design bounds the p-value from below: with group
sizes k_1..k_g (and m groups of each distinct size) at least ``prod(k_i!) prod(m!) / n!`` of
the relabellings are as extreme as the data, 0.1 for two groups of three networks, 1/35 for
two groups of four. ``smallest_p`` reports it.

**Network bootstrap.** Each group's networks are redrawn with replacement, as many as it has
(the groups are a fixed design factor), every compared pair of two distinct draws is rebuilt
(a network drawn k_a times and one drawn k_b times give their pair k_a k_b times; self-pairs
are left out), and D is recomputed; the percentile interval over the resamples is the CI
(Efron & Tibshirani 1993, ch. 13; the "bootstrap over conditions" of Nili et al. 2014). A
resample without a within pair or without an across pair (a group drawn as one network
repeated) has no D and is left out; ``n_resamples_used`` counts the rest. As with every
network bootstrap, the interval errs on the wide side with few networks.

References: N. Mantel, Cancer Research 27(2), 1967. H. Nili et al., PLoS Comput. Biol.
10(4):e1003553, 2014. B. Efron, R. Tibshirani, "An Introduction to the Bootstrap", 1993.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any, Mapping

import numpy as np

from simfunc.errors import InputError
from simfunc.stats._inputs import check_alternative, check_confidence, check_count, check_seed
from simfunc.stats.network import (
    BootstrapOutcome,
    _batch_rows,
    _block_clusters,
    _cluster_counts,
    network_weights,
    permutation_test,
)
from simfunc.stats.network_design import PairDesign, pair_design

__all__ = ["GroupContrast", "network_group_contrast"]


@dataclass(frozen=True)
class GroupContrast:
    """Mean similarity within groups against across groups, with network-level inference.

    Attributes:
        within, across: mean value of the pairs within a group / across groups.
        difference: ``within - across``.
        p: Mantel permutation p-value of the difference (``alternative``), network-level.
        ci: network-bootstrap percentile interval of the difference, or None (see notes).
        alternative: ``"two-sided"``, ``"greater"`` (within above across) or ``"less"``.
        exact: every admissible relabelling enumerated (else ``n_relabellings`` random ones:
            fewer than ``n_permutations`` when the sequential test stopped early, see
            ``simfunc.stats.sequential``).
        smallest_p: the smallest p-value the groups admit (see the module docstring).
        n_networks, n_within, n_across, n_blocks: the design's size.
        n_resamples_used: bootstrap resamples with both kinds of pair.
        seed, confidence, n_permutations, n_resamples: the settings that produced it.
        notes: why a value is None, or what to keep in mind when reading it.
    """

    within: float
    across: float
    difference: float
    p: float
    ci: tuple[float, float] | None
    alternative: str
    exact: bool
    n_relabellings: int
    smallest_p: float
    n_networks: int
    n_within: int
    n_across: int
    n_blocks: int
    n_resamples_used: int
    seed: int | None
    confidence: float
    n_permutations: int
    n_resamples: int
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (the interval and the notes as lists)."""
        return {**asdict(self), "ci": None if self.ci is None else list(self.ci),
                "notes": list(self.notes)}


def _weighted_difference(same: np.ndarray, values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """D of each row of pair weights (rows, pairs); NaN where one kind of pair has no weight."""
    within_weight = weights @ same
    across_weight = weights @ (1.0 - same)
    within_sum = weights @ (same * values)
    across_sum = weights @ ((1.0 - same) * values)
    out = np.full(weights.shape[0], np.nan)
    defined = (within_weight > 0) & (across_weight > 0)
    out[defined] = (within_sum[defined] / within_weight[defined]
                    - across_sum[defined] / across_weight[defined])
    return out


def _smallest_p(design: PairDesign) -> float:
    sizes = np.bincount(design.cluster_strata[design.clusters])
    repeated = Counter(int(size) for size in sizes)
    kept = (math.prod(math.factorial(int(size)) for size in sizes)
            * math.prod(math.factorial(count) for count in repeated.values()))
    return kept / math.factorial(design.n_networks)


def network_group_contrast(
    values: Any,
    a: Any,
    b: Any,
    groups: Mapping[Any, Any],
    *,
    blocks: Any = None,
    alternative: str = "two-sided",
    n_permutations: int = 10_000,
    n_resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int | None = 0,
) -> GroupContrast:
    """Mean similarity of pairs within a group minus across groups, with a Mantel p-value
    and a network-bootstrap interval (see the module docstring for both procedures).

    Args:
        values: one similarity per compared pair (e.g. linear CKA).
        a, b: the two networks of each pair (any hashable labels; order does not matter).
        groups: network label -> group (dict or pandas Series), for every network in a, b.
        blocks: the block of each pair (e.g. its test set); one relabelling applies to all
            blocks, and D pools their pairs. Every pair of the networks must be compared in
            every block (a complete design: the test of D is then exact).
        alternative: ``"two-sided"``, ``"greater"`` (within > across) or ``"less"``.
        n_permutations: random relabellings, >= 1; all are enumerated when there are no more.
        n_resamples: bootstrap resamples, >= 1.
        confidence: coverage of the interval, strictly between 0 and 1.
        seed: non-negative integer, or None for a fresh, irreproducible stream.

    Raises:
        InputError: naming the argument: a network without a group, no pair within a group or
            none across groups, an incomplete design, fewer than 4 networks, values that are
            constant or not finite, bad options.
    """
    alternative = check_alternative(alternative)
    n_permutations = check_count(n_permutations, "n_permutations")
    n_resamples = check_count(n_resamples, "n_resamples")
    confidence = check_confidence(confidence)
    seed = check_seed(seed)
    if not isinstance(groups, Mapping) and not hasattr(groups, "to_dict"):
        raise InputError("groups must map every network label to its group (a dict or Series)")
    group_of = dict(groups.to_dict() if hasattr(groups, "to_dict") else groups)
    first, second = list(a), list(b)
    missing = sorted({str(n) for n in first + second if n not in group_of})
    if missing:
        raise InputError(f"groups gives no group for the networks {', '.join(missing[:5])}")
    same = np.array([group_of[i] == group_of[j] for i, j in zip(first, second)], dtype=float)
    if len(same) and (same.min() == 1.0 or same.max() == 0.0):
        kind = "across groups" if same.min() == 1.0 else "within a group"
        raise InputError(f"values has no pair {kind}: the contrast needs both kinds of pair")
    design = pair_design(same, values, first, second, blocks=blocks, bootstrap_strata=group_of)
    design.check_defined("pooled")
    if not design.complete:
        raise InputError("values must hold every pair of the networks in every block (a "
                         "complete design); some pairs are missing")
    test = permutation_test(design, "pearson", "pooled", n_permutations, seed, alternative)
    observed = _weighted_difference(design.x, design.y, np.ones((1, design.n_pairs)))[0]
    rng = np.random.default_rng(seed)
    block_clusters = _block_clusters(design)
    parts = []
    for size in _batch_rows(n_resamples, design.n_pairs):
        weights, _ = network_weights(design, _cluster_counts(design, size, rng), block_clusters)
        parts.append(_weighted_difference(design.x, design.y, weights))
    resampled = BootstrapOutcome(np.concatenate(parts))
    notes: list[str] = []
    try:
        ci: tuple[float, float] | None = resampled.interval(confidence, "within - across")
    except InputError as error:
        ci = None
        notes.append(f"no network-level interval: {error}")
    dropped = n_resamples - resampled.defined.size
    if ci is not None and dropped:
        notes.append(f"{dropped} of {n_resamples} network bootstrap resamples drew no pair "
                     "within a group or none across groups and were left out")
    within = float(design.y[design.x == 1].mean())
    return GroupContrast(
        within=within, across=float(design.y[design.x == 0].mean()), difference=float(observed),
        p=test.p, ci=ci, alternative=alternative, exact=test.exact,
        n_relabellings=test.n_permutations, smallest_p=_smallest_p(design),
        n_networks=design.n_networks, n_within=int(design.x.sum()),
        n_across=int((design.x == 0).sum()), n_blocks=design.n_blocks,
        n_resamples_used=int(resampled.defined.size), confidence=confidence,
        n_permutations=n_permutations, n_resamples=n_resamples, seed=seed, notes=tuple(notes),
    )
