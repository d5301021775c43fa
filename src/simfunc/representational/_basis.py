"""An orthonormal basis of a centred representation's column space, accurate at any conditioning.

The CCA family (and GULP, and the partially whitened shape metric) needs, for each
representation Xc (n × p), an orthonormal basis U of its column space together with its
singular values σ and right singular vectors V (``Xc = U diag(σ) Vᵀ``). Two routes give it:

* **Covariance route (fast).** Eigendecompose ``XcᵀXc = V diag(w) Vᵀ`` (already formed by one
  symmetric product for the whole pair) and use U implicitly as ``Xc V diag(w^{-1/2})``. Forming
  ``XcᵀXc`` squares the condition number: the canonical correlations it gives are off by about
  ``eps · κ²`` (κ = σ_max / σ_min; measured: at most 0.3 · eps · κ² on random spectra, digits
  features and their ill-conditioned maps; ``benchmarks/measures.py``).
* **QR/SVD route (accurate).** A thin Householder QR of the centred features ``Xc = Q R``, an SVD
  of the small triangular factor ``R = U_R diag(σ) V_Rᵀ``, and ``U = Q U_R``. Householder QR is
  backward stable column by column, so the basis is accurate to about ``eps · κ`` however the
  units are scaled; it costs about 3-4 times the covariance route.

**The rule**, per representation and automatically: the covariance route is used when it keeps
every direction the representation should have (``min(live units, n − 1)``, where a live unit
is a column that is not exactly constant) and ``eps · w_max / w_min ≤ 1e-10`` over the kept
eigenvalues (``ACCURACY``; i.e. σ_max / σ_min ≤ about 670); otherwise the QR/SVD route is
used. The estimate needs only the covariance eigenvalues already computed. Both tests are
reliable: the eigenvalues are accurate to about ``eps · w_max`` absolutely, far below the
``2e-6 · w_max`` where the decision is made, and a direction lost below the covariance's rank
tolerance always triggers the accurate route.

**Limits (measured):** the QR/SVD route keeps the CCA-family values to 1e-9 for kept
directions of condition number σ_1/σ_r up to ``RESOLVED_CONDITION`` = 1e9 (invertible maps of
condition 1e4, 1e8, 1e9 move R²_CCA by at most 4e-15, 5e-11, 8e-10). Beyond it the features
themselves, rounded to float64, no longer determine the small directions (about eps · κ · 0.03
in practice: 6e-9 at 1e10, 7e-8 at 1e11, 2e-6 at 1e12), and directions whose singular values
fall below the rank cut-off are lost (5e-3 at 1e12 on some data). No
float64 route can undo that rounding, so instead of a silent change a ``ConditioningWarning``
(a UserWarning) names the representation, the rank kept and the condition number whenever
the kept directions exceed 1e9 -- measured with every unit scaled to unit norm, since
Householder QR is exact under per-unit scalings -- or a dropped direction lies above the rounding floor
(``100 · eps · σ_1``; exactly collinear features sit at about ``eps · σ_1`` and drop out
silently, as they should).

**Rank cut-off (QR/SVD route):** a direction is kept when ``σ_k > max(n, p) · eps · σ_1``
(σ_1 the largest singular value of Xc, eps = 2.2e-16; numpy's ``matrix_rank`` convention), so
directions down to about 1e-12 of the largest count (a unit scaled by 1e-6 is still a unit),
while exactly collinear features (σ at rounding level, ~1e-16 · σ_1) drop out. Note that this
takes the float64 values as exact: features collinear only up to float32 rounding (σ ~ 1e-7 ·
σ_1) count as distinct directions, as they are in the data given.
"""

from __future__ import annotations

import warnings
from typing import Any

from ._linalg import EPS, CovarianceEigen
from ._xp import namespace

__all__ = [
    "ACCURACY", "RESOLVED_CONDITION", "ConditioningWarning", "Basis", "choose_basis",
    "qr_svd_basis", "basis_cross", "basis_matrix",
]

