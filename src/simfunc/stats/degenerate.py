"""When a correlation is undefined: a side that is constant to numerical precision."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["constant_reason", "RELATIVE_TOLERANCE"]

#: Values whose spread is below this fraction of their magnitude count as constant: float64
#: arithmetic on the same input (CKA of identical features: 1 ± a few ulp) varies by ~1e-15,
#: and a rank correlation of such noise is noise, not a relation.
RELATIVE_TOLERANCE = 1e-9


def constant_reason(values: Any, name: str = "values") -> str | None:
    """Why ``values`` cannot enter a correlation (constant to numerical precision: spread
    ≤ 1e-9 × max(1, |largest|), or fewer than two distinct values), or None when they can."""
    array = np.asarray(values, dtype=float).ravel()
    array = array[np.isfinite(array)]
    if array.size == 0:
        return f"{name} has no finite value"
    spread = float(array.max() - array.min())
    scale = max(1.0, float(np.abs(array).max()))
    if spread <= RELATIVE_TOLERANCE * scale:
        return (f"{name} is constant to numerical precision (spread {spread:.2g} over "
                f"{array.size} values)")
    return None
