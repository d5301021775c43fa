"""A percentile bootstrap interval for a ratio of sums over independent units.

Many summaries are a ratio of two totals over units that are independent of each other while
the things counted within a unit are not: e.g. the share of a classifier's errors that are of
one kind, over test images that each carry several predictions. The estimate is

    R = sum_i numerators_i / sum_i denominators_i,

and the interval redraws the *units* with replacement (a cluster bootstrap: Davison & Hinkley
1997, ch. 3.8), recomputing R on each resample; the ``(1 - confidence) / 2`` and
``(1 + confidence) / 2`` quantiles of R over the resamples are the interval (Efron &
Tibshirani 1993, ch. 13). A resample whose denominators sum to zero has no R and is dropped
(fewer than 1/e of them on average, even when a single unit holds the whole denominator).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simfunc.errors import InputError
from simfunc.stats._inputs import as_paired, check_confidence, check_count, check_seed
from simfunc.stats.resampling import _batches

__all__ = ["ratio_bootstrap_ci"]


def ratio_bootstrap_ci(
    numerators: Any,
    denominators: Any,
    *,
    n_resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int | None = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``sum(numerators) / sum(denominators)``, resampling
    the units (see the module docstring).

    Reproducible: resample r takes the units ``rng.integers(0, n, size=(n_resamples, n))[r]``
    with ``rng = numpy.random.default_rng(seed)``, drawn in batches (the same numbers).

    Args:
        numerators, denominators: one finite value per unit (sequences of equal length >= 3),
            denominators non-negative with a positive sum.
        n_resamples: bootstrap resamples, >= 1.
        confidence: coverage of the interval, strictly between 0 and 1.
        seed: non-negative integer, or None for a fresh, irreproducible stream.

    Returns:
        ``(low, high)`` as Python floats.

    Raises:
        InputError: naming the argument: bad sequences or options, negative denominators or
            a zero total.
    """
    n_resamples = check_count(n_resamples, "n_resamples")
    confidence = check_confidence(confidence)
    seed = check_seed(seed)
    top, bottom = as_paired(numerators, denominators, ("numerators", "denominators"))
    if np.any(bottom < 0):
        raise InputError("denominators must be non-negative")
    if bottom.sum() <= 0:
        raise InputError("denominators sum to zero: the ratio is undefined")
    n = top.size
    rng = np.random.default_rng(seed)
    ratios = np.empty(n_resamples)
    done = 0
    for size in _batches(n_resamples, n):
        units = rng.integers(0, n, size=(size, n))
        total = bottom[units].sum(axis=1)
        ratios[done:done + size] = np.divide(top[units].sum(axis=1), total,
                                             out=np.full(size, np.nan), where=total > 0)
        done += size
    defined = ratios[~np.isnan(ratios)]
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(defined, [tail, 1.0 - tail])
    return float(low), float(high)
