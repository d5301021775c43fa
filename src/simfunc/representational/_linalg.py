"""Shared float64 linear algebra for the representational measures.

Centring, symmetric products, Frobenius and nuclear norms, compact factors of wide matrices,
the eigendecomposition ("whitening basis") of a covariance with a documented rank tolerance,
and centring of kernel matrices. Everything here takes and returns float64 arrays of one
backend: numpy arrays, or torch tensors on their device (see ``_xp``).

All numpy BLAS/LAPACK work goes through numpy (``A.T @ A`` is computed by numpy with the
symmetric rank-k routine ``syrk``, at half the cost of a general product). scipy ships its own
OpenBLAS; alternating calls between the two libraries makes their idle threads spin against
each other (measured 5x slower on 2 cores), so ``scipy.linalg`` is kept out of the hot paths.
"""

from __future__ import annotations

import numpy as np

from simfunc.errors import InputError

from ._hsic import u_centre
from ._xp import is_tensor, namespace

__all__ = [
    "EPS",
    "eigen_rtol",
    "is_constant_matrix",
    "centre_columns",
    "sq_frobenius",
    "inner",
    "self_product_sq_norm",
    "gram_factor",
    "CovarianceEigen",
    "covariance_eigen",
    "eigen_of_covariance",
    "centre_gram",
    "nuclear_norm",
    "check_flag",
    "safe_ratio",
]

EPS = float(np.finfo(np.float64).eps)


def eigen_rtol(n: int, width: int) -> float:
    """Relative tolerance below which a covariance eigenvalue counts as zero.

    An eigenvalue ``w_k`` of ``XcᵀXc`` is kept when ``w_k > max(n, width) * eps * w_max``
    (``eps`` = float64 machine epsilon, about 2.2e-16). On the singular-value scale this drops
    directions whose singular value is below about ``sqrt(max(n, width) * eps)`` (~1e-6 for
    a few thousand examples) of the largest: exactly-dead units (zero-variance columns),
    exactly collinear features and features collinear up to float32 rounding drop out, while
    the eigenvalue noise of forming ``XcᵀXc`` (about ``width * eps * w_max``) stays below it.
    """
    return max(n, width) * EPS


def is_constant_matrix(data: np.ndarray) -> bool:
    """Whether every row equals the first (every column constant); usually decided in O(p)."""
    if data.shape[0] > 1 and not bool((data[1] == data[0]).all()):
        return False
    return bool((data == data[0]).all())


def centre_columns(
    data: np.ndarray, *, in_place: bool = False, out: np.ndarray | None = None
) -> np.ndarray:
    """Subtract each column's mean, computed as ``x_0 + mean(x − x_0)`` (x_0: the first row).

    Shifting by the first row first makes a constant column (a dead unit) exactly zero, as
    exact arithmetic would, instead of a tiny rounding residue that CCA could mistake for a
    direction, and it keeps the mean accurate when it is large compared with the spread.
    With ``in_place`` the caller's array is overwritten (only when it is a private copy);
    with ``out`` the result is written there (e.g. a slice of a stacked array).
    """
    xp = namespace(data)
    first = xp.copy(data[0])
    if in_place:
        centred = data
        centred -= first
    elif out is not None:  # numpy only: a slice of a stacked array
        centred = np.subtract(data, first, out=out)
    else:
        centred = data - first
    centred -= centred.mean(axis=0)
    return centred


def sq_frobenius(matrix: np.ndarray) -> float:
    """``‖A‖_F²`` with one BLAS dot product (no temporary for numpy)."""
    if is_tensor(matrix):
        flat = matrix.reshape(-1)
        return float(flat.dot(flat))
    flat = matrix.ravel(order="K")
    return float(np.dot(flat, flat))


def inner(a: np.ndarray, b: np.ndarray) -> float:
    """``⟨A, B⟩ = Σ a_ij b_ij`` with one BLAS dot product."""
    if is_tensor(a):
        return float(a.reshape(-1).dot(b.reshape(-1)))
    return float(np.dot(a.ravel(), b.ravel()))


def self_product_sq_norm(centred: np.ndarray) -> float:
    """``‖XcᵀXc‖_F² = ‖XcXcᵀ‖_F²`` by one symmetric rank-k product (syrk) on the smaller side."""
    n, width = centred.shape
    product = centred.T @ centred if width <= n else centred @ centred.T
    return sq_frobenius(product)


