"""GULP: the distance between two representations' ridge-regression predictors over all linear
tasks (Boix-Adsera, Lawrence, Stepaniants & Rigollet 2022, NeurIPS, "GULP: a prediction-based
metric between representations").

Each representation is centred and scaled to unit total variance (``tr Σ = 1`` with
``Σ = XcᵀXc / n``, as the reference code normalises ``‖X‖_F = sqrt(n)``). For a task given by
its values f on the n examples, the λ-ridge predictor from X predicts ``P_X f`` with the
"hat" matrix ``P_X = X (Σ_X + λI)^{-1} Xᵀ / n``. GULP averages the squared difference of the
two representations' predictions over all linear tasks, which in closed form is

    d_λ²(X, Y) = ‖P_X − P_Y‖_F²
               = tr(Σ_X Σ_X^λ⁻¹ Σ_X Σ_X^λ⁻¹) + tr(Σ_Y Σ_Y^λ⁻¹ Σ_Y Σ_Y^λ⁻¹)
                 − 2 tr(Σ_X^λ⁻¹ Σ_XY Σ_Y^λ⁻¹ Σ_YX),        Σ^λ = Σ + λI,

the expression the authors' ``predictor_dist`` evaluates (it returns d², this module d).
With ``Xc = U diag(σ) Vᵀ`` and ``e_k = σ_k² / ‖Xc‖_F²`` (the eigenvalues of the normalised Σ),
``P_X = U diag(h) Uᵀ`` with ``h_k = e_k / (e_k + λ)``, so

    d² = Σ_k h_x,k² + Σ_k h_y,k² − 2 Σ_ij h_x,i (U_xᵀU_y)_ij² h_y,j,

computed from the orthonormal bases of ``_basis`` (the CCA family's ``U_xᵀU_y``, accurate at
any conditioning). That difference cancels when the two representations nearly coincide (and
a square root turns an error δ in d² into sqrt(δ) in d), so when ``d² < 1e-4 (Σh_x² + Σh_y²)``
it is recomputed without cancellation: with explicit QR/SVD bases, ``C = U_xᵀU_y`` and the
part of U_y outside span(U_x), ``R = U_y − U_x C`` (``M = RᵀR``),

    d² = ‖H_x − C H_y Cᵀ‖_F² + 2 tr(H_y CᵀC H_y M) + tr(H_y M H_y M),

a sum of non-negative terms (the blocks of ``P_X − P_Y`` in the basis [U_x, R]), so d is
accurate to rounding even at 0. λ = 0 gives ``d² = r_x + r_y − 2 Σ ρ_i²`` (the CCA limit, invariant to
invertible maps); large λ approaches a CKA-like comparison of the covariances.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simfunc.errors import InputError

from ._basis import Basis, basis_cross, qr_svd_basis
from ._linalg import sq_frobenius
from ._prepared import Pair, PreparedFeatures, prepare_pair_with_covariances
from ._xp import namespace

__all__ = ["gulp", "compare_gulp", "DEFAULT_RIDGE"]

DEFAULT_RIDGE = 1e-2


def _check_ridge(ridge: Any) -> float:
    if isinstance(ridge, bool) or not isinstance(ridge, (int, float, np.floating, np.integer)):
        raise InputError(f"ridge must be a finite number >= 0, got {ridge!r}")
    if not np.isfinite(ridge) or ridge < 0:
        raise InputError(f"ridge must be a finite number >= 0, got {ridge!r}")
    return float(ridge)


def gulp(X: Any, Y: Any, ridge: float = DEFAULT_RIDGE) -> float:
    """GULP distance ``d_λ`` between X (n, p) and Y (n, q), with ridge ``λ = ridge``.

    ``d_λ = ‖P_X − P_Y‖_F``, the distance between the λ-ridge "hat" matrices of the two
    representations after centring and scaling each to unit total variance (see the module
    docstring for the closed form). ``λ`` is on that unit-total-variance scale: the default
    1e-2 shrinks the directions that carry less than about 1% of a representation's variance.

    Args:
        X, Y: (n, p) and (n, q) features of the same examples.
        ridge: λ >= 0. λ = 0 is the CCA limit (``d² = r_x + r_y − 2 Σ ρ_i²``).

    Returns:
        d_λ in [0, sqrt(2/λ)] (and at most ``sqrt(r_x + r_y)``); 0 when the representations
        agree up to rotation, translation and scale. It is a metric (the Frobenius distance
        between hat matrices), accurate to rounding also near 0 (see the module docstring).

    Invariances: translation, isotropic scaling, orthogonal transforms, permutations; for
    λ = 0 also invertible linear maps. Reference: Boix-Adsera, Lawrence, Stepaniants &
    Rigollet (2022), NeurIPS; the authors' ``predictor_dist`` returns ``d_λ²``.
    """
    ridge = _check_ridge(ridge)
    return compare_gulp(prepare_pair_with_covariances(X, Y), ridge=ridge)


def _hat_eigenvalues(basis: Basis, ridge: float) -> Any:
    """``h_k = e_k / (e_k + λ)`` with ``e_k = σ_k² / ‖Xc‖_F²`` (kept directions)."""
    relative = basis.values / basis.total
    if ridge == 0.0:
        return relative * 0.0 + 1.0
    return relative / (relative + ridge)


def compare_gulp(pair: Pair, ridge: float = DEFAULT_RIDGE) -> float:
    ridge = _check_ridge(ridge)
    hat_x = _hat_eigenvalues(pair.x.basis, ridge)
    hat_y = _hat_eigenvalues(pair.y.basis, ridge)
    cross = basis_cross(pair)
    shared = float((hat_x[:, None] * cross * cross * hat_y[None, :]).sum())
    scale = float((hat_x * hat_x).sum()) + float((hat_y * hat_y).sum())
    squared = scale - 2.0 * shared
    if squared < 1e-4 * scale:
        squared = _squared_without_cancellation(pair, ridge)
    return float(np.sqrt(max(squared, 0.0)))


def _explicit_basis(model: PreparedFeatures) -> Basis:
    """The model's basis with U formed explicitly (QR/SVD route), computed once."""
    if model.basis.explicit:
        return model.basis
    return model.cached(
        "explicit_basis",
        lambda m: qr_svd_basis(m.factor, m.n, m.width, m.basis.total, name=m.name),
    )


def _squared_without_cancellation(pair: Pair, ridge: float) -> float:
    """``‖P_X − P_Y‖_F²`` as a sum of non-negative block terms (see the module docstring)."""
    basis_x, basis_y = _explicit_basis(pair.x), _explicit_basis(pair.y)
    hat_x, hat_y = _hat_eigenvalues(basis_x, ridge), _hat_eigenvalues(basis_y, ridge)
    ux, uy = basis_x.orthonormal, basis_y.orthonormal
    cross = ux.T @ uy
    outside = uy - ux @ cross
    overlap = outside.T @ outside  # M = RᵀR
    inside = namespace(hat_x).diag(hat_x) - (cross * hat_y[None, :]) @ cross.T
    weighted = hat_y[:, None] * overlap * hat_y[None, :]  # H_y M H_y
    cross_gram = cross.T @ cross
    return (
        sq_frobenius(inside)
        + 2.0 * float((cross_gram * weighted).sum())
        + float((weighted * overlap.T).sum())
    )
