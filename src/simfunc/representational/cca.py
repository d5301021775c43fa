"""Canonical correlation analysis and the measures built on it: R²_CCA, mean CCA, SVCCA, PWCCA.

Canonical correlations are the cosines of the principal angles between the column spaces of
the centred representations Xc (n, p) and Yc (n, q): the singular values of ``U_xᵀ U_y`` for
orthonormal bases U_x, U_y of those spaces. Each representation's basis comes from the route
that is accurate for it (``_basis``, chosen per input and automatically):

* well-conditioned features (``eps · w_max / w_min <= 1e-10`` over the covariance eigenvalues
  w, every expected direction present): the covariance route. ``XcᵀXc`` is eigendecomposed
  once (``eigh``; for a pair, all covariances come from one symmetric product), the basis is
  ``Xc V diag(w^{-1/2})`` and ``U_xᵀU_y = Wxᵀ (XcᵀYc) Wy`` costs no pass over the examples.
* otherwise (ill-conditioned features, collinear features, units scaled by tiny factors): an
  explicit orthonormal basis from a thin QR of Xc and an SVD of its triangular factor, keeping
  directions with singular value ``σ_k > max(n, p) · eps · σ_1`` (σ_1 the largest singular
  value, eps = 2.2e-16). This keeps every CCA-family value invariant to invertible maps of
  condition up to 1e6 and to per-unit scalings down to 1e-6, to 1e-9 (tested).

Dead units (constant columns) centre to exactly zero columns and drop out; exactly collinear
features drop out below the rank cut-off. When a representation is wider than it has examples
(p > n), the same is done on its compact factor (``Xc = RᵀQᵀ``, n columns).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simfunc.errors import InputError
from simfunc.validation import check_fraction

from ._basis import basis_cross, basis_matrix
from ._linalg import sq_frobenius
from ._prepared import Pair, PreparedFeatures, prepare_pair_with_covariances
from ._xp import is_tensor, namespace

__all__ = [
    "canonical_correlations",
    "cca",
    "mean_cca",
    "svcca",
    "pwcca",
    "compare_canonical_correlations",
    "compare_cca",
    "compare_mean_cca",
    "compare_svcca",
    "compare_pwcca",
]


def _check_informative(pair: Pair, rank_x: int, rank_y: int, what: str) -> None:
    """CCA is uninformative once one representation spans all n − 1 centred directions.

    The canonical correlations are cosines of principal angles inside the (n − 1)-dimensional
    space of centred vectors; if either column space fills it, every correlation is exactly 1
    whatever the data. (More generally the top ``rank_x + rank_y − (n − 1)`` correlations are 1
    whenever that number is positive; those are reported, not refused.)
    """
    n = pair.n
    for rank, model in ((rank_x, pair.x), (rank_y, pair.y)):
        if rank >= n - 1:
            raise InputError(
                f"{what} is uninformative: {model.name} has rank {rank} >= n − 1 = {n - 1} (its "
                f"centred features span every direction of the {n} examples), so every "
                "canonical correlation is 1 regardless of the data. Use more examples than "
                "features, fewer features, or SVCCA with a smaller `variance`."
            )


def _correlations_of(matrix: np.ndarray) -> np.ndarray:
    xp = namespace(matrix)
    return xp.clip(xp.linalg.svd(matrix, compute_uv=False), 0.0, 1.0)


def _to_numpy(values: Any) -> np.ndarray:
    return values.cpu().numpy() if is_tensor(values) else values


def canonical_correlations(X: Any, Y: Any) -> np.ndarray:
    """The canonical correlations between X (n, p) and Y (n, q), in descending order.

    ``ρ_i = σ_i(Uxᵀ Uy)`` for orthonormal bases Ux, Uy of the centred column spaces (covariance
    route when it is accurate to 1e-10, else QR/SVD; see the module docstring). The length is
    ``min(rank Xc, rank Yc)``, which is ``min(p, q)`` for full-rank features: directions lost
    to zero-variance columns (dead units) or collinear features (singular value at most
    ``max(n, p) · eps`` times the largest) are not reported. Returns a numpy array (also for
    torch inputs, which are computed on their device).

    Raises InputError when ``max(rank Xc, rank Yc) >= n − 1``: then every correlation is 1 and
    CCA says nothing (use more examples, fewer features, or SVCCA). One side filling the
    (n − 1)-dimensional space of centred vectors is enough for that, so the test is on the
    larger rank, not only on ``min(rank Xc, rank Yc)``.

    Invariances: translation, isotropic scaling, orthogonal and any invertible linear map of
    either representation, feature permutations. Reference: Hotelling (1936), "Relations
    between two sets of variates", Biometrika.
    """
    return _to_numpy(compare_canonical_correlations(prepare_pair_with_covariances(X, Y)))


def compare_canonical_correlations(pair: Pair) -> np.ndarray:
    """Canonical correlations of a prepared pair (cached on the pair; numpy or torch)."""

    def compute(p: Pair) -> np.ndarray:
        _check_informative(p, p.x.basis.rank, p.y.basis.rank, "CCA")
        return _correlations_of(basis_cross(p))

    values = pair.cached("canonical_correlations", compute)
    return namespace(values).copy(values)


def cca(X: Any, Y: Any) -> float:
    """R²_CCA: the mean squared canonical correlation, ``(1/r) Σ_i ρ_i²``.

    ``r = min(rank Xc, rank Yc)`` (``min(p, q)`` for full-rank features); this is eq. 2.1 of
    Yellapragada (2020) and the R²_CCA of Kornblith et al. (2019). On Kornblith et al.'s demo
    data it gives 0.5453963322 (their demo prints 0.54312 because it does not centre).

    Returns a value in [0, 1]. Invariances: translation, isotropic scaling, orthogonal, any
    invertible linear map, permutations. Raises InputError when CCA is uninformative (see
    ``canonical_correlations``).
    """
    return compare_cca(prepare_pair_with_covariances(X, Y))


def compare_cca(pair: Pair) -> float:
    # Σ ρ_i² is the squared Frobenius norm of the whitened cross-covariance: no SVD needed.
    _check_informative(pair, pair.x.basis.rank, pair.y.basis.rank, "CCA")
    whitened = basis_cross(pair)
    return float(np.clip(sq_frobenius(whitened) / min(whitened.shape), 0.0, 1.0))


def mean_cca(X: Any, Y: Any) -> float:
    """Mean canonical correlation ``ρ̄ = (1/r) Σ_i ρ_i`` (r = min(rank Xc, rank Yc)).

    Returns a value in [0, 1]. Invariances as ``cca``. Reference: Raghu et al. (2017), who
    report this average; Kornblith et al. (2019) call it ρ̄_CCA.
    """
    return compare_mean_cca(prepare_pair_with_covariances(X, Y))


def compare_mean_cca(pair: Pair) -> float:
    return float(np.clip(float(compare_canonical_correlations(pair).mean()), 0.0, 1.0))


def _svcca_count(model: PreparedFeatures, variance: float) -> int:
    """Smallest k whose top-k singular directions explain at least ``variance`` of the total."""
    basis = model.basis
    xp = namespace(basis.values)
    explained = xp.cumsum(basis.values) / basis.total
    count = int(xp.searchsorted(explained, variance, side="left")) + 1
    return min(count, basis.rank)


def svcca(X: Any, Y: Any, variance: float = 0.99) -> float:
    """SVCCA: mean canonical correlation after reducing each representation by SVD.

    For each representation separately, keep the top singular directions of the centred
    matrix Xc (the top eigenvectors of ``XcᵀXc``), as few as possible such that together they
    explain at least ``variance`` of its total variance ``‖Xc‖_F²`` (smallest k with
    ``Σ_{i<=k} σ_i² >= variance · Σ σ_i²``); then the mean canonical correlation between the
    two reduced representations ``Xc V_k``, ``Yc V'_k``.

    Args:
        X, Y: (n, p) and (n, q) features of the same examples.
        variance: fraction of variance kept, in (0, 1].

    Returns a value in [0, 1]. Invariances: translation, isotropic scaling, orthogonal
    transforms, permutations (not general invertible maps: the SVD step depends on the
    variance spectrum). Raises InputError when a reduced representation still has rank
    >= n − 1. Reference: Raghu, Gilmer, Yosinski & Sohl-Dickstein (2017), NeurIPS.
    """
    variance = check_fraction(variance, "variance")
    return compare_svcca(prepare_pair_with_covariances(X, Y), variance=variance)


def compare_svcca(pair: Pair, variance: float = 0.99) -> float:
    variance = check_fraction(variance, "variance")
    count_x = _svcca_count(pair.x, variance)
    count_y = _svcca_count(pair.y, variance)
    _check_informative(pair, count_x, count_y, "SVCCA")
    rho = _correlations_of(basis_cross(pair, count_x, count_y))
    return float(np.clip(float(rho.mean()), 0.0, 1.0))


def pwcca(X: Any, Y: Any) -> float:
    """Projection-weighted CCA (Morcos, Raghu & Bengio 2018, NeurIPS).

    On centred activations: take the representation with fewer neurons (columns; X on a tie),
    and *all* of its canonical directions: its unit-norm canonical variates ``h_i``
    (i = 1..r, r = that side's rank, orthonormal), paired with the canonical correlations
    ``ρ_i``. When the other side has lower rank, only its rank's worth of directions have a
    partner; the remaining directions of the fewer-neuron side (orthogonal to the other side's
    column space) count with correlation ``ρ_i = 0``. Weight each correlation by how much of
    that side's centred neuron columns ``x_j`` it accounts for, ``α_i = Σ_j |⟨h_i, x_j⟩|``,
    and return ``Σ_i α_i ρ_i / Σ_i α_i``.

    This is the rule of Morcos et al.'s reference code (google/svcca ``pwcca.py``): it
    weights every one of the chosen side's canonical directions (the full SVD of the whitened
    cross-covariance) and pairs them with the correlations, which are 0 for the directions
    that have no partner. An unmatched unit therefore lowers the score instead of vanishing
    from it (e.g. X of 4 neurons and rank 2, Y = [z, e] of 3 neurons where e has no partner
    in X: about 0.67–0.74, not 1). On full-rank data where the fewer-neuron side also has the
    lower rank, every direction has a partner and nothing changes. When several canonical
    correlations are equal, their directions are determined only up to a rotation among
    themselves and the L1 weights (hence PWCCA) depend on the rotation chosen; this is a
    property of the definition, not of the implementation.

    google/svcca's ``pwcca.py`` differs on general data in another respect: it forms its
    "canonical directions" as ``uᵀ(x − μ) + μ`` with u the left singular vectors of
    ``Σxx^{-1/2} Σxy Σyy^{-1/2}``, i.e. *without* the ``Σxx^{-1/2}`` that turns u into
    canonical weights (the canonical variates are ``uᵀ Σxx^{-1/2}(x − μ)``), then
    orthonormalises those directions by QR and projects the uncentred activations. Its weights
    are therefore the projections onto the wrong directions unless Σxx is a multiple of the
    identity: its numbers agree with these only on centred, whitened data (``XcᵀXc ∝ I``).

    Returns a value in [0, 1]. Invariances: translation, isotropic scaling, feature
    permutations (not rotations: the L1 weights depend on the neuron basis). Raises
    InputError when CCA is uninformative (see ``canonical_correlations``).
    """
    return compare_pwcca(prepare_pair_with_covariances(X, Y))


def compare_pwcca(pair: Pair) -> float:
    def compute(p: Pair):
        _check_informative(p, p.x.basis.rank, p.y.basis.rank, "PWCCA")
        xp = namespace(p.x.factor)
        # The full SVD: every canonical direction of both sides, the unmatched ones included.
        left, rho, right_t = xp.linalg.svd(basis_cross(p), full_matrices=True)
        return left, xp.clip(rho, 0.0, 1.0), right_t.T

    left, rho, right = pair.cached("canonical_svd", compute)
    if pair.y.width < pair.x.width:
        model, directions = pair.y, right
    else:
        model, directions = pair.x, left
    basis = model.basis
    xp = namespace(directions)
    if model.factor is model.centred:
        # Xcᵀ h = Xcᵀ U a = V diag(σ) a: no pass over the n examples needed.
        projections = (basis.vectors * basis.values**0.5) @ directions
    else:
        variates = basis_matrix(basis, model.factor) @ directions  # (n, r), unit norm
        projections = model.centred.T @ variates
    weights = xp.abs(projections).sum(axis=0)
    # Directions beyond the other side's rank have no partner: correlation 0, weight kept.
    matched = int(rho.shape[0])
    return float(np.clip(float(xp.dot(weights[:matched], rho) / weights.sum()), 0.0, 1.0))
