"""Validation of the paired sequences and the options that ``simfunc.stats`` accepts."""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np

from simfunc.errors import InputError
from simfunc.validation import as_vector, check_choice, check_int

__all__ = [
    "ALTERNATIVES",
    "MIN_POINTS",
    "STATISTICS",
    "as_paired",
    "as_ranked_pair",
    "check_alternative",
    "check_confidence",
    "check_count",
    "check_not_constant",
    "check_seed",
    "check_statistic",
]

STATISTICS = ("spearman", "kendall")
ALTERNATIVES = ("two-sided", "greater", "less")
# Fewer points admit almost no orderings: a rank correlation of two points is always +-1.
MIN_POINTS = 3


def as_paired(
    x: Any, y: Any, names: tuple[str, str] = ("x", "y"), min_length: int = MIN_POINTS
) -> tuple[np.ndarray, np.ndarray]:
    """Two finite one-dimensional float64 sequences of the same length (>= ``min_length``)."""
    name_x, name_y = names
    x_values = as_vector(x, name_x, min_length)
    y_values = as_vector(y, name_y, min_length)
    if x_values.shape[0] != y_values.shape[0]:
        raise InputError(
            f"{name_x} has {x_values.shape[0]} values but {name_y} has {y_values.shape[0]}: "
            "they must be paired, one value of each per item"
        )
    return x_values, y_values


def as_ranked_pair(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """``as_paired``, and neither sequence constant (a constant one has no ranking)."""
    x_values, y_values = as_paired(x, y)
    check_not_constant(x_values, "x", "the rank correlation is undefined")
    check_not_constant(y_values, "y", "the rank correlation is undefined")
    return x_values, y_values


def check_not_constant(values: np.ndarray, name: str, consequence: str) -> None:
    """Raise InputError when every value of ``values`` is the same."""
    if np.all(values == values[0]):
        raise InputError(
            f"{name} is constant (every value is {values[0]:g}): {consequence}"
        )


def check_statistic(statistic: Any) -> str:
    return check_choice(statistic, "statistic", STATISTICS)


def check_alternative(alternative: Any) -> str:
    return check_choice(alternative, "alternative", ALTERNATIVES)


def check_count(value: Any, name: str) -> int:
    """A number of permutations or resamples: an integer >= 1."""
    return check_int(value, name, minimum=1)


def check_confidence(confidence: Any) -> float:
    """A confidence level strictly between 0 and 1."""
    if (
        isinstance(confidence, bool)
        or not isinstance(confidence, Real)
        or not np.isfinite(confidence)
        or not 0 < confidence < 1
    ):
        raise InputError(
            f"confidence must be a number strictly between 0 and 1 (e.g. 0.95), got {confidence!r}"
        )
    return float(confidence)


def check_seed(seed: Any) -> int | None:
    """A seed for ``numpy.random.default_rng``: an integer >= 0, or None for fresh entropy."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, Integral):
        raise InputError(f"seed must be a non-negative integer or None, got {seed!r}")
    return check_int(seed, "seed", minimum=0)
