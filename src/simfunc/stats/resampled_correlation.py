"""Correlations of one set of pairs (x_k, y_k) under many re-pairings or reweightings at once.

The network-level permutation test and bootstrap both evaluate a correlation on thousands of
variants of the same m pairs, and a variant is one row of an array:

* a **re-pairing** ``index`` (rows, m): in row r, x_k is paired with ``y[index[r, k]]``; an
  entry -1 means pair k has no partner in that row and is left out;
* a **reweighting** ``weights`` (rows, m): in row r, pair k counts ``weights[r, k]`` times (a
  non-negative integer; 0 leaves it out). The statistic is that of the *expanded* sample in
  which pair k is repeated ``weights[r, k]`` times, so a bootstrap resample is a row of
  counts and never has to be materialised.

Spearman's rho is the Pearson correlation of mid-ranks in the expanded sample: a value v_k
that has W_< units of weight below it and W_= units of weight equal to it (itself included)
gets the rank ``W_< + (W_= + 1) / 2``. x and y are each sorted once; a row only needs the
cumulative weights in that order, so no row is sorted again. Kendall's tau-b of re-paired
rows counts discordant pairs in O(m log m) per row (:mod:`simfunc.stats.kendall_counts`)
from x's and y's ranks, each computed once. Kendall's tau-b of the expanded
sample is ``w'(Sx o Sy)w / sqrt(w'(Sx o Sx)w * w'(Sy o Sy)w)`` with ``S_kl = sign(v_k - v_l)``
(copies of one pair tie with each other and contribute nothing): with integer weights and
more than a few pairs it is counted in O(m log m) per row from weighted discordant pairs and
the weights of tie groups (:func:`simfunc.stats.kendall_counts.weighted_tau_b_of_codes`).
Pearson's r uses weighted means and sums.

A row whose x or y is constant (or empty) has no correlation: it gets NaN, which the callers
drop or count. No division by zero happens.
"""

from __future__ import annotations

import numpy as np

from simfunc.ranking import centred_average_ranks
from simfunc.stats.correlation import BATCH_ELEMENTS
from simfunc.stats.kendall_counts import (
    order_codes,
    tau_b_of_codes,
    weighted_tau_b_of_codes,
)

__all__ = ["NETWORK_STATISTICS", "correlation_rows"]

NETWORK_STATISTICS = ("spearman", "kendall", "pearson")
# Up to this many pairs a re-paired Kendall's tau gathers signs from an (m, m) table; beyond
# it the O(m^2) gather loses to the O(m log m) count of simfunc.stats.kendall_counts
# (OMP_NUM_THREADS=1 python benchmarks/kendall_speed.py, 2,000 rows, microseconds per row,
# gather vs count: 0.29 vs 0.33 at m = 8, 0.61 vs 0.51 at m = 12, 2.07 vs 0.86 at m = 24;
# see BENCHMARKS.md).
KENDALL_GATHER_MAX_PAIRS = 10
# Weighted pairs (a partial design's 0/1 weights, bootstrap counts): up to these many pairs
# the O(m^2) sign-array form, beyond them the O(m log m) weighted count. Microseconds per row,
# OMP_NUM_THREADS=1 python benchmarks/kendall_speed.py (see BENCHMARKS.md), sign arrays vs
# count. Re-paired rows with 0/1 weights (2,000 rows): 0.37 vs 0.65 at m = 8, 0.88 vs 1.18
# at 16, 1.32 vs 1.49 at 20, 1.73 vs 1.77 at 24, 2.82 vs 2.23 at 32, 438 vs 46 at 435 (x
# tied there). One y with bootstrap counts (three BLAS products w'Sw vs the count, 500
# rows): 28.2 vs 29.7 at 435, 52.5 vs 46.9 at 600, 646 vs 248 at 2,000.
KENDALL_WEIGHTED_SIGNS_MAX_PAIRS = 20
KENDALL_WEIGHTED_PRODUCT_MAX_PAIRS = 500


