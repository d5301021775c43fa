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

from ._basis import basis_cross
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
    "Generalized shape metrics on neural representations"), with the partial whitening of
    the paper's reference implementation (netrep's ``LinearMetric``).

    Centre each representation and partially whiten it with its own covariance,

        X_α = Xc (α I + (1 − α) (XcᵀXc)^{-1/2})

    (``XcᵀXc`` unnormalised, as netrep's ``whiten``: a sum over the n examples), zero-pad to
    equal widths and return the angle after the best rotation,

        θ = arccos( ‖X_αᵀ Y_α‖_* / (‖X_α‖_F ‖Y_α‖_F) )  in [0, π/2].

    With ``Xc = U diag(σ) Vᵀ`` this is ``X_α = U diag(ασ + (1 − α)) Vᵀ``, so the cosine is
    ``‖diag(a_x) U_xᵀU_y diag(a_y)‖_* / (‖a_x‖ ‖a_y‖)`` with ``a = ασ + (1 − α)``: computed
    that way, on the accurate basis of ``_basis`` (netrep's rescaling that preserves the
    total variance is one number per representation and cancels in the angle).

    ``alpha=1``: no whitening; θ is the rotation-invariant Procrustes angle (``procrustes``
    equals ``2 − 2 cos θ``). ``alpha=0``: full whitening; ``cos θ = Σ ρ_i / sqrt(r_x r_y)``, a
    CCA-like metric invariant to invertible linear maps. For every α it is a metric
    (symmetric, zero on X vs X, triangle inequality).

    The convention's oddity: each direction's weight is ``ασ_k + (1 − α)``, and the singular
    values σ_k of unnormalised features are typically large (about ``sqrt(n)`` times the
    feature scale: 30 for unit-variance features on 1000 examples), so as soon as α is well
    above ``1/σ`` the ``ασ`` term dominates and the metric is close to its α = 1 value: α
    matters only near 0 (below about ``1/σ_k`` for the directions that carry the
    difference). For the same reason, for 0 < α < 1 the value depends on the scale of the
    features (it is not invariant to isotropic scaling, unlike α = 0 and α = 1). Near θ = 0
    the arccos limits the absolute accuracy to about 1e-8.

    Directions of Xc below the rank cut-off of ``_basis`` (exactly collinear or dead units)
    get no weight; netrep instead clamps the eigenvalues of ``XcᵀXc`` at 1e-7 (absolute),
    which gives the same value unless an eigenvalue lies in (0, 1e-7).

    Args:
        X, Y: (n, p) and (n, q) features of the same examples.
        alpha: whitening regularisation in [0, 1].

    Invariances (alpha = 1, the default): translation, isotropic scaling, orthogonal
    transforms, permutations. For alpha = 0 also invertible linear maps; for 0 < alpha < 1
    translation, orthogonal transforms and permutations only.
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
        weights = [alpha * model.basis.values**0.5 + (1.0 - alpha) for model in (pair.x, pair.y)]
        weight_x, weight_y = weights
        aligned = weight_x[:, None] * basis_cross(pair) * weight_y[None, :]
        norms = float((weight_x * weight_x).sum()) * float((weight_y * weight_y).sum())
        cosine = nuclear_norm(aligned) / float(np.sqrt(norms))
    return float(np.clip(np.arccos(np.clip(cosine, 0.0, 1.0)), 0.0, np.pi / 2))
