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

**Rank cut-off (QR/SVD route):** a direction is kept when ``σ_k > max(n, p) · eps · σ_1``
(σ_1 the largest singular value of Xc, eps = 2.2e-16; numpy's ``matrix_rank`` convention), so
directions down to about 1e-12 of the largest count (a unit scaled by 1e-6 is still a unit),
while exactly collinear features (σ at rounding level, ~1e-16 · σ_1) drop out. Note that this
takes the float64 values as exact: features collinear only up to float32 rounding (σ ~ 1e-7 ·
σ_1) count as distinct directions, as they are in the data given.
"""

from __future__ import annotations

from typing import Any

from ._linalg import EPS, CovarianceEigen
from ._xp import namespace

__all__ = ["ACCURACY", "Basis", "choose_basis", "qr_svd_basis", "basis_cross", "basis_matrix"]

# Largest tolerated error of the covariance route, estimated as eps · w_max / w_min.
ACCURACY = 1e-10


class Basis:
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
        self.values = values
        self.vectors = vectors
        self.total = total
        self.orthonormal = orthonormal
        self.method = method

    @property
    def rank(self) -> int:
        return int(self.values.shape[0])

    @property
    def explicit(self) -> bool:
        return self.orthonormal is not None

    def whitening(self, count: int | None = None) -> Any:
        """``V_k diag(σ_k^{-1})`` for the top ``count`` directions (``factor @ W`` orthonormal)."""
        k = self.rank if count is None else count
        return self.vectors[:, :k] / self.values[:k] ** 0.5

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


def choose_basis(eigen: CovarianceEigen, factor: Any, n: int, width: int) -> Basis:
    """The covariance basis when it is accurate (see the module docstring), else QR/SVD."""
    if _covariance_is_accurate(eigen, n):
        return Basis(eigen.values, eigen.vectors, eigen.total, None, "covariance")
    return qr_svd_basis(factor, n, width, eigen.total)


def qr_svd_basis(factor: Any, n: int, width: int, total: float) -> Basis:
    """Orthonormal basis from a thin QR of ``factor`` and an SVD of its R (see module doc)."""
    xp = namespace(factor)
    q, r = xp.linalg.qr(factor)
    u_r, sigma, v_rt = xp.linalg.svd(r)
    if float(sigma[0]) == 0.0:
        keep = sigma > 0.0
    else:
        keep = sigma > max(n, width) * EPS * sigma[0]
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
