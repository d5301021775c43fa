"""The least-squares line through paired values."""

from __future__ import annotations

from typing import Any

import numpy as np

from simfunc.stats._inputs import as_paired, check_not_constant

__all__ = ["linear_fit"]


def linear_fit(x: Any, y: Any) -> tuple[float, float]:
    """Ordinary least-squares line ``y ≈ slope * x + intercept``.

    ``slope = Σ (x - x̄)(y - ȳ) / Σ (x - x̄)²`` and ``intercept = ȳ - slope x̄``, computed
    on centred float64 values; equals ``numpy.polyfit(x, y, 1)``.

    Raises:
        InputError: x and y of different lengths, fewer than 3 points, NaN or infinite
            values, or a constant x (every line through x̄ fits: the slope is undefined).
            A constant y is fine (slope 0).
    """
    x_values, y_values = as_paired(x, y)
    check_not_constant(x_values, "x", "the slope of y against x is undefined")
    x_centred = x_values - x_values.mean()
    y_centred = y_values - y_values.mean()
    slope = float(np.dot(x_centred, y_centred) / np.dot(x_centred, x_centred))
    intercept = float(y_values.mean() - slope * x_values.mean())
    return slope, intercept
