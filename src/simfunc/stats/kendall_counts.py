"""Kendall's tau-b of many rows at once in O(n log n) per row, from counted pairs (numpy only).

Knight's method (W. R. Knight, "A computer method for calculating Kendall's tau with
ungrouped data", JASA 61(314), 1966), vectorised over the rows of a batch:

1. Each row's points are put in the order of (x, then y). A pair is then *discordant*
   exactly when its y values are strictly inverted in that order (a pair tied in x is in
   y order, so never inverted; a pair tied in y is not strictly inverted). The number D of
   strict inversions is counted by a bottom-up merge sort run on all rows together: at the
   level of blocks of 2h positions (two halves already sorted by the level below), each
   value is tagged ``2 v + (1 if in the right half)`` and the block sorted, so a left value
   comes before every right value that is not smaller than it. A left value at merged
   position q, the i-th of its half, then has exactly q - i right values before it, all
   strictly smaller: the block's inversions are ``sum over left values of q - h (h - 1) / 2``.
   log2(n) levels of O(n log n) SIMD sorts of small blocks per row, no Python loop over
   the points.
2. The ties: n1 and n2, the pairs tied in x and in y, from counts of each rank
   (``sum c (c - 1) / 2``); n3, the pairs tied in both, from run lengths of the sorted
   (x, y) keys (0 when x has no ties). With n0 = n (n - 1) / 2,

       C - D = n0 - n1 - n2 + n3 - 2 D,
       tau_b = (C - D) / sqrt((n0 - n1) (n0 - n2)),

   as ``scipy.stats.kendalltau`` (variant "b", which uses the same counts). All counts are
   exact integers; only the last division rounds.

A row constant in x or in y has no tau (n0 = n1 or n0 = n2): it gets NaN, for the callers
to drop. Values are clipped to [-1, 1].

Invariances: tau_b depends on x and y only through their orders, so it is unchanged by
strictly increasing transformations of either; tau(x, y) = tau(y, x) and
tau(x, -y) = -tau(x, y).
"""

from __future__ import annotations

import numpy as np

__all__ = ["kendall_tau_b_rows", "order_codes", "tau_b_of_codes"]

# The merge sort starts from blocks of 8 to 15 positions (so that padding to the width
# base * 2**levels adds under 2/15 of n for n > 15), whose inversions are counted by direct
# comparison, which is cheaper than the first three merge levels (measured: bases of 4-7,
# 6-11 and 12-23 were no faster at n = 30 to 1,000).
_SMALLEST_BASE, _LARGEST_BASE = 8, 15


def kendall_tau_b_rows(x_rows: np.ndarray, y_rows: np.ndarray) -> np.ndarray:
    """Kendall's tau-b of each row of ``x_rows`` with the same row of ``y_rows`` (B, n).

    Inputs are finite and already validated. An ``x_rows`` broadcast from one row (stride 0
    along the rows, as the permutation test passes it) is ranked once.
    """
    rows = y_rows.shape[0]
    shared_x = rows > 1 and x_rows.strides[0] == 0
    x_codes = order_codes(x_rows[:1] if shared_x else x_rows)
    return tau_b_of_codes(x_codes, order_codes(y_rows))


def order_codes(values: np.ndarray) -> np.ndarray:
    """Dense ranks 0..k-1 of each row of ``values`` (B, n), int64: equal values share one."""
    order = np.argsort(values, axis=1)
    ordered = np.take_along_axis(values, order, axis=1)
    new_value = np.empty(ordered.shape, dtype=np.int64)
    new_value[:, :1] = 0
    np.not_equal(ordered[:, 1:], ordered[:, :-1], out=new_value[:, 1:])
    codes = np.empty_like(new_value)
    np.put_along_axis(codes, order, np.cumsum(new_value, axis=1), axis=1)
    return codes