# Largest tolerated error of the covariance route, estimated as eps · w_max / w_min.
ACCURACY = 1e-10

# Largest condition number σ_1/σ_r of the kept directions that the QR/SVD route resolves to
# 1e-9 (measured, worst of 24 data sets: invertible maps of condition 1e8 move R²_CCA, mean
# CCA and PWCCA by at most 5e-11, 1e9 by 8e-10, 1e10 by 6e-9, 1e11 by 7e-8, 1e12 by 2e-6 --
# and by 5e-3 where directions fall below the rank cut-off; tests/representational/
# test_conditioning.py).
RESOLVED_CONDITION = 1e9

# A dropped direction whose singular value exceeds this multiple of eps · σ_1 is not rounding
# noise of collinear features (those sit at about eps · σ_1): it is a real direction lost to
# conditioning beyond float64's reach, and the values change with it.
_ROUNDING_FLOOR = 100.0


class ConditioningWarning(UserWarning):
    """Features are conditioned beyond what float64 resolves: the CCA-family values computed
    from them may differ from the exact ones by more than 1e-9 (see ``_basis``)."""


class Basis(CovarianceEigen):
    """``Xc = U diag(σ) Vᵀ`` restricted to the kept directions (descending σ).

    Attributes:
        values: ``σ²`` of the kept directions, descending (the covariance eigenvalues).
        vectors: V, (m, r) with m the width of the model's factor (see ``gram_factor``).
        total: ``‖Xc‖_F²`` (kept and dropped directions).
        orthonormal: U (n, r) when computed explicitly (QR/SVD route), else None (covariance
            route: U is ``factor @ whitening()``).
        method: ``"covariance"`` or ``"qr-svd"``.
    """

    def __init__(
        self, values: Any, vectors: Any, total: float, orthonormal: Any, method: str
    ) -> None:
        super().__init__(values, vectors, total)
        self.orthonormal = orthonormal
        self.method = method

    @property
    def explicit(self) -> bool:
        return self.orthonormal is not None

    def left(self, count: int | None = None) -> Any:
        """U's top ``count`` columns (QR/SVD route only)."""
        k = self.rank if count is None else count
        return self.orthonormal[:, :k]


def _covariance_is_accurate(eigen: CovarianceEigen, n: int) -> bool:
    live = eigen.live if eigen.live is not None else eigen.vectors.shape[0]
    expected = min(live, n - 1)
    if eigen.rank != expected or expected == 0:
        return False
    condition_sq = float(eigen.values[0] / eigen.values[expected - 1])
    return EPS * condition_sq <= ACCURACY


def choose_basis(
    eigen: CovarianceEigen, factor: Any, n: int, width: int, name: str = "X"
) -> Basis:
    """The covariance basis when it is accurate (see the module docstring), else QR/SVD."""
    if _covariance_is_accurate(eigen, n):
        return Basis(eigen.values, eigen.vectors, eigen.total, None, "covariance")
    return qr_svd_basis(factor, n, width, eigen.total, name=name)


def _equilibrated_condition(r: Any, kept: int) -> float:
    """σ_1/σ_kept of the triangular factor with each column scaled to unit norm: the condition
    that limits Householder QR, which is exact under per-unit scalings (a unit scaled by 1e-9
    costs it nothing, an invertible map mixing the units does)."""
    xp = namespace(r)
    norms = (r * r).sum(axis=0) ** 0.5
    live = norms > 0.0
    sigma = xp.linalg.svd(r[:, live] / norms[live], compute_uv=False)
    kept = min(kept, int(sigma.shape[0]))
    return float(sigma[0] / sigma[kept - 1]) if kept and float(sigma[kept - 1]) > 0 else 0.0


