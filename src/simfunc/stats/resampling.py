"""Permutation p-values and percentile bootstrap intervals for a rank correlation.

Both draw all their randomness from ``numpy.random.default_rng(seed)`` in a documented
order, so a seed reproduces the result exactly, and both evaluate the statistic on a batch of
rows at a time (no Python loop over permutations or resamples). The permutation
test stops early by Besag and Clifford's sequential rule (:mod:`simfunc.stats.sequential`);
a bootstrap resample's Spearman rho is computed from its pairs' counts, without sorting it;
Kendall's tau of permuted or resampled rows is counted in O(n log n) from x's and y's ranks,
computed once (:mod:`simfunc.stats.kendall_counts`).
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import numpy as np

from simfunc.errors import InputError
from simfunc.ranking import centred_average_ranks
from simfunc.stats._inputs import (
    as_ranked_pair,
    check_alternative,
    check_confidence,
    check_count,
    check_seed,
    check_statistic,
)
from simfunc.stats.correlation import (
    KENDALL_SIGN_ARRAY_MAX_POINTS,
    kendall_rows,
    spearman_rows,
)
from simfunc.stats.kendall_counts import order_codes, tau_b_of_codes
from simfunc.stats.resampled_correlation import correlation_rows
from simfunc.stats.sequential import (
    DEFAULT_STOP_AFTER,
    batch_schedule,
    check_stop_after,
    extreme_indicator,
    sequential_count,
)

__all__ = ["bootstrap_ci", "permutation_pvalue", "MIN_DEFINED_FRACTION"]

# Draws per batch: about 2 MiB of float64 per (batch, n) array.
_BATCH_ELEMENTS = 1 << 18
# A bootstrap interval needs at least this fraction of resamples to have a defined statistic.
MIN_DEFINED_FRACTION = 0.5

_ROW_STATISTICS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "spearman": spearman_rows,
    "kendall": kendall_rows,
}


def _batches(total: int, n: int) -> Iterator[int]:
    """Sizes of consecutive batches of draws of length n, summing to ``total``."""
    step = max(1, _BATCH_ELEMENTS // n)
    for start in range(0, total, step):
        yield min(step, total - start)


def _permuted_statistics(
    x: np.ndarray, y: np.ndarray, statistic: str, n_permutations: int, seed: int | None,
    stop_after: int | None = None,
) -> tuple[float, Iterator[np.ndarray]]:
    """The observed statistic and, lazily, its value under the permutations of y, in batches
    (of growing size when the test may stop early; the draws do not depend on the sizes)."""
    n = x.shape[0]
    rng = np.random.default_rng(seed)
    if statistic == "spearman":
        # Permuting y permutes its ranks: rank once, then each statistic is a dot product.
        x_ranks = centred_average_ranks(x[None, :])[0]
        y_ranks = centred_average_ranks(y[None, :])[0]
        scale = np.sqrt(np.dot(x_ranks, x_ranks) * np.dot(y_ranks, y_ranks))
        observed = float(np.clip(np.dot(x_ranks, y_ranks) / scale, -1.0, 1.0))
        y_source = y_ranks
    else:
        # Kendall's tau depends only on the orders: x and y are ranked once, and a permuted
        # row's discordant pairs are counted from the permuted ranks of y.
        x_codes = order_codes(x[None, :])
        y_source = order_codes(y[None, :])[0]
        observed = float(tau_b_of_codes(x_codes, y_source[None, :])[0])

    def batches() -> Iterator[np.ndarray]:
        for size in batch_schedule(n_permutations, _BATCH_ELEMENTS // n, stop_after):
            orders = rng.permuted(np.tile(np.arange(n), (size, 1)), axis=1)
            permuted = y_source[orders]
            if statistic == "spearman":
                values = permuted @ x_ranks
                values /= scale
                np.clip(values, -1.0, 1.0, out=values)
            else:
                values = tau_b_of_codes(x_codes, permuted, rows_are_permutations=True)
            yield values

    return observed, batches()


def permutation_pvalue(
    x: Any,
    y: Any,
    statistic: str = "spearman",
    n_permutations: int = 10_000,
    seed: int | None = 0,
    alternative: str = "two-sided",
    *,
    stop_after: int | None = DEFAULT_STOP_AFTER,
) -> float:
    """Monte Carlo permutation p-value of a rank correlation between x and y, sequential.

    Under the null hypothesis that x and y are independent, every pairing is equally likely.
    y is permuted up to ``n_permutations`` times and the statistic recomputed. "At least as
    extreme" is ``|stat_perm| >= |stat_obs|`` for ``"two-sided"``, ``stat_perm >=
    stat_obs`` for ``"greater"`` and ``stat_perm <= stat_obs`` for ``"less"`` (within
    1e-12). The test stops early by Besag and Clifford's rule (1991; see
    :mod:`simfunc.stats.sequential`): once ``stop_after`` permutations at least as extreme
    have been drawn, at permutation L, it stops and

        p = stop_after / L;

    otherwise, after all B = ``n_permutations``,

        p = (1 + #{permutations at least as extreme}) / (1 + B),

    the fixed-size p-value of the same permutations (counting the observed pairing makes
    p > 0; Phipson and Smyth, "Permutation p-values should never be zero", 2010). Both are
    valid p-values; a p-value below about ``stop_after / B`` (0.01 at the defaults) comes
    from all B permutations, and a larger one from about ``stop_after / p`` of them, with a
    relative standard error of about ``sqrt((1 - p) / stop_after)`` (10 %).
    ``stop_after=None`` always draws all B.

    Reproducible: permutation b is the b-th ``rng.permutation(n)`` drawn from
    ``rng = numpy.random.default_rng(seed)``, whatever the batches. For Spearman, x and y are
    ranked once and the ranks of y permuted in batches (one matrix product per batch).

    Args:
        x, y: paired finite sequences of the same length (>= 3), neither constant.
        statistic: ``"spearman"`` (rho) or ``"kendall"`` (tau-b).
        n_permutations: the most random permutations, >= 1.
        seed: non-negative integer, or None for a fresh, irreproducible stream.
        alternative: ``"two-sided"``, ``"greater"`` (positive association) or ``"less"``.
        stop_after: Besag and Clifford's h, an integer >= 1, or None (no early stop).

    Raises:
        InputError: bad sequences (see ``spearman``) or options.
    """
    statistic = check_statistic(statistic)
    n_permutations = check_count(n_permutations, "n_permutations")
    seed = check_seed(seed)
    alternative = check_alternative(alternative)
    stop_after = check_stop_after(stop_after)
    x_values, y_values = as_ranked_pair(x, y)
    observed, batches = _permuted_statistics(x_values, y_values, statistic, n_permutations,
                                             seed, stop_after)
    indicators = (extreme_indicator(values, observed, alternative) for values in batches)
    return float(sequential_count(indicators, stop_after).p)


def bootstrap_distribution(
    x: np.ndarray, y: np.ndarray, statistic: str, n_resamples: int, seed: int | None
) -> np.ndarray:
    """The statistic on each resample of pairs; NaN where it is undefined.

    Resample b takes the pairs at indices ``rng.integers(0, n, size=(n_resamples, n))[b]``
    with ``rng = numpy.random.default_rng(seed)``, drawn in batches (the same numbers).
    """
    n = x.shape[0]
    rng = np.random.default_rng(seed)
    values = np.empty(n_resamples, dtype=np.float64)
    kendall_counted = statistic == "kendall" and n > KENDALL_SIGN_ARRAY_MAX_POINTS
    if kendall_counted:
        # A resample's tau depends only on the orders of its values: gather ranks, not values.
        x, y = order_codes(x[None, :])[0], order_codes(y[None, :])[0]
    done = 0
    for size in _batches(n_resamples, n):
        indices = rng.integers(0, n, size=(size, n))
        if statistic == "spearman":
            # A resample is a multiset of pairs: its Spearman rho is that of the pairs
            # weighted by how often each was drawn, whose mid-ranks come from cumulative
            # weights in the once-sorted x and y (no resample is sorted; see
            # simfunc.stats.resampled_correlation).
            counts = row_counts(indices, n)
            values[done : done + size] = correlation_rows(x, y, "spearman", weights=counts)
        elif kendall_counted:
            values[done : done + size] = tau_b_of_codes(x[indices], y[indices])
        else:
            values[done : done + size] = kendall_rows(x[indices], y[indices])
        done += size
    return values


def row_counts(draws: np.ndarray, width: int) -> np.ndarray:
    """(rows, width) float64: how often each of 0..width-1 occurs in each row of ``draws``."""
    rows = draws.shape[0]
    flat = (np.arange(rows)[:, None] * width + draws).ravel()
    return np.bincount(flat, minlength=rows * width).reshape(rows, width).astype(np.float64)


def bootstrap_ci(
    x: Any,
    y: Any,
    statistic: str = "spearman",
    n_resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int | None = 0,
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of a rank correlation, resampling pairs.

    Draws ``n_resamples`` samples of n (x, y) pairs with replacement, computes the statistic
    on each, and returns the ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles
    (``numpy.quantile``, linear interpolation) of those values (Efron and Tibshirani, "An
    Introduction to the Bootstrap", 1993, ch. 13).

    A resample in which x or y is constant (it drew one distinct value) has no rank
    correlation; such resamples are **dropped** and the interval is taken over the rest. If
    fewer than half of the resamples remain (tiny or heavily tied samples), InputError is
    raised rather than an interval built on a biased remainder.

    Reproducible: resample b uses the indices ``rng.integers(0, n, size=(n_resamples,
    n))[b]`` with ``rng = numpy.random.default_rng(seed)``; all resamples are ranked and
    correlated in batches (one vectorised pass per batch, no loop over resamples; for
    Spearman from how often each pair was drawn, with x and y sorted once).

    Args:
        x, y: paired finite sequences of the same length (>= 3), neither constant.
        statistic: ``"spearman"`` or ``"kendall"``.
        n_resamples: number of bootstrap resamples, >= 1.
        confidence: coverage of the interval, strictly between 0 and 1.
        seed: non-negative integer, or None for a fresh, irreproducible stream.

    Returns:
        ``(low, high)`` as Python floats.

    Raises:
        InputError: bad sequences or options, or too few resamples with a defined statistic.
    """
    statistic = check_statistic(statistic)
    n_resamples = check_count(n_resamples, "n_resamples")
    confidence = check_confidence(confidence)
    seed = check_seed(seed)
    x_values, y_values = as_ranked_pair(x, y)
    values = bootstrap_distribution(x_values, y_values, statistic, n_resamples, seed)
    defined = values[~np.isnan(values)]
    if defined.size < max(1, MIN_DEFINED_FRACTION * n_resamples):
        raise InputError(
            f"only {defined.size} of {n_resamples} bootstrap resamples of the {x_values.size} "
            f"pairs have a defined {statistic} correlation (the others drew a constant x or "
            "y): too few for an interval; use more, less tied data"
        )
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(defined, [tail, 1.0 - tail])
    return float(low), float(high)
