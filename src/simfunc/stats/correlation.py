"""Rank correlations of two paired sequences, one at a time or a batch of rows at a time.

The batched forms (``spearman_rows``, ``kendall_rows``) serve the permutation test and the
bootstrap; the public ``spearman`` and ``kendall`` use the same arithmetic, so an observed
statistic and its resampled copies are computed identically.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simfunc.ranking import centred_average_ranks, row_correlation
from simfunc.stats._inputs import as_ranked_pair
from simfunc.stats.kendall_counts import kendall_tau_b_rows

__all__ = ["kendall", "kendall_rows", "spearman", "spearman_rows"]

# Up to this many points Kendall's tau of a batch is computed from (rows, n, n) sign arrays;
# beyond it the O(n^2) work loses to the batched O(n log n) count of
# simfunc.stats.kendall_counts (OMP_NUM_THREADS=1 python benchmarks/kendall_speed.py, 2,000
# independent rows, microseconds per row, signs vs count: 1.94 vs 2.17 at n = 20, 2.73 vs
# 2.51 at n = 24, 10.2 vs 4.6 at n = 48; see BENCHMARKS.md).
KENDALL_SIGN_ARRAY_MAX_POINTS = 20
# Elements per batch chunk (sign arrays, ranks): 2 MiB of float64.
BATCH_ELEMENTS = 1 << 18


def spearman_rows(x_rows: np.ndarray, y_rows: np.ndarray) -> np.ndarray:
    """Spearman's rho of each row of ``x_rows`` with the same row of ``y_rows`` (B, n).

    Average ranks for ties. A row pair where either row is constant gets NaN, which the
    callers drop (the statistic is undefined there); no division by zero happens.
    """
    return row_correlation(
        centred_average_ranks(x_rows),
        centred_average_ranks(y_rows),
        both_constant=np.nan,
        one_constant=np.nan,
    )


def kendall_rows(x_rows: np.ndarray, y_rows: np.ndarray) -> np.ndarray:
    """Kendall's tau-b of each row of ``x_rows`` with the same row of ``y_rows`` (B, n).

    ``tau_b = sum_{i<j} s^x_ij s^y_ij / sqrt(sum s^x_ij^2 * sum s^y_ij^2)`` with
    ``s_ij = sign(v_i - v_j)``: concordant minus discordant pairs over the geometric mean
    of the pairs untied in x and in y, as ``scipy.stats.kendalltau`` (variant "b"). A row
    pair where either row is constant gets NaN (undefined), for the callers to drop.

    Above ``KENDALL_SIGN_ARRAY_MAX_POINTS`` points the pairs are counted in O(n log n) per
    row (Knight 1966; :mod:`simfunc.stats.kendall_counts`), below it from sign arrays.
    """
    if x_rows.shape[1] > KENDALL_SIGN_ARRAY_MAX_POINTS:
        return kendall_tau_b_rows(x_rows, y_rows)
    return kendall_rows_from_signs(x_rows, y_rows)


def kendall_rows_from_signs(x_rows: np.ndarray, y_rows: np.ndarray) -> np.ndarray:
    """``kendall_rows`` from (rows, n, n) sign arrays: O(n^2) per row, for small n."""
    rows, n = x_rows.shape
    tau = np.empty(rows, dtype=np.float64)
    step = max(1, BATCH_ELEMENTS // (n * n))
    for start in range(0, rows, step):
        x_chunk = x_rows[start : start + step]
        y_chunk = y_rows[start : start + step]
        sign_x = np.sign(x_chunk[:, :, None] - x_chunk[:, None, :])
        sign_y = np.sign(y_chunk[:, :, None] - y_chunk[:, None, :])
        # Both triangles count each pair twice, in the numerator and in the denominator.
        concordance = np.einsum("bij,bij->b", sign_x, sign_y)
        untied_x = np.einsum("bij,bij->b", sign_x, sign_x)
        untied_y = np.einsum("bij,bij->b", sign_y, sign_y)
        denominator = np.sqrt(untied_x * untied_y)
        chunk_tau = np.full(len(x_chunk), np.nan)
        np.divide(concordance, denominator, out=chunk_tau, where=denominator > 0)
        tau[start : start + step] = chunk_tau
    np.clip(tau, -1.0, 1.0, out=tau)
    return tau


def spearman(x: Any, y: Any) -> float:
    """Spearman's rank correlation rho of two paired sequences.

    The Pearson correlation of the average ranks of x and of y (tied values share their
    average rank); equals ``scipy.stats.spearmanr(x, y).statistic``. In [-1, 1].

    Reference: C. Spearman, "The proof and measurement of association between two things",
    Am. J. Psychol. 15(1), 1904.

    Raises:
        InputError: x and y of different lengths, fewer than 3 points, NaN or infinite
            values, or a constant x or y (no ranking, so rho is undefined).
    """
    x_values, y_values = as_ranked_pair(x, y)
    return float(spearman_rows(x_values[None, :], y_values[None, :])[0])


def kendall(x: Any, y: Any) -> float:
    """Kendall's rank correlation tau-b of two paired sequences.

    ``(concordant - discordant pairs) / sqrt((pairs - ties in x) (pairs - ties in y))``;
    equals ``scipy.stats.kendalltau(x, y).statistic``. In [-1, 1].

    Reference: M. G. Kendall, "The treatment of ties in ranking problems", Biometrika
    33(3), 1945.

    Raises:
        InputError: as ``spearman``.
    """
    x_values, y_values = as_ranked_pair(x, y)
    return float(kendall_rows(x_values[None, :], y_values[None, :])[0])