def _warn_if_unresolved(r: Any, sigma: Any, keep: Any, name: str) -> None:
    """A ConditioningWarning naming the rank kept and the condition number, when the kept
    directions are conditioned beyond ``RESOLVED_CONDITION`` (after scaling each unit to unit
    norm) or a dropped one is above the rounding floor (see the module docstring)."""
    largest = float(sigma[0])
    kept = int(keep.sum())
    dropped = float(sigma[kept]) / largest if kept < sigma.shape[0] else 0.0
    lost = dropped > _ROUNDING_FLOOR * EPS
    if largest / float(sigma[kept - 1]) <= RESOLVED_CONDITION and not lost:
        return  # the equilibrated condition is never larger (up to a factor sqrt(p))
    condition = _equilibrated_condition(r, kept)
    if condition <= RESOLVED_CONDITION and not lost:
        return
    detail = (f"; {sigma.shape[0] - kept} more direction(s) fell below the rank cut-off with "
              f"singular values down to {dropped:.1e} of the largest (real directions, not "
              "rounding noise)" if lost else "")
    warnings.warn(
        f"{name}: its centred features have condition number {condition:.1e} over the "
        f"{kept} direction(s) kept (rank kept {kept}; units scaled to unit norm){detail}. "
        f"float64 resolves CCA-family values to 1e-9 up to a condition number of "
        f"{RESOLVED_CONDITION:.0e}; beyond it they can move by about eps · condition · 0.03 "
        "(2e-6 measured at 1e12, 5e-3 where directions fall below the cut-off). Drop "
        "near-redundant units (or reduce with SVCCA) for exact values.",
        ConditioningWarning,
        stacklevel=4,
    )


def qr_svd_basis(factor: Any, n: int, width: int, total: float, name: str = "X") -> Basis:
    """Orthonormal basis from a thin QR of ``factor`` and an SVD of its R (see module doc);
    a ``ConditioningWarning`` when the features are conditioned beyond what it resolves."""
    xp = namespace(factor)
    q, r = xp.linalg.qr(factor)
    u_r, sigma, v_rt = xp.linalg.svd(r)
    if float(sigma[0]) == 0.0:
        keep = sigma > 0.0
    else:
        keep = sigma > max(n, width) * EPS * sigma[0]
        _warn_if_unresolved(r, sigma, keep, name)
    orthonormal = q @ u_r[:, keep]
    return Basis(
        xp.ascontiguousarray(sigma[keep] ** 2), xp.ascontiguousarray(v_rt[keep].T),
        total, orthonormal, "qr-svd",
    )  # fmt: skip


def basis_matrix(basis: Basis, factor: Any, count: int | None = None) -> Any:
    """U's top ``count`` columns as an (n, k) array, whichever route made the basis."""
    if basis.explicit:
        return basis.left(count)
    return factor @ basis.whitening(count)


def basis_cross(pair: Any, count_x: int | None = None, count_y: int | None = None) -> Any:
    """``U_xᵀ U_y`` for the top ``count`` directions of each side: the whitened cross-covariance,
    whose singular values are the canonical correlations.

    Both covariance bases: ``W_xᵀ (F_xᵀF_y) W_y`` from the pair's cached cross product. One
    explicit basis: ``U_xᵀ F_y W_y`` (or its mirror). Both explicit: ``U_xᵀ U_y``. The full
    matrix (every kept direction) is cached on the pair, shared by every measure that uses it.
    """
    if count_x is None and count_y is None:
        return pair.cached("basis_cross", lambda p: _cross(p, None, None))
    return _cross(pair, count_x, count_y)


def _cross(pair: Any, count_x: int | None, count_y: int | None) -> Any:
    bx, by = pair.x.basis, pair.y.basis
    if bx.explicit and by.explicit:
        return bx.left(count_x).T @ by.left(count_y)
    if bx.explicit:
        return (bx.left(count_x).T @ pair.y.factor) @ by.whitening(count_y)
    if by.explicit:
        return bx.whitening(count_x).T @ (pair.x.factor.T @ by.left(count_y))
    return bx.whitening(count_x).T @ pair.factor_cross @ by.whitening(count_y)
