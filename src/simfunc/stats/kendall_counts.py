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

3. Weighted (expanded) samples, pair k counted w_k times (``weighted_tau_b_of_codes``): the
   same count with D the weight of the discordant pairs (each weight carried through the
   merge sort in the low bits of the tagged value) and the ties from the squared total
   weights of the tie groups; see that function.

A row constant in x or in y has no tau (n0 = n1 or n0 = n2): it gets NaN, for the callers
to drop. Values are clipped to [-1, 1].

Invariances: tau_b depends on x and y only through their orders, so it is unchanged by
strictly increasing transformations of either; tau(x, y) = tau(y, x) and
tau(x, -y) = -tau(x, y).
"""

from __future__ import annotations

import numpy as np

__all__ = ["kendall_tau_b_rows", "order_codes", "tau_b_of_codes", "weighted_tau_b_of_codes"]

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


# ------------------------------------------------------------------ weighted (expanded) samples


def weighted_tau_b_of_codes(
    x_codes: np.ndarray, y_codes: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """tau-b of the *expanded* samples in which point k appears ``weights[r, k]`` times.

    ``x_codes`` (1, n) and ``y_codes`` (1 or rows, n) are order-preserving integer codes in
    [0, n) (as for :func:`tau_b_of_codes`); ``weights`` (rows, n) are non-negative int64
    counts (0 leaves a point out). In row r, with W = sum_k w_k and the sums of squared
    weights of the groups of points tied in x, in y and in both,

        Sx = sum over x-groups G**2,  Sy = sum over y-groups G**2,  Sxy = sum over (x, y)-groups G**2

    (G the group's total weight; a point that ties with no other is a group of its own), the
    expanded sample has 2 (n0 - n1) = W**2 - Sx pairs untied in x counted twice (and likewise
    in y), and 2 (C - D) = W**2 - Sx - Sy + Sxy - 4 D, where the weighted discordant count
    D = sum over pairs k < l in (x, then y) order with y_k > y_l of w_k w_l is the weighted
    number of strict inversions of y in that order (copies of one point tie with each other
    in x and in y and count in neither C nor D). So

        tau_b = (W**2 - Sx - Sy + Sxy - 4 D) / sqrt((W**2 - Sx) (W**2 - Sy)),

    which equals the sign-array form ``w'(Sx o Sy)w / sqrt(w'|Sx|w * w'|Sy|w)`` and scipy's
    tau-b of the sample expanded by ``np.repeat``. Everything is exact integer arithmetic
    (int64; int32 where it cannot overflow) while 4 W**2 < 2**63, i.e. for row totals
    W < 2**30 (callers check it); only the last division rounds. A row
    constant in x or y over its weighted points (or with fewer than two units of weight
    there) has no tau: NaN.

    D is counted by the merge sort of :func:`_strict_inversions`, with weights: at each level a
    left value's inversions are the *weight* of the right values merged before it (cumulative
    sums of right-half weights in merged order), times its own weight. With one ordering for
    every row (one x and one y, only the weights change: the bootstrap), the merge order of
    each level is computed once on that row and the rows' weights are gathered through it.
    """
    rows, n = weights.shape
    total = weights.sum(axis=1)
    x_squares = _group_square_sums(x_codes, weights)
    y_squares = _group_square_sums(y_codes, weights)
    x_order = np.argsort(x_codes[0], kind="stable")
    x_sorted = x_codes[0][x_order]
    x_untied = n < 2 or bool(np.all(x_sorted[1:] != x_sorted[:-1]))
    if x_untied:
        # The (x, then y) order is x's order, and every (x, y) group is a single point.
        y_in_order = y_codes[:, x_order]
        w_in_order = weights[:, x_order]
        both_squares = np.einsum("rk,rk->r", weights, weights)
    elif y_codes.shape[0] == 1:
        key = x_codes[0] * n + y_codes[0]
        order = np.argsort(key, kind="stable")
        sorted_key = key[order]
        y_in_order = (sorted_key % n)[None, :]
        w_in_order = weights[:, order]
        both_squares = _run_square_sums(sorted_key[None, :], w_in_order)
    else:
        key = np.broadcast_to(x_codes * n, y_codes.shape) + y_codes
        sorted_key, w_in_order = _sort_with_weights(key, weights, n * n)
        y_in_order = sorted_key % n
        both_squares = _run_square_sums(sorted_key, w_in_order)
    if y_in_order.shape[0] == 1:
        discordant = _weighted_inversions_shared(y_in_order[0], w_in_order)
    else:
        discordant = _weighted_inversions(y_in_order, w_in_order)

    square = total * total
    untied_x = square - x_squares
    untied_y = square - y_squares
    numerator = (square - x_squares - y_squares + both_squares - 4 * discordant)
    denominator = np.sqrt(untied_x.astype(np.float64)) * np.sqrt(untied_y.astype(np.float64))
    tau = np.full(rows, np.nan)
    np.divide(numerator.astype(np.float64), denominator, out=tau,
              where=(untied_x > 0) & (untied_y > 0))
    np.clip(tau, -1.0, 1.0, out=tau)
    return tau


def _group_square_sums(codes: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per row: sum over the groups of equal codes of (the group's total weight)**2.

    ``codes`` (1 or rows, n) in [0, n); ``weights`` (rows, n) int64."""
    rows, n = weights.shape
    if codes.shape[0] == 1:
        order = np.argsort(codes[0], kind="stable")
        ordered = codes[0][order]
        starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
        groups = np.add.reduceat(weights[:, order], starts, axis=1)
    else:
        flat = (codes + (n * np.arange(rows, dtype=np.int64))[:, None]).ravel()
        # float64 sums of integers below 2**53 are exact.
        groups = np.bincount(flat, weights=weights.ravel(), minlength=rows * n)
        groups = groups.astype(np.int64).reshape(rows, n)
    return np.einsum("rk,rk->r", groups, groups)