def correlation_rows(
    x: np.ndarray,
    y: np.ndarray,
    statistic: str,
    index: np.ndarray | None = None,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """The correlation of x with y in every row of ``index`` and/or ``weights``.

    Args:
        x, y: (m,) finite float64 values of the m pairs.
        statistic: ``"spearman"``, ``"kendall"`` or ``"pearson"``.
        index: (rows, m) partner of each x in y (-1: no partner), or None (``y`` itself).
        weights: (rows, m) non-negative integer counts of each pair, or None (every pair
            once). With an ``index`` holding -1, weights are required to be 0 there; when
            weights is None they are set to 1 where a partner exists and 0 elsewhere.

    Returns:
        (rows,) float64 correlations in [-1, 1], NaN where undefined.
    """
    if index is not None and weights is None and np.any(index < 0):
        weights = (index >= 0).astype(np.float64)
    if weights is None:
        if index is None:
            index = np.arange(x.size)[None, :]
        return _repaired(x, y, statistic, index)
    if index is not None:
        weights = np.where(index >= 0, weights, 0.0)
    if statistic == "kendall":
        return _kendall_weighted(x, y, index, weights)
    return _pearson_weighted(x, y, statistic, index, weights)


# ------------------------------------------------------------- every pair once (permutations)


def _repaired(x: np.ndarray, y: np.ndarray, statistic: str, index: np.ndarray) -> np.ndarray:
    """Every pair kept, y re-paired by ``index``: the multiset of y is the same in every row,
    so x and y are ranked (or centred) once and each row is one dot product."""
    if statistic == "kendall":
        if x.size > KENDALL_GATHER_MAX_PAIRS:
            y_codes = order_codes(y[None, :])[0][index]
            return tau_b_of_codes(order_codes(x[None, :]), y_codes, rows_are_permutations=True)
        return _kendall_repaired(x, y, index)
    if statistic == "spearman":
        x_scores = centred_average_ranks(x[None, :])[0]
        y_scores = centred_average_ranks(y[None, :])[0]
    else:
        x_scores = x - x.mean()
        y_scores = y - y.mean()
    scale = np.sqrt(np.dot(x_scores, x_scores) * np.dot(y_scores, y_scores))
    if scale == 0:
        return np.full(index.shape[0], np.nan)
    values = y_scores[index] @ x_scores
    values /= scale
    np.clip(values, -1.0, 1.0, out=values)
    return values


def _kendall_repaired(x: np.ndarray, y: np.ndarray, index: np.ndarray) -> np.ndarray:
    """tau-b with y re-paired: ``sum_kl Sx_kl Sy_{index_k index_l} / sqrt(Ux Uy)``; the untied
    counts U do not change under re-pairing, and the signs of y are gathered, not recomputed.
    The sign products are summed in float32, exact for integers below 2**24 (m <= 4096)."""
    sign_x = np.sign(x[:, None] - x[None, :]).astype(np.float32)
    sign_y = np.sign(y[:, None] - y[None, :]).astype(np.float32)
    untied = float(np.abs(sign_x).sum(dtype=np.float64) * np.abs(sign_y).sum(dtype=np.float64))
    rows, m = index.shape
    concordance = np.empty(rows, dtype=np.float64)
    step = max(1, BATCH_ELEMENTS // (m * m))
    flat_x = sign_x.ravel()
    for start in range(0, rows, step):
        chunk = index[start : start + step]
        gathered = sign_y[chunk[:, :, None], chunk[:, None, :]].reshape(len(chunk), m * m)
        concordance[start : start + step] = gathered @ flat_x
    return _ratio(concordance, np.full(rows, untied))


# ------------------------------------------------------------------ weighted (bootstrap)


class _Ranker:
    """Mid-ranks of fixed values in expanded samples given by rows of weights."""

    def __init__(self, values: np.ndarray):
        self.order = np.argsort(values, kind="stable")
        ordered = values[self.order]
        self.starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
        sizes = np.diff(np.r_[self.starts, values.size])
        self.group_of = np.repeat(np.arange(self.starts.size), sizes)

    def ranks(self, weights: np.ndarray) -> np.ndarray:
        """(rows, m) mid-rank of each value; for weights of 0 the rank is that of its group."""
        ordered = weights[:, self.order]
        tied = self.starts.size < self.order.size
        totals = np.add.reduceat(ordered, self.starts, axis=1) if tied else ordered
        below = np.cumsum(totals, axis=1)
        below -= totals
        mid = below + (totals + 1.0) / 2.0
        out = np.empty(weights.shape, dtype=np.float64)
        out[:, self.order] = mid[:, self.group_of] if tied else mid
        return out


def _spread_to_sources(index: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weights moved from each position k to its partner ``index[r, k]`` (partners are
    distinct within a row, so nothing collides)."""
    source = np.zeros(weights.shape, dtype=np.float64)
    rows, positions = np.nonzero(weights > 0)
    source[rows, index[rows, positions]] = weights[rows, positions]
    return source


def _pearson_weighted(
    x: np.ndarray, y: np.ndarray, statistic: str, index: np.ndarray | None, weights: np.ndarray
) -> np.ndarray:
    total = weights.sum(axis=1)
    if statistic == "spearman":
        # The mean mid-rank of W weighted items is (W + 1) / 2 exactly.
        centre = ((total + 1.0) / 2.0)[:, None]
        x_scores = _Ranker(x).ranks(weights) - centre
        if index is None:
            y_scores = _Ranker(y).ranks(weights) - centre
        else:
            source_ranks = _Ranker(y).ranks(_spread_to_sources(index, weights))
            y_scores = np.take_along_axis(source_ranks, np.maximum(index, 0), axis=1) - centre
    else:
        safe_total = np.where(total > 0, total, 1.0)
        y_rows = y[None, :] if index is None else y[np.maximum(index, 0)]
        x_scores = x[None, :] - ((weights @ x) / safe_total)[:, None]
        y_scores = y_rows - (np.einsum("rk,rk->r", weights, y_rows) / safe_total)[:, None]
        y_scores = np.broadcast_to(y_scores, weights.shape)
    weighted_x = weights * x_scores
    numerator = np.einsum("rk,rk->r", weighted_x, y_scores)
    var_x = np.einsum("rk,rk->r", weighted_x, x_scores)
    var_y = np.einsum("rk,rk,rk->r", weights, y_scores, y_scores)
    if statistic == "pearson":
        # Centred values of a constant side are rounding noise, not 0: test constancy exactly.
        y_rows = np.broadcast_to(y_rows, weights.shape)
        constant = _constant_rows(np.broadcast_to(x, weights.shape), weights)
        constant |= _constant_rows(y_rows, weights)
        var_x = np.where(constant, 0.0, var_x)
    return _ratio(numerator, var_x * var_y)


def _constant_rows(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """True for rows whose values with positive weight are all equal (or that have none)."""
    used = weights > 0
    highest = np.where(used, values, -np.inf).max(axis=1)
    lowest = np.where(used, values, np.inf).min(axis=1)
    return ~(highest > lowest)


def _kendall_weighted(
    x: np.ndarray, y: np.ndarray, index: np.ndarray | None, weights: np.ndarray
) -> np.ndarray:
    """tau-b of the expanded samples of x with y (``index`` None) or with y re-paired.

    Integer weights (every caller's: 0/1 of a partial design, bootstrap counts and their
    products) with totals below 2**26 are counted exactly by Knight's method with weights
    (:func:`simfunc.stats.kendall_counts.weighted_tau_b_of_codes`, O(m log m) per row):
    re-paired rows beyond ``KENDALL_WEIGHTED_SIGNS_MAX_PAIRS`` pairs, one y (the bootstrap)
    beyond ``KENDALL_WEIGHTED_PRODUCT_MAX_PAIRS``. Below those, and for other weights, the
    sign-array form ``w'(Sx o Sy)w / sqrt(w'|Sx|w * w'|Sy|w)`` in float64 (exact too for
    integer weights: sums of integers below 2**53).
    """
    small = x.size <= (KENDALL_WEIGHTED_PRODUCT_MAX_PAIRS if index is None
                       else KENDALL_WEIGHTED_SIGNS_MAX_PAIRS)
    counts = None if small else weights.astype(np.int64)
    if counts is None or not (np.array_equal(counts, weights)
                              and counts.sum(axis=1).max(initial=0) < 2**26):
        y_rows = y if index is None else y[np.maximum(index, 0)]
        return _kendall_weighted_signs(x, y_rows, weights)
    y_codes = order_codes(y[None, :])
    if index is not None:
        y_codes = y_codes[0][np.maximum(index, 0)]
    return weighted_tau_b_of_codes(order_codes(x[None, :]), y_codes, counts)


def _kendall_weighted_signs(
    x: np.ndarray, y_rows: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """tau-b of the expanded samples from sign arrays, O(m^2) per row, any non-negative
    weights; ``y_rows`` is (m,) (fixed) or (rows, m)."""
    sign_x = np.sign(x[:, None] - x[None, :])
    if y_rows.ndim == 1:
        sign_y = np.sign(y_rows[:, None] - y_rows[None, :])
        concordance = np.einsum("rk,rk->r", weights @ (sign_x * sign_y), weights)
        untied_x = np.einsum("rk,rk->r", weights @ np.abs(sign_x), weights)
        untied_y = np.einsum("rk,rk->r", weights @ np.abs(sign_y), weights)
        return _ratio(concordance, untied_x * untied_y)
    rows, m = y_rows.shape
    out = np.empty(rows, dtype=np.float64)
    untied_x_all = np.einsum("rk,rk->r", weights @ np.abs(sign_x), weights)
    step = max(1, BATCH_ELEMENTS // (m * m))
    for start in range(0, rows, step):
        chunk = slice(start, start + step)
        y_chunk, w_chunk = y_rows[chunk], weights[chunk]
        sign_y = np.sign(y_chunk[:, :, None] - y_chunk[:, None, :])
        untied_y = _quadratic_forms(np.abs(sign_y), w_chunk)
        sign_y *= sign_x
        concordance = _quadratic_forms(sign_y, w_chunk)
        out[chunk] = _ratio(concordance, untied_x_all[chunk] * untied_y)
    return out


def _quadratic_forms(matrices: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """v_r' A_r v_r for each row r of (rows, m, m) matrices and (rows, m) vectors."""
    return np.einsum("rk,rk->r", np.matmul(matrices, vectors[:, :, None])[:, :, 0], vectors)


def _ratio(numerator: np.ndarray, product_of_variances: np.ndarray) -> np.ndarray:
    """numerator / sqrt(product), NaN where the product is 0 (a constant side), in [-1, 1]."""
    out = np.full(numerator.shape, np.nan)
    defined = product_of_variances > 0
    np.divide(numerator, np.sqrt(product_of_variances), out=out, where=defined)
    np.clip(out, -1.0, 1.0, out=out)
    return out
