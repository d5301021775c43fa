"""Shape metrics: the orthogonal Procrustes distance and the angular shape metric.

Both compare representations after removing translation, scale and rotation. The key
quantity is the nuclear norm ``‖XcᵀYc‖_*`` (sum of singular values), the largest value of
``tr(XcᵀYc Q)`` over orthogonal Q. When a representation is wider than it has examples
(p > n) it is replaced by its compact factor F (``F Fᵀ = Xc Xcᵀ``, n columns, from a thin
QR), since ``‖XcᵀYc‖_* = ‖F_xᵀ F_y‖_*``: the SVD is never of a p × q matrix larger than
needed. Widths may differ (p ≠ q): zero-padding the narrower one changes no norm involved.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simfunc.validation import check_fraction

from ._linalg import nuclear_norm
from ._prepared import Pair, prepare_pair, prepare_pair_with_covariances

__all__ = ["procrustes", "angular_shape", "compare_procrustes", "compare_angular_shape"]


def _nuclear_cosine(pair: Pair) -> float:
    """``‖XcᵀYc‖_* / (‖Xc‖_F ‖Yc‖_F)`` in [0, 1], cached on the pair."""

    def compute(p: Pair) -> float:
        return nuclear_norm(p.factor_cross) / float(np.sqrt(p.x.sq_norm * p.y.sq_norm))

    return float(np.clip(pair.cached("nuclear_cosine", compute), 0.0, 1.0))


def procrustes(X: Any, Y: Any) -> float:
    """Orthogonal Procrustes distance (Ding, Denain & Steinhardt 2021, NeurIPS, "Grounding
    representation similarity with statistical testing").

    Centre each representation, scale it to unit Frobenius norm, then

        d = min_Q ‖X̂ − ŶQ‖_F² = 2 − 2 ‖X̂ᵀŶ‖_*        (Q orthogonal; p ≠ q by zero-padding)

    in [0, 2], 0 when the two are identical up to rotation, translation and scale. Its square
    root is a metric (the Procrustes metric).

    Invariances: translation, isotropic scaling, orthogonal transforms, permutations.
    """
    return compare_procrustes(prepare_pair(X, Y, keep_raw=False))


def compare_procrustes(pair: Pair) -> float:
    return float(np.clip(2.0 - 2.0 * _nuclear_cosine(pair), 0.0, 2.0))


def angular_shape(X: Any, Y: Any, alpha: float = 1.0) -> float:
    """Angular shape metric (Williams, Kunz, Kornblith & Linderman 2021, NeurIPS,
    "Generalized shape metrics on neural representations").

    Centre, scale to unit Frobenius norm, partially whiten each representation,

        X_α = X (α I + (1 − α) (XᵀX)^{-1/2})

    (the inverse square root taken on the directions above the rank tolerance), zero-pad to
    equal widths and return the angle

        θ = arccos( ‖X_αᵀ Y_α‖_* / (‖X_α‖_F ‖Y_α‖_F) )  in [0, π/2].

    ``alpha=1``: no whitening; θ is the rotation-invariant Procrustes angle (``procrustes``
    equals ``2 − 2 cos θ``). ``alpha=0``: full whitening; ``cos θ = Σ ρ_i / sqrt(r_x r_y)``, a
    CCA-like metric invariant to invertible linear maps. For every α it is a metric: symmetric,
    zero on X vs X, and it satisfies the triangle inequality. Unlike the ``netrep`` package,
    the unit-norm scaling comes *before* the partial whitening, so the metric is
    isotropic-scale invariant for every α (the two coincide at α = 0 and α = 1). Near θ = 0 the
    arccos limits the absolute accuracy to about 1e-8.

    Args:
        X, Y: (n, p) and (n, q) features of the same examples.
        alpha: whitening regularisation in [0, 1].

    Invariances (alpha = 1, the default): translation, isotropic scaling, orthogonal
    transforms, permutations.
    """
    alpha = check_fraction(alpha, "alpha", allow_zero=True)
    if alpha == 1.0:
        return compare_angular_shape(prepare_pair(X, Y, keep_raw=False), alpha=alpha)
    return compare_angular_shape(prepare_pair_with_covariances(X, Y), alpha=alpha)


def compare_angular_shape(pair: Pair, alpha: float = 1.0) -> float:
    alpha = check_fraction(alpha, "alpha", allow_zero=True)
    if alpha == 1.0:
        cosine = _nuclear_cosine(pair)
    else:
        sides = []
        for model in (pair.x, pair.y):
            eigen = model.eigen
            values = eigen.values / eigen.total  # eigenvalues of the unit-norm X̂ᵀX̂
            scale = alpha + (1.0 - alpha) / np.sqrt(values)
            sides.append((eigen.vectors * scale, float(np.dot(values, scale**2)), eigen.total))
        (left, norm_x, total_x), (right, norm_y, total_y) = sides
        aligned = left.T @ pair.factor_cross @ right / np.sqrt(total_x * total_y)
        cosine = nuclear_norm(aligned) / float(np.sqrt(norm_x * norm_y))
    return float(np.clip(np.arccos(np.clip(cosine, 0.0, 1.0)), 0.0, np.pi / 2))