def _run_square_sums(sorted_keys: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per row: sum over the runs of equal sorted keys (1 or rows, n) of (the run's weight)**2,
    ``weights`` (rows, n) int64 in the keys' order."""
    starts = np.empty(sorted_keys.shape, dtype=bool)
    starts[:, :1] = True
    np.not_equal(sorted_keys[:, 1:], sorted_keys[:, :-1], out=starts[:, 1:])
    if sorted_keys.shape[0] == 1:
        runs = np.add.reduceat(weights, np.flatnonzero(starts[0]), axis=1)
        return np.einsum("rk,rk->r", runs, runs)
    runs = np.add.reduceat(weights.ravel(), np.flatnonzero(starts.ravel()))
    runs *= runs
    first_run = np.r_[0, np.cumsum(starts.sum(axis=1))[:-1]]
    return np.add.reduceat(runs, first_run)


def _sort_with_weights(
    keys: np.ndarray, weights: np.ndarray, key_bound: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each row of int ``keys`` in [0, key_bound) sorted, with ``weights`` in the same order.

    The weight is packed into the low bits of the key, so one sort moves both (in int32 where
    it fits, about twice as fast); an argsort is the fallback when it does not fit in int64.
    """
    bits = max(1, int(weights.max(initial=0)).bit_length())
    if key_bound << bits < 2**63:
        dtype = np.int32 if key_bound << bits < 2**31 else np.int64
        packed = (keys.astype(dtype) << dtype(bits)) | weights.astype(dtype)
        packed.sort(axis=1)
        return (packed >> dtype(bits)).astype(np.int64), (packed & dtype((1 << bits) - 1)).astype(
            np.int64)
    order = np.argsort(keys, axis=1, kind="stable")
    return np.take_along_axis(keys, order, axis=1), np.take_along_axis(weights, order, axis=1)


def _merge_layout(n: int) -> tuple[int, int]:
    """(base, width) of the bottom-up merge sort of n values (see ``_strict_inversions``)."""
    levels = 0
    while _LARGEST_BASE << levels < n:
        levels += 1
    base = max(_SMALLEST_BASE, -(-n >> levels))
    return base, base << levels


def _weighted_inversions(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per row: sum of w_i w_j over i < j with ``values[i] > values[j]``; (rows, n) int values
    in [0, n) and int64 weights with row totals below 2**31, each row in its own order.

    As ``_strict_inversions``, with the weight packed into the low bits of the tagged value
    ``((2 v + tag) << bits) | w``, so that each level's single sort carries the weights: a
    left value's inversions are the right weight merged before it, read from the cumulative
    sum of the right values' weights. Padding: value n, weight 0. int32 wherever it is exact
    (packed keys below 2**31; cumulative weights below the row total; products of two
    weights in the base blocks when weights are below 2**15), sums in int64.
    """
    rows, n = values.shape
    base, width = _merge_layout(n)
    bits = max(1, int(weights.max(initial=0)).bit_length())
    dtype = np.int32 if (2 * n + 2) << bits < 2**31 else np.int64
    padded = np.full((rows, width), n, dtype=dtype)
    padded[:, :n] = values
    padded_w = np.zeros((rows, width), dtype=dtype)
    padded_w[:, :n] = weights
    blocks = padded.reshape(rows, width // base, base)
    block_w = padded_w.reshape(rows, width // base, base)
    if bits > 15:
        block_w = block_w.astype(np.int64)
    inversions = np.zeros(rows, dtype=np.int64)
    for distance in range(1, base):
        products = (blocks[:, :, :-distance] > blocks[:, :, distance:]) * block_w[:, :, :-distance]
        products *= block_w[:, :, distance:]
        inversions += products.reshape(rows, -1).sum(axis=1, dtype=np.int64)
    tag = dtype(1 << bits)
    padded <<= dtype(bits + 1)
    padded |= padded_w
    keys = np.sort(padded.reshape(rows, width // base, base), axis=2).reshape(rows, width)
    mask = dtype((1 << bits) - 1)
    half = base
    while half < width:
        n_blocks = width // (2 * half)
        merged = keys.reshape(rows, n_blocks, 2 * half)
        merged[:, :, half:] |= tag
        merged.sort(axis=2)
        w = merged & mask
        right_w = merged >> dtype(bits)
        right_w &= 1
        right_w *= w
        before = np.cumsum(right_w, axis=2, dtype=dtype)
        w -= right_w  # left weights only
        inversions += np.einsum("rbk,rbk->r", w, before, dtype=np.int64)
        merged &= ~tag
        half *= 2
    return inversions


def _weighted_inversions_shared(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``_weighted_inversions`` of one row of ``values`` (n,) under many rows of weights
    (rows, n), totals below 2**31: the merge order of each level is that of the values alone,
    found once, and each level gathers the weights through it (int32 as there)."""
    rows, n = weights.shape
    base, width = _merge_layout(n)
    padded = np.full(width, n, dtype=np.int64)
    padded[:n] = values
    wide = int(weights.max(initial=0)) >= 2**15
    padded_w = np.zeros((rows, width), dtype=np.int64 if wide else np.int32)
    padded_w[:, :n] = weights
    blocks = padded.reshape(width // base, base)
    block_w = padded_w.reshape(rows, width // base, base)
    inversions = np.zeros(rows, dtype=np.int64)
    for distance in range(1, base):
        inverted = blocks[:, :-distance] > blocks[:, distance:]
        products = block_w[:, :, :-distance] * inverted
        products *= block_w[:, :, distance:]
        inversions += products.reshape(rows, -1).sum(axis=1, dtype=np.int64)
    padded_w = padded_w.astype(np.int32)  # totals below 2**31
    position = np.arange(width).reshape(width // base, base)
    order = np.argsort(blocks, axis=1, kind="stable")
    position = np.take_along_axis(position, order, axis=1).ravel()
    sorted_values = padded[position]
    half = base
    while half < width:
        n_blocks = width // (2 * half)
        tagged = sorted_values.reshape(n_blocks, 2 * half) << 1
        tagged[:, half:] |= 1
        order = np.argsort(tagged, axis=1, kind="stable")
        position = np.take_along_axis(position.reshape(n_blocks, 2 * half), order, axis=1)
        right = (np.take_along_axis(tagged, order, axis=1) & 1).astype(np.int32)
        position = position.ravel()
        w = padded_w[:, position].reshape(rows, n_blocks, 2 * half)
        before = np.cumsum(w * right, axis=2, dtype=np.int32)
        w *= 1 - right  # left weights only
        inversions += np.einsum("rbk,rbk->r", w, before, dtype=np.int64)
        sorted_values = padded[position]
        half *= 2
    return inversions
