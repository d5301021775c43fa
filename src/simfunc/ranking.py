"""Average ranks and rank correlations along the rows of a matrix, vectorised.

Shared by ``simfunc.functional.spearman`` (one rank correlation per example, between two
output vectors) and ``simfunc.stats`` (rank correlations of permuted and bootstrap-resampled
sequences, one per row). Pure numpy; inputs are assumed finite and already validated.
"""

from __future__ import annotations

import numpy as np

__all__ = ["average_ranks", "centred_average_ranks", "row_correlation"]


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..k of each row of ``values`` (m, k); tied values share their average rank.

    Equals ``scipy.stats.rankdata(values, method="average", axis=1)``. One argsort per row;
    the tie correction runs only on the rows that have ties.
    """
    values = np.asarray(values)
    m, k = values.shape
    order = np.argsort(values, axis=1)
    sorted_values = np.take_along_axis(values, order, axis=1)
    ranks_in_order = np.broadcast_to(np.arange(1, k + 1, dtype=np.float64), (m, k))

    starts_group = np.empty((m, k), dtype=bool)
    starts_group[:, 0] = True
    np.not_equal(sorted_values[:, 1:], sorted_values[:, :-1], out=starts_group[:, 1:])
    tied_rows = np.flatnonzero(~starts_group.all(axis=1))
    if tied_rows.size:
        ranks_in_order = np.array(ranks_in_order)
        ranks_in_order[tied_rows] = _tied_ranks_in_order(starts_group[tied_rows])

    ranks = np.empty((m, k), dtype=np.float64)
    np.put_along_axis(ranks, order, ranks_in_order, axis=1)
    return ranks


def _tied_ranks_in_order(starts_group: np.ndarray) -> np.ndarray:
    """Average ranks of sorted rows, given where each run of equal values starts."""
    m, k = starts_group.shape
    positions = np.arange(k)
    first = np.where(starts_group, positions, 0)
    np.maximum.accumulate(first, axis=1, out=first)
    ends_group = np.empty_like(starts_group)
    ends_group[:, :-1] = starts_group[:, 1:]
    ends_group[:, -1] = True
    last = np.where(ends_group, positions, k - 1)[:, ::-1]
    last = np.minimum.accumulate(last, axis=1)[:, ::-1]
    return (first + last) / 2.0 + 1.0


def centred_average_ranks(values: np.ndarray) -> np.ndarray:
    """Average ranks minus their mean (k + 1) / 2, which ties do not change.

    The results are exact multiples of one half, so sums of their products are exact in
    float64 for any realistic k.
    """
    k = values.shape[1]
    ranks = average_ranks(values)
    ranks -= (k + 1) / 2.0
    return ranks


def row_correlation(
    a: np.ndarray, b: np.ndarray, *, both_constant: float = np.nan, one_constant: float = np.nan
) -> np.ndarray:
    """Pearson correlation of each row of ``a`` with the same row of ``b``; both centred.

    A row with zero variance has no correlation; it gets ``both_constant`` when both rows
    are constant and ``one_constant`` when exactly one is (no division by zero happens).
    Results are clipped to [-1, 1].
    """
    numerator = np.einsum("ij,ij->i", a, b)
    var_a = np.einsum("ij,ij->i", a, a)
    var_b = np.einsum("ij,ij->i", b, b)
    denominator = np.sqrt(var_a * var_b)
    defined = denominator > 0
    result = np.empty(a.shape[0], dtype=np.float64)
    np.divide(numerator, denominator, out=result, where=defined)
    np.clip(result, -1.0, 1.0, out=result)
    a_constant = var_a == 0
    b_constant = var_b == 0
    result[a_constant & b_constant] = both_constant
    result[a_constant ^ b_constant] = one_constant
    return result
