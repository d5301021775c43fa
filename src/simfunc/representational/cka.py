"""Centred kernel alignment (CKA) with linear and Gaussian (RBF) kernels.

CKA (Kornblith et al. 2019, "Similarity of Neural Network Representations Revisited", ICML) is

    CKA(K, L) = HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L))

for kernel (Gram) matrices K and L of the same n examples. The biased HSIC estimator is
``tr(HKHL)/(n−1)²`` with ``H = I − 11ᵀ/n``; the unbiased one (Song et al. 2012, JMLR,
"Feature selection via dependence maximization", eq. 5) is, with K̃, L̃ the kernels with their
diagonals set to zero,

    HSIC_u = [tr(K̃L̃) + 1ᵀK̃1 · 1ᵀL̃1 / ((n−1)(n−2)) − 2/(n−2) · 1ᵀK̃L̃1] / (n(n−3)).

The scale factors cancel in the ratio. CKA is invariant to translation, isotropic scaling,
orthogonal transforms and permutations of the features, not to general invertible maps.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simfunc.errors import InputError
from simfunc.validation import check_choice, check_positive

from ._grouped import (
    GroupedMatrix,
    RowGroups,
    grouped_inner,
    grouping_pays,
    model_groups,
    weighted_median,
)
from ._hsic import hsic
from ._linalg import centre_gram, check_flag, inner, safe_ratio, sq_frobenius
from ._prepared import Pair, PreparedFeatures, prepare_pair, require_examples
from ._stacked import DEBIASED_MIN_EXAMPLES, linear_cka_pair
from ._xp import is_tensor, namespace, unique_rows

__all__ = ["linear_cka", "rbf_cka", "compare_linear_cka", "compare_rbf_cka", "PRECISIONS"]

PRECISIONS = ("float64", "float32")


def linear_cka(X: Any, Y: Any, debiased: bool = False, precision: str = "float64") -> float:
    """Linear CKA between representations X (n, p) and Y (n, q) of the same n examples.

    Feature-space form (Kornblith et al. 2019, eq. 4), with column-centred Xc, Yc::

        CKA = ‖XcᵀYc‖_F² / (‖XcᵀXc‖_F ‖YcᵀYc‖_F)

    which equals the Gram form ``<K, L> / (‖K‖_F ‖L‖_F)`` with the centred linear Grams
    ``K = XcXcᵀ``, ``L = YcYcᵀ``. The feature form costs about ``n(p+q)²`` operations and the
    Gram form ``n²(p+q)``; the feature form is used up to ``p + q <= 3n`` (beyond n the Gram
    form has fewer operations, but its tiled products run slower; see ``_stacked``). The
    Gram form is computed tile by tile in bounded memory from one float64 centred copy
    ``[Xc, Yc]``. The feature form takes ``XᵀY``, ``XᵀX`` (syrk) and ``YᵀY`` on the inputs as
    they are and centres by ``XcᵀYc = XᵀY − n μ_x μ_yᵀ`` when every column's mean is small
    compared with its spread (then the rounding error is within a factor 5 of explicit
    centring, and no copy is made); otherwise it centres into the float64 copy first, so large
    means (say 1e4 on unit-variance data) cost no accuracy. See ``_stacked.linear_cka_pair``.

    ``debiased=True`` replaces the biased HSIC by the unbiased estimator of Song et al. (2012);
    in feature space, with row norms ``r_i = ‖x̃_i‖²``, ``s_i = ‖ỹ_i‖²`` and their sums R, S::

        n(n−3)·HSIC_u(X, Y) = ‖XcᵀYc‖_F² − n/(n−2)·r·s + R·S/((n−1)(n−2))

    Debiased CKA can be slightly negative, lies in [−1, 1] and needs n >= 4.

    Torch tensors on an accelerator are computed in torch on their device (float64; float32 on
    MPS), with the same checks and the same value as numpy to ~1e-13; tensors on the CPU are
    read in place by numpy (no copy: the same memory), so they cost what the same numpy arrays
    cost (``torch_linear_cka`` is the differentiable version).

    ``precision="float32"`` is the **fast path for large float32 features**: column means
    are accumulated in float64 and the features centred in float64, then rounded once to
    float32; the products run in float32 -- for numpy, one GEMM ``XcᵀYc`` and two symmetric
    rank-k products (syrk) ``XcᵀXc``, ``YcᵀYc``, the same products a float32-native CKA takes
    (TF32 off on CUDA) -- and every sum of squares is accumulated in float64. About twice as
    fast as float64, at least as fast as float32-native implementations, and on features with
    a +1e4 offset within 1e-6 of the float64 value, where float32-native implementations
    (which centre in float32) are off by 1e-5 to 1e-3 (``benchmarks/measures.py``). A float64
    input is centred before it is cast down.

    Args:
        X: (n, p) numpy array or torch tensor (extra axes are flattened).
        Y: (n, q) features of the same examples.
        debiased: use the unbiased HSIC estimator.
        precision: "float64" (default) or "float32" (the fast path above).

    Returns:
        CKA in [0, 1] (1: identical up to rotation, translation and scale).

    Invariances: translation, isotropic scaling, orthogonal transforms, feature permutations.
    Reference: Kornblith, Norouzi, Lee & Hinton (2019), ICML.
    """
    debiased = check_flag(debiased, "debiased")
    precision = check_choice(precision, "precision", PRECISIONS)
    if is_tensor(X) or is_tensor(Y):
        viewed = _cpu_views(X, Y)
        if viewed is None:  # a tensor on an accelerator: computed there, in torch
            if precision == "float32":
                return _torch_float32(X, Y, debiased)
            return compare_linear_cka(prepare_pair(X, Y, keep_raw=False), debiased=debiased)
        X, Y = viewed
    dtype = np.float32 if precision == "float32" else np.float64
    return linear_cka_pair(X, Y, debiased=debiased, dtype=dtype)


def _cpu_views(X: Any, Y: Any) -> tuple[Any, Any] | None:
    """CPU tensors as numpy arrays over the same memory (no copy), or None when a tensor lives
    on another device or has a dtype numpy cannot view (bfloat16): those stay in torch.

    A CPU tensor and a numpy array are the same bytes in the same memory; numpy's BLAS has the
    symmetric rank-k product (syrk) that torch lacks, so reading the tensor in place costs the
    tensor nothing against the same numpy array (``benchmarks/measures.py``)."""
    import torch

    views = []
    for value in (X, Y):
        if not is_tensor(value):
            views.append(value)
            continue
        if value.device.type != "cpu" or value.dtype == torch.bfloat16:
            return None
        views.append(value.detach().resolve_conj().resolve_neg().numpy())
    return views[0], views[1]


def _torch_float32(X: Any, Y: Any, debiased: bool) -> float:
    """The float32 fast path for tensors (a numpy input joins the tensor's device)."""
    import torch

    from .torch_cka import torch_linear_cka

    device = X.device if is_tensor(X) else Y.device
    X, Y = (v if is_tensor(v) else torch.as_tensor(np.asarray(v), device=device) for v in (X, Y))
    with torch.no_grad():
        value = float(torch_linear_cka(X, Y, debiased=debiased, dtype=torch.float32))
    return float(np.clip(value, -1.0 if debiased else 0.0, 1.0))


def _feature_form_is_cheaper(n: int, p: int, q: int) -> bool:
    # feature form ~ n(p+q)² operations, Gram form ~ n²(p+q): the feature form wins iff p+q <= n
    return p + q <= n


def _linear_u_centred(model: PreparedFeatures) -> np.ndarray:
    return model.cached("linear_u_centred", lambda m: centre_gram(m.gram, unbiased=True))


def compare_linear_cka(pair: Pair, debiased: bool = False, precision: str = "float64") -> float:
    """Linear CKA on a prepared pair (see ``linear_cka``); prepared pairs are float64."""
    debiased = check_flag(debiased, "debiased")
    if check_choice(precision, "precision", PRECISIONS) != "float64":
        raise InputError("precision: a prepared pair is float64; call linear_cka for float32")
    if debiased:
        require_examples(pair, DEBIASED_MIN_EXAMPLES, "debiased CKA")
    x, y, n = pair.x, pair.y, pair.n
    if _feature_form_is_cheaper(n, x.width, y.width):
        value = _feature_form(pair, debiased)
    else:
        value = _gram_form(pair, debiased)
    return float(np.clip(value, -1.0 if debiased else 0.0, 1.0))


def _feature_form(pair: Pair, debiased: bool) -> float:
    x, y, n = pair.x, pair.y, pair.n
    if x.width <= n and y.width <= n:
        cross = sq_frobenius(pair.factor_cross)  # the factors are Xc, Yc themselves
    else:
        cross = sq_frobenius(x.centred.T @ y.centred)
    self_x, self_y = x.self_product, y.self_product
    if not debiased:
        return safe_ratio(cross, self_x * self_y, "linear CKA")
    rows_x, rows_y = x.row_sq_norms, y.row_sq_norms
    hsic_xy = float(hsic(cross, rows_x, rows_y, n, debiased=True))
    hsic_xx = float(hsic(self_x, rows_x, rows_x, n, debiased=True))
    hsic_yy = float(hsic(self_y, rows_y, rows_y, n, debiased=True))
    _check_self_hsic(hsic_xx, hsic_yy, x.name, y.name)
    return safe_ratio(hsic_xy, hsic_xx * hsic_yy, "debiased CKA")


def _gram_form(pair: Pair, debiased: bool) -> float:
    x, y = pair.x, pair.y
    if debiased:
        gram_x, gram_y = _linear_u_centred(x), _linear_u_centred(y)
    else:
        gram_x, gram_y = x.gram, y.gram  # Grams of centred features are already centred
    cross = inner(gram_x, gram_y)
    self_x, self_y = sq_frobenius(gram_x), sq_frobenius(gram_y)
    if debiased:
        _check_self_hsic(self_x, self_y, x.name, y.name)
    return safe_ratio(cross, self_x * self_y, "debiased CKA" if debiased else "linear CKA")


def _check_self_hsic(hsic_xx: float, hsic_yy: float, name_x: str, name_y: str) -> None:
    for value, name in ((hsic_xx, name_x), (hsic_yy, name_y)):
        if not value > 0.0:
            raise InputError(
                f"{name}: the unbiased HSIC of {name} with itself is not positive (too few "
                "distinct examples), so debiased CKA is undefined"
            )


def rbf_cka(X: Any, Y: Any, threshold: float = 1.0, debiased: bool = False) -> float:
    """CKA with Gaussian (RBF) kernels ``k(x, x') = exp(−‖x − x'‖² / (2σ²))``.

    The bandwidth is set per representation: ``σ = threshold · sqrt(median D)``, where D is the
    full n × n matrix of squared Euclidean distances between examples, *diagonal zeros
    included* (n² entries, as in Kornblith et al.'s reference implementation ``gram_rbf``;
    the median over only the n(n−1)/2 distinct pairs gives a different bandwidth and, on the
    published demo data, 0.65401 instead of 0.65483). Then CKA of the two kernel matrices
    (``debiased=True``: unbiased HSIC of Song et al. 2012 via U-centring, n >= 4). Exactly
    repeated examples are exactly at distance 0 (distances are taken between distinct rows).

    Repeated examples (visited states): when a model has at most half as many distinct rows
    as examples, its kernel is held on its k distinct rows with multiplicities c: the median
    of the n² distances counts each distinct distance c_a c_b times, the centred kernel is
    ``HKH = P (K − u1ᵀ/n − 1uᵀ/n + cᵀu/n²) Pᵀ`` with ``u = K c`` (P the n × k membership
    matrix; U-centring likewise), and ``tr(KHLH)`` is summed over the pair's joint groups
    of identical rows with weights c_a c_b. The value is that of the n × n computation (to
    rounding, ~1e-14), at about (k/n)² of its cost (``_grouped``).

    Args:
        X, Y: (n, p) and (n, q) features of the same examples.
        threshold: bandwidth as a fraction of the median distance (> 0).
        debiased: use the unbiased HSIC estimator.

    Returns:
        CKA in [0, 1] ([−1, 1] when debiased).

    Invariances: translation, isotropic scaling (σ scales with the data), orthogonal
    transforms, feature permutations. Reference: Kornblith et al. (2019), ICML.
    """
    threshold = check_positive(threshold, "threshold")
    debiased = check_flag(debiased, "debiased")
    pair = prepare_pair(X, Y)
    return compare_rbf_cka(pair, threshold=threshold, debiased=debiased)


def _centred_rbf(
    model: PreparedFeatures, threshold: float, unbiased: bool
) -> np.ndarray | GroupedMatrix:
    """The model's centred (or U-centred) Gaussian kernel: n × n, or, when its rows repeat
    enough, the k × k matrix on its distinct rows (``_grouped``). One per model and option
    set is kept in the model's cache, which is what ``pairwise`` holds for this measure."""

    def compute(m: PreparedFeatures) -> np.ndarray | GroupedMatrix:
        distances, groups = _distinct_sq_distances(m)
        if isinstance(groups, RowGroups) and grouping_pays(groups.k, groups.n):
            return _grouped_centred_rbf(distances, groups, threshold, unbiased, m.name)
        if groups is not None:
            inverse = groups.inverse if isinstance(groups, RowGroups) else groups
            distances = distances[inverse[:, None], inverse[None, :]]
        median = float(namespace(distances).median(distances))
        return centre_gram(_gaussian(distances, median, threshold, m.name), unbiased=unbiased)

    return model.cached(("rbf_form", threshold, unbiased), compute)


def _expanded_rbf(model: PreparedFeatures, threshold: float, unbiased: bool) -> np.ndarray:
    """The n × n centred kernel (expanded from the grouped form if need be)."""
    form = _centred_rbf(model, threshold, unbiased)
    if not isinstance(form, GroupedMatrix):
        return form
    return model.cached(("rbf_centred", threshold, unbiased), lambda m: form.expanded())


def _distinct_sq_distances(model: PreparedFeatures) -> tuple[np.ndarray, Any]:
    """Squared Euclidean distances between the model's distinct (centred) examples, and each
    example's distinct row: ``RowGroups`` for numpy, the inverse index for tensors, None when
    no example repeats (then the distances are between all n rows, in their order).

    Exactly repeated examples are exactly at distance 0 from each other and exactly as far
    from every other example, whatever the rounding of the Gram matrix."""
    centred = model.centred
    xp = namespace(centred)
    if model.is_tensor:
        rows, groups = unique_rows(centred)
    else:
        groups = model_groups(model)
        rows = centred[groups.first]
    if rows.shape[0] == model.n:
        rows, groups = centred, None
        gram = model.__dict__["gram"] if "gram" in model.__dict__ else centred @ centred.T
    else:
        gram = rows @ rows.T
    sq_norms = xp.diagonal(gram)
    distances = sq_norms[:, None] + sq_norms[None, :]  # exactly symmetric, like the Gram
    distances -= 2.0 * gram
    xp.maximum(distances, 0.0, out=distances)  # rounding can leave tiny negatives
    xp.fill_diagonal(distances, 0.0)
    return distances, groups


def _gaussian(distances: np.ndarray, median: float, threshold: float, name: str) -> np.ndarray:
    """``exp(−D / (2 threshold² median))`` in place of D, the median-distance bandwidth."""
    if not median > 0.0:
        raise InputError(
            f"{name}: the median squared distance between its examples is zero (most "
            "examples are identical), so the RBF bandwidth is zero"
        )
    distances *= -1.0 / (2.0 * threshold**2 * median)
    return namespace(distances).exp(distances, out=distances)


def _grouped_centred_rbf(
    distances: np.ndarray, groups: RowGroups, threshold: float, unbiased: bool, name: str
) -> GroupedMatrix:
    """The centred kernel of n examples in k groups of identical rows, on the k groups.

    Bandwidth: the median of the n × n distance matrix, each distinct distance counted
    c_a c_b times (``weighted_median``; the diagonal zeros Σ c_a² times). Kernel K on the
    groups; its expanded row sums are ``u = K c`` (and ``u − K_aa`` without the diagonal).
    Biased: ``(HKH)_ab = K_ab − u_a/n − u_b/n + cᵀu/n²``, on the diagonal too. Unbiased
    (``u_centre``): ``K_ab − m_a − m_b`` off the diagonal, with ``m_a = r_a/(n−2) −
    t/(2(n−1)(n−2))``, ``r = u − diag K``, ``t = cᵀr``; zero on the diagonal.
    """
    n, k = groups.n, groups.k
    counts = groups.counts
    upper = ~np.tri(k, dtype=bool)  # the entries a < b, each standing for (a, b) and (b, a)
    values = np.concatenate(([0.0], distances[upper]))
    weights = np.concatenate(([int((counts * counts).sum())],
                              2 * np.outer(counts, counts)[upper]))
    kernel = _gaussian(distances, weighted_median(values, weights), threshold, name)
    c = counts.astype(np.float64)
    sums = kernel @ c  # each example's row sum in the expanded kernel
    if unbiased:
        sums -= np.diagonal(kernel)
        means = sums / (n - 2) - float(c @ sums) / (2.0 * (n - 1) * (n - 2))
    else:
        means = sums / n
        means -= float(c @ means) / (2.0 * n)
    kernel -= means[:, None]
    kernel -= means[None, :]
    return GroupedMatrix(groups, kernel, zero_diagonal=unbiased)


def _kernel_inner(x: np.ndarray | GroupedMatrix, y: np.ndarray | GroupedMatrix) -> float:
    return grouped_inner(x, y) if isinstance(x, GroupedMatrix) else inner(x, y)


def _kernel_sq_sum(x: np.ndarray | GroupedMatrix) -> float:
    return x.sq_sum() if isinstance(x, GroupedMatrix) else sq_frobenius(x)


def compare_rbf_cka(pair: Pair, threshold: float = 1.0, debiased: bool = False) -> float:
    """RBF CKA on a prepared pair (see ``rbf_cka``)."""
    threshold = check_positive(threshold, "threshold")
    debiased = check_flag(debiased, "debiased")
    if debiased:
        require_examples(pair, DEBIASED_MIN_EXAMPLES, "debiased CKA")
    kernel_x = _centred_rbf(pair.x, threshold, debiased)
    kernel_y = _centred_rbf(pair.y, threshold, debiased)
    if isinstance(kernel_x, GroupedMatrix) != isinstance(kernel_y, GroupedMatrix):
        kernel_x = _expanded_rbf(pair.x, threshold, debiased)
        kernel_y = _expanded_rbf(pair.y, threshold, debiased)
    cross = _kernel_inner(kernel_x, kernel_y)
    self_x, self_y = _kernel_sq_sum(kernel_x), _kernel_sq_sum(kernel_y)
    if debiased:
        _check_self_hsic(self_x, self_y, pair.x.name, pair.y.name)
    value = safe_ratio(cross, self_x * self_y, "RBF CKA")
    return float(np.clip(value, -1.0 if debiased else 0.0, 1.0))
