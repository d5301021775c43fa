"""Exact reductions for examples that repeat: compute on the k distinct rows, weighted.

States visited by agents repeat: a MiniGrid comparison pools up to 1,000 visited states of
which a few hundred are distinct. The measures built on n × n matrices (RSA, RBF CKA) then
hold many identical rows and columns, and their sums can be taken over the distinct rows with
multiplicities instead -- the same value (a reformulation, not an approximation), at about
(k/n)² of the cost.

Notation: the n examples fall into k groups of identical rows, example i in group g_i, group a
holding c_a examples. A matrix of the measure is *grouped* when its entry (i, j) depends only
on (g_i, g_j) off the diagonal: ``M_ij = A[g_i, g_j]`` for i ≠ j, and on the diagonal either the
same ``A[g_i, g_i]`` or zero (``GroupedMatrix.zero_diagonal``: U-centred kernels, the pairs
i < j of an RDM). Then

    Σ_ij M_ij N_ij = Σ_ab c_a c_b A_ab B_ab − [zero diagonal] Σ_a c_a A_aa B_aa

where, for two representations of the same examples, the groups are the *joint* ones (rows
equal in both: ``joint_groups``) and A, B are each model's matrix read at the joint groups'
representatives. Each model's own grouped matrix (its ranks, its centred kernel) needs only
its own groups, so it is computed once per model and reused for every pair.

``average_ranks`` and ``weighted_median`` give the ranks and the median of the expanded
multiset (each value repeated by its integer weight) exactly as ``scipy.stats.rankdata``
(average ranks for ties) and ``numpy.median`` (mean of the two middle values for an even
count) would on the expanded vector.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._prepared import PreparedFeatures
from ._xp import unique_rows

__all__ = ["RowGroups", "GroupedMatrix", "groups_from_inverse", "model_groups", "joint_groups",
           "grouped_inner", "grouping_pays", "expand_rows", "average_ranks", "weighted_median",
           "GROUPED_MAX_FRACTION"]

# The grouped path is taken when the distinct rows are at most this fraction of the examples:
# its per-model work is then at most a quarter of the expanded one's (sorts and products of
# k² instead of n² entries), while the expanded form's per-model cache (ranks, kernels) keeps
# serving many comparisons of the same model when rows hardly repeat (images).
GROUPED_MAX_FRACTION = 0.5


@dataclass(frozen=True)
class RowGroups:
    """Groups of identical examples.

    Attributes:
        inverse: (n,) int64, the group of each example.
        counts: (k,) int64, the number of examples in each group (all >= 1).
        first: (k,) int64, the first example of each group (its representative).
    """

    inverse: np.ndarray
    counts: np.ndarray
    first: np.ndarray

    @property
    def n(self) -> int:
        return int(self.inverse.shape[0])

    @property
    def k(self) -> int:
        return int(self.counts.shape[0])


def groups_from_inverse(inverse: np.ndarray) -> RowGroups:
    """The groups whose labels are ``inverse`` (labels 0..k−1, each used at least once, as
    ``np.unique(..., return_inverse=True)`` gives them)."""
    inverse = np.asarray(inverse, dtype=np.int64).reshape(-1)
    counts = np.bincount(inverse)
    first = np.empty(counts.shape[0], dtype=np.int64)
    positions = np.arange(inverse.shape[0], dtype=np.int64)
    first[inverse[::-1]] = positions[::-1]  # the last write is the earliest example
    return RowGroups(inverse, counts, first)


def model_groups(model: PreparedFeatures) -> RowGroups:
    """The groups of identical examples of one (numpy) model, computed once per model.

    Rows are compared as given (equal raw rows are equal centred rows too)."""

    def compute(m: PreparedFeatures) -> RowGroups:
        _, inverse = unique_rows(m.data if m.has_raw else m.centred)
        return groups_from_inverse(inverse)

    return model.cached("row_groups", compute)


def joint_groups(x: RowGroups, y: RowGroups) -> RowGroups:
    """Groups of examples equal in both representations (equal rows in X *and* in Y)."""
    key = x.inverse * np.int64(y.k) + y.inverse
    _, inverse = np.unique(key, return_inverse=True)
    return groups_from_inverse(inverse)


def grouping_pays(k: int, n: int) -> bool:
    """Whether k distinct rows among n examples make the grouped path the cheaper one."""
    return k <= GROUPED_MAX_FRACTION * n


@dataclass(frozen=True)
class GroupedMatrix:
    """An n × n symmetric matrix held as a k × k one on groups of identical examples.

    Entry (i, j) is ``matrix[g_i, g_j]`` for i ≠ j; on the diagonal it is the same, or zero
    when ``zero_diagonal``.
    """

    groups: RowGroups
    matrix: np.ndarray
    zero_diagonal: bool

    def expanded(self) -> np.ndarray:
        """The n × n matrix itself."""
        full = expand_rows(self.matrix, self.groups.inverse)
        if self.zero_diagonal:
            np.fill_diagonal(full, 0.0)
        return full

    def sq_sum(self) -> float:
        """``Σ_ij M_ij²`` over the n × n matrix."""
        return _weighted_sum(self.matrix, self.matrix, self.groups.counts, self.zero_diagonal)


def expand_rows(matrix: np.ndarray, inverse: np.ndarray) -> np.ndarray:
    """``matrix[inverse][:, inverse]``: a matrix on groups read at every example."""
    return matrix[inverse[:, None], inverse[None, :]]


def _weighted_sum(a: np.ndarray, b: np.ndarray, counts: np.ndarray, zero_diagonal: bool) -> float:
    weights = counts.astype(np.float64)
    product = a * b
    total = float(weights @ (product @ weights))
    if zero_diagonal:
        total -= float(weights @ np.diagonal(product))
    return total


def grouped_inner(x: GroupedMatrix, y: GroupedMatrix) -> float:
    """``Σ_ij M_ij N_ij`` of two grouped matrices on the same n examples, over their joint
    groups (k_joint² operations instead of n²)."""
    if x.zero_diagonal != y.zero_diagonal or x.groups.n != y.groups.n:
        raise ValueError("grouped matrices of different kinds or sizes")
    joint = joint_groups(x.groups, y.groups)
    at_x = x.groups.inverse[joint.first]
    at_y = y.groups.inverse[joint.first]
    a, b = expand_rows(x.matrix, at_x), expand_rows(y.matrix, at_y)
    return _weighted_sum(a, b, joint.counts, x.zero_diagonal)


def average_ranks(values: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Ranks 1..N of ``values``, ties given their average rank (``scipy.stats.rankdata``).

    With integer ``weights`` w_i, value i stands for w_i equal entries of an expanded vector
    of N = Σ w_i entries, and its rank is their (common, average) rank there: the weight of
    the smaller values plus (the weight of its tie group + 1) / 2. Ranks are half-integers,
    exact in float64. One sort and a few linear passes (scipy's rankdata does more work:
    about 5× the sort's time on 500,000 values here).
    """
    values = np.asarray(values).reshape(-1)
    m = values.shape[0]
    if m == 0:
        return np.empty(0)
    order = np.argsort(values)  # any order within ties: they share a rank
    ordered = values[order]
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    ends = np.append(starts[1:], m)  # one past each tie group
    if weights is None:
        group_rank = (starts + ends + 1) / 2.0
    else:
        cumulative = np.cumsum(np.asarray(weights, dtype=np.int64)[order])
        through = cumulative[ends - 1]  # weight up to and including the group
        before = np.concatenate(([0], through[:-1]))
        group_rank = (before + through + 1) / 2.0
    ranks = np.empty(m)
    ranks[order] = group_rank if starts.shape[0] == m else np.repeat(group_rank, ends - starts)
    return ranks


def weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    """``numpy.median`` of the expanded vector in which value i appears ``weights[i]`` times
    (integers >= 0, positive total): its middle entry, or the mean of its two middle entries
    for an even count."""
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    order = np.argsort(values)  # any order within ties: they share a rank
    ordered = values[order]
    cumulative = np.cumsum(np.asarray(weights, dtype=np.int64)[order])
    total = int(cumulative[-1])

    def at(position: int) -> float:  # the entry at 0-based ``position`` of the sorted expansion
        return float(ordered[np.searchsorted(cumulative, position, side="right")])

    if total % 2:
        return at(total // 2)
    return float(np.mean([at(total // 2 - 1), at(total // 2)]))