def gram_factor(centred: np.ndarray) -> np.ndarray:
    """A matrix ``F`` with ``F Fᵀ = Xc Xcᵀ`` and at most ``min(n, p)`` columns.

    ``Xc`` itself when ``p <= n``; otherwise ``Rᵀ`` (n × n) from the thin QR factorisation
    ``Xcᵀ = Q R``, so that ``Xc = Rᵀ Qᵀ``. Every quantity that depends on ``Xc`` only through
    its Gram matrix (``‖XcᵀYc‖_F``, ``‖XcᵀYc‖_*``, canonical correlations) can be computed
    from the factors at ``min(n, p)`` width. QR (not an eigendecomposition of the Gram) keeps
    the small singular values accurate to machine precision.
    """
    n, width = centred.shape
    if width <= n:
        return centred
    xp = namespace(centred)
    upper = xp.linalg.qr(centred.T, mode="r")  # (n, n)
    return xp.ascontiguousarray(upper.T)


class CovarianceEigen:
    """Eigendecomposition of ``FᵀF`` (the covariance, up to 1/n), eigenvalues descending,
    restricted to the eigenvalues above the rank tolerance (see ``eigen_rtol``).

    Attributes:
        values: kept eigenvalues ``w`` (descending, all > 0), shape (r,).
        vectors: the matching orthonormal eigenvectors, shape (m, r) (m = factor width).
        total: the sum of all eigenvalues, ``‖Xc‖_F²`` (kept and dropped).
        live: how many columns of the factor are not exactly zero (a dead unit, a constant
            feature, centres to an exactly zero column); None when not known.
    """

    def __init__(
        self, values: np.ndarray, vectors: np.ndarray, total: float, live: int | None = None
    ) -> None:
        self.values = values
        self.vectors = vectors
        self.total = total
        self.live = live

    @property
    def rank(self) -> int:
        return int(self.values.shape[0])

    def whitening(self, count: int | None = None) -> np.ndarray:
        """``W = V_k diag(w_k^{-1/2})`` for the top ``count`` directions (``Xc W`` orthonormal)."""
        k = self.rank if count is None else count
        return self.vectors[:, :k] / self.values[:k] ** 0.5


def covariance_eigen(factor: np.ndarray, n: int, width: int) -> CovarianceEigen:
    """Whitening basis of a centred matrix from its factor (see ``gram_factor``)."""
    return eigen_of_covariance(factor.T @ factor, n, width)


def eigen_of_covariance(covariance: np.ndarray, n: int, width: int) -> CovarianceEigen:
    """Whitening basis from the symmetric ``FᵀF``."""
    xp = namespace(covariance)
    values, vectors = xp.linalg.eigh(covariance)
    values = xp.flip(values, 0)
    vectors = xp.flip(vectors, 1)
    diagonal = xp.diagonal(covariance)
    total = float(diagonal.sum())
    live = int(xp.count_nonzero(diagonal))
    keep = values > eigen_rtol(n, width) * values[0]
    return CovarianceEigen(
        xp.ascontiguousarray(values[keep]), xp.ascontiguousarray(vectors[:, keep]), total, live
    )


def centre_gram(gram: np.ndarray, unbiased: bool) -> np.ndarray:
    """Centre a symmetric kernel matrix (returns a new array).

    ``unbiased=False``: ``H K H`` with ``H = I − 11ᵀ/n``, so that ``<HKH, HLH>`` is n² times the
    biased HSIC estimator (Gretton et al. 2005). ``unbiased=True``: the U-centring of Székely &
    Rizzo (2014) as used by Kornblith et al. (2019), whose inner product ``<Ũ(K), Ũ(L)>`` is
    ``n(n−3)`` times the unbiased HSIC estimator of Song et al. (2012); needs n >= 4.
    """
    if unbiased:
        return u_centre(gram)
    xp = namespace(gram)
    centred = xp.copy(gram)
    means = centred.mean(axis=0)
    means -= means.mean() / 2
    centred -= means[:, None]
    centred -= means[None, :]
    return centred


def nuclear_norm(matrix: np.ndarray) -> float:
    """``‖A‖_*``, the sum of singular values."""
    return float(namespace(matrix).linalg.svd(matrix, compute_uv=False).sum())


def check_flag(value: object, name: str) -> bool:
    """A boolean option (``True``/``False``), or an InputError naming it."""
    if not isinstance(value, (bool, np.bool_)):
        raise InputError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def safe_ratio(numerator: float, denominator_sq: float, what: str) -> float:
    """``numerator / sqrt(denominator_sq)``, or an InputError when the denominator vanishes.

    ``denominator_sq`` is a product of two self-similarities; it is zero (or, by rounding,
    slightly negative) only for degenerate data, which must never become a silent NaN.
    """
    if not denominator_sq > 0.0 or not np.isfinite(denominator_sq):
        raise InputError(
            f"{what}: the normalisation is zero (or overflows), so the measure is undefined"
        )
    return float(numerator / np.sqrt(denominator_sq))
