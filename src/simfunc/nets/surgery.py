"""Changing a trained classifier's representation without changing its function.

A simfunc classifier's ``logits`` layer reads its ``features`` vector f (length D):
``logits = f Wᵀ + b``. :func:`insert_feature_map` puts an invertible linear map A after the
features and folds its inverse into the next layer, ``f' = f A`` and ``W' = W A⁻ᵀ``, so that
``f' W'ᵀ = f A A⁻¹ Wᵀ = f Wᵀ``: the same outputs for every input, a different representation.
The result is a float64 copy (the fold is exact up to float64 rounding).

:func:`stretch_map` builds the map the ``converse`` study uses, a stretch by κ along one unit
direction v: ``A = I + (κ − 1) v vᵀ`` with the exact inverse ``A⁻¹ = I + (1/κ − 1) v vᵀ``;
A is symmetric and its condition number is exactly κ.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import torch
from torch import nn

from simfunc.errors import InputError
from simfunc.validation import check_positive

__all__ = ["FeatureMap", "insert_feature_map", "stretch_map"]


class FeatureMap(nn.Module):
    """``x -> x @ A`` for a fixed matrix A (a buffer, not a parameter)."""

    def __init__(self, matrix: Any) -> None:
        super().__init__()
        self.register_buffer("matrix", torch.as_tensor(np.asarray(matrix)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.matrix.to(x.dtype)


def insert_feature_map(model: nn.Module, matrix: Any, inverse: Any) -> nn.Module:
    """A float64 copy of the simfunc classifier ``model`` whose ``features`` layer applies
    ``matrix`` (A) and whose ``logits`` layer reads through ``inverse`` (``W' = W A⁻ᵀ``).

    ``inverse`` must be A⁻¹; the outputs then equal the original's up to rounding."""
    if not hasattr(model, "logits") or not hasattr(model, "features"):
        raise InputError("model must be a simfunc classifier (with 'features' and 'logits')")
    out = copy.deepcopy(model).double()
    matrix = torch.as_tensor(np.asarray(matrix, dtype=np.float64))
    inverse = torch.as_tensor(np.asarray(inverse, dtype=np.float64))
    dim = out.logits.in_features
    if matrix.shape != (dim, dim) or inverse.shape != (dim, dim):
        raise InputError(f"matrix and inverse must be ({dim}, {dim}); got "
                         f"{tuple(matrix.shape)} and {tuple(inverse.shape)}")
    out.features = FeatureMap(matrix)
    with torch.no_grad():
        out.logits.weight.copy_(out.logits.weight @ inverse.T)
    return out.eval()


def stretch_map(direction: Any, condition: float) -> tuple[np.ndarray, np.ndarray]:
    """``A = I + (κ − 1) v vᵀ`` and its exact inverse ``I + (1/κ − 1) v vᵀ`` (float64).

    ``direction`` v is normalised; ``condition`` κ >= 1 is A's condition number (κ = 1: the
    identity).
    """
    v = np.asarray(direction, dtype=np.float64).reshape(-1)
    norm = float(np.linalg.norm(v))
    if v.size == 0 or not math.isfinite(norm) or norm == 0:
        raise InputError("direction must be a non-zero finite vector")
    condition = check_positive(condition, "condition")
    if condition < 1:
        raise InputError(f"condition must be at least 1, got {condition}")
    v = v / norm
    outer = np.outer(v, v)
    identity = np.eye(v.size)
    return identity + (condition - 1.0) * outer, identity + (1.0 / condition - 1.0) * outer