def tau_b_of_codes(
    x_codes: np.ndarray, y_codes: np.ndarray, rows_are_permutations: bool = False
) -> np.ndarray:
    """tau-b of rows of integer codes in [0, n) that order as the values do (B or 1, n).

    Any order-preserving codes will do (dense ranks, or dense ranks gathered by a
    permutation or a resample). ``x_codes`` of one row is shared by every row of y.
    ``rows_are_permutations``: every row of ``y_codes`` is a permutation of its first, so
    y's ties are counted once (the permutation tests' case).
    """
    rows, n = y_codes.shape
    x_ties = _tied_pairs_of_codes(x_codes)
    if rows_are_permutations:
        y_ties = np.broadcast_to(_tied_pairs_of_codes(y_codes[:1]), (rows,))
    else:
        y_ties = _tied_pairs_of_codes(y_codes)
    if x_codes.shape[0] == 1 and x_ties[0] == 0:
        # One x without ties: the (x, then y) order is x's order, the same for every row.
        y_in_order = np.take(y_codes, np.argsort(x_codes[0]), axis=1)
        both_ties = np.zeros(rows, dtype=np.int64)
    else:
        # Order by (x, then y): sort a combined key, exact in int32 while n**2 < 2**31 (a
        # faster sort) and in int64 beyond.
        key_type = np.int32 if n * n < 2**31 else np.int64
        key = x_codes.astype(key_type) * key_type(n) + y_codes.astype(key_type)
        sorted_key = np.sort(key, axis=1)
        both_ties = _tied_pairs_of_sorted(sorted_key)
        y_in_order = sorted_key % n
    discordant = _strict_inversions(y_in_order)

    total = n * (n - 1) // 2
    untied_x = np.broadcast_to(total - x_ties, (rows,))
    untied_y = total - y_ties
    numerator = (total - x_ties - y_ties + both_ties - 2 * discordant).astype(np.float64)
    denominator = np.sqrt(untied_x.astype(np.float64)) * np.sqrt(untied_y.astype(np.float64))
    tau = np.full(rows, np.nan)
    np.divide(numerator, denominator, out=tau, where=(untied_x > 0) & (untied_y > 0))
    np.clip(tau, -1.0, 1.0, out=tau)
    return tau


def _tied_pairs_of_codes(codes: np.ndarray) -> np.ndarray:
    """Per row of codes in [0, n): the pairs of equal codes, sum over codes of c (c - 1) / 2."""
    rows, n = codes.shape
    flat = (codes + (n * np.arange(rows, dtype=np.int64))[:, None]).ravel()
    counts = np.bincount(flat, minlength=rows * n).reshape(rows, n)
    return (counts * (counts - 1)).sum(axis=1) // 2


def _tied_pairs_of_sorted(sorted_values: np.ndarray) -> np.ndarray:
    """Per row of sorted values: the pairs of equal values, ``sum_i (i - s_i)`` where s_i is
    where the run of values equal to position i's starts."""
    positions = np.arange(sorted_values.shape[1], dtype=np.int64)
    starts = np.empty(sorted_values.shape, dtype=bool)
    starts[:, :1] = True
    np.not_equal(sorted_values[:, 1:], sorted_values[:, :-1], out=starts[:, 1:])
    run_start = np.where(starts, positions, 0)
    np.maximum.accumulate(run_start, axis=1, out=run_start)
    return (positions - run_start).sum(axis=1)


def _strict_inversions(values: np.ndarray) -> np.ndarray:
    """Per row: the number of pairs i < j with ``values[i] > values[j]`` (B, n) ints in [0, n).

    Bottom-up merge sort over all rows at once (see the module docstring). The rows are
    padded to ``base * 2**levels`` positions with the value n, above every other, which adds
    no inversion. Blocks of ``base`` are counted by direct comparison and sorted; then each
    level merges blocks of two sorted halves by sorting tagged values. Position sums are
    taken over the right values (tag 1): ``sum_left q = sum_all q - sum_right q``.
    """
    rows, n = values.shape
    levels = 0
    while _LARGEST_BASE << levels < n:
        levels += 1
    base = max(_SMALLEST_BASE, -(-n >> levels))
    width = base << levels
    # int32 sorts about twice as fast; tagged values (< 2 n + 2) and sums of positions
    # (< width**2) must fit in it.
    dtype = np.int32 if width * width < 2**31 else np.int64
    padded = np.full((rows, width), n, dtype=dtype)
    padded[:, :n] = values
    blocks = padded.reshape(rows, width // base, base)
    inversions = np.zeros(rows, dtype=np.int64)
    for distance in range(1, base):
        inversions += np.count_nonzero(blocks[:, :, :-distance] > blocks[:, :, distance:],
                                       axis=(1, 2))
    padded = np.sort(blocks, axis=2).reshape(rows, width)
    half = base
    while half < width:
        n_blocks = width // (2 * half)
        tagged = padded.reshape(rows, n_blocks, 2 * half) << 1
        tagged[:, :, half:] |= 1
        tagged.sort(axis=2)
        positions = np.tile(np.arange(2 * half, dtype=dtype), n_blocks)
        right_positions = (tagged & 1).reshape(rows, width) @ positions
        all_positions = n_blocks * half * (2 * half - 1)  # 0 + 1 + ... + (2h - 1) per block
        inversions += all_positions - right_positions - n_blocks * (half * (half - 1) // 2)
        padded = (tagged >> 1).reshape(rows, width)
        half *= 2
    return inversions
