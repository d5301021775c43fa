"""Prepare once, compare many times.

``PreparedFeatures`` validates one model's features and computes, on first use, the pieces the
measures share: the centred float64 copy, its norms, the self-product norm used by CKA, the
compact Gram factor, the covariance eigendecomposition (whitening basis) and any per-measure
object (k-NN sets, ranked RDM, centred kernel matrices) under a cache key. ``Pair`` holds two
prepared models and the cross product of their factors, shared by every measure on the pair.
``pairwise`` and ``compare_all`` build these once per model and once per pair.

Torch tensors stay torch tensors on their device (float64, float32 on MPS): every piece is
computed by torch there (see ``_xp``). A numpy input paired with a tensor is moved to the
tensor's device; two tensors must be on the same device.

**One rule for degenerate inputs** (every representational measure): at least
``MIN_EXAMPLES`` = 3 examples, since two examples span a single centred direction on which any
translation-invariant comparison is trivially perfect (linear CKA 1, Procrustes 0, whatever
the data), and features that are not all constant (rank 0). A measure that needs more states
its minimum in the registry (``Measure.min_examples``, ``Measure.min_features``) and raises
InputError naming the argument and the minimum.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any, Callable, Hashable

import numpy as np

from simfunc.errors import InputError
from simfunc.validation import as_feature_tensor, as_features, to_numpy

from ._basis import Basis, choose_basis
from ._linalg import (
    CovarianceEigen,
    centre_columns,
    covariance_eigen,
    eigen_of_covariance,
    gram_factor,
    is_constant_matrix,
    self_product_sq_norm,
    sq_frobenius,
)
from ._xp import is_tensor, namespace

__all__ = [
    "PreparedFeatures",
    "Pair",
    "prepare_pair",
    "prepare_pair_with_covariances",
    "require_examples",
    "validated_features",
    "MIN_EXAMPLES",
]

MIN_EXAMPLES = 3


def validated_features(
    X: Any, name: str, dtype: Any = np.float64, check_values: bool = True
) -> tuple[np.ndarray, bool]:
    """Validate a feature matrix; return (float64 data, whether it is a private copy).

    numpy in, numpy out (``dtype``: float64, or float32 for the float32 fast path of linear
    CKA); a torch tensor stays a tensor on its device. Raises InputError for every bad input,
    including fewer than ``MIN_EXAMPLES`` examples and a constant matrix. ``check_values=False``
    (numpy only): the caller checks finiteness in its first pass (see ``as_features``).
    """
    if is_tensor(X):
        data = as_feature_tensor(X, name, min_examples=1)
        owned = data.data_ptr() != X.data_ptr()
    else:
        raw = to_numpy(X, name)
        data = as_features(raw, name, min_examples=1, dtype=dtype, check_values=check_values)
        owned = not np.may_share_memory(data, raw)
    n = data.shape[0]
    if n < MIN_EXAMPLES:
        raise InputError(
            f"{name} has {n} example(s): every representational measure needs at least "
            f"{MIN_EXAMPLES} (two examples span a single centred direction, on which any two "
            "representations agree perfectly)"
        )
    if is_constant_matrix(data):
        raise InputError(
            f"{name} is constant: every one of its {data.shape[1]} feature(s) takes the same "
            "value on every example, so it has no representation to compare"
        )
    return data, owned


class PreparedFeatures:
    """One model's validated features and the pieces measures derive from them.

    Args:
        X: (n, p) features (numpy or torch, any dtype; extra axes flattened).
        name: argument name for error messages.
        keep_raw: keep the uncentred float64 values available (``data``). With False and a
            private float64 copy, centring happens in place (one copy fewer).
    """

    def __init__(self, X: Any, name: str = "X", *, keep_raw: bool = True) -> None:
        data, owned = validated_features(X, name)
        self.name = name
        self._data: np.ndarray | None = data
        self._owned = owned
        self._keep_raw = keep_raw
        self.n, self.width = data.shape
        self._cache: dict[Hashable, Any] = {}

    @property
    def data(self) -> np.ndarray:
        """The validated, uncentred float64 features (never modified)."""
        if self._data is None:
            raise RuntimeError(f"{self.name}: raw features were centred in place (keep_raw=False)")
        return self._data

    @property
    def has_raw(self) -> bool:
        """Whether the uncentred values are still held (see ``keep_raw``)."""
        return self._data is not None

    @cached_property
    def centred(self) -> np.ndarray:
        """Column-centred float64 features; constant columns are exact zeros."""
        in_place = self._owned and not self._keep_raw
        data = self.data
        centred = centre_columns(data, in_place=in_place)
        if in_place:
            self._data = None
        return centred

    @cached_property
    def sq_norm(self) -> float:
        """``‖Xc‖_F²``."""
        return sq_frobenius(self.centred)

    @cached_property
    def row_sq_norms(self) -> np.ndarray:
        """``‖x̃_i‖²`` for each centred example."""
        centred = self.centred
        return namespace(centred).einsum("ij,ij->i", centred, centred)

    @cached_property
    def self_product(self) -> float:
        """``‖XcᵀXc‖_F² = ‖K‖_F²`` (K the centred linear Gram), from a cached Gram if any."""
        if "gram" in self.__dict__:
            return sq_frobenius(self.gram)
        return self_product_sq_norm(self.centred)

    @cached_property
    def gram(self) -> np.ndarray:
        """The centred linear Gram matrix ``K = Xc Xcᵀ`` (n × n, full)."""
        centred = self.centred
        return centred @ centred.T

    @cached_property
    def factor(self) -> np.ndarray:
        """``F`` with ``F Fᵀ = Xc Xcᵀ`` and ``min(n, p)`` columns (see ``gram_factor``)."""
        return gram_factor(self.centred)

    @cached_property
    def eigen(self) -> CovarianceEigen:
        """Covariance eigendecomposition with the rank tolerance: the whitening basis."""
        return covariance_eigen(self.factor, self.n, self.width)

    @cached_property
    def basis(self) -> Basis:
        """Orthonormal basis of the centred column space, by the route that is accurate for
        this input (see ``_basis``): the covariance eigenvectors, or QR + SVD."""
        return choose_basis(self.eigen, self.factor, self.n, self.width, self.name)

    @property
    def is_tensor(self) -> bool:
        return is_tensor(self._data if self._data is not None else self.centred)

    def move_like(self, reference: Any) -> None:
        """Turn this (numpy, not yet used) model into a tensor on ``reference``'s device."""
        import torch

        data = torch.as_tensor(self.data, device=reference.device).to(reference.dtype)
        self._data = data
        self._owned = True
        self._cache.clear()
        for key in ("centred", "sq_norm", "row_sq_norms", "self_product", "gram", "factor",
                    "eigen", "basis"):
            self.__dict__.pop(key, None)

    def cached(self, key: Hashable, compute: Callable[[PreparedFeatures], Any]) -> Any:
        """A per-measure object (k-NN sets, ranked RDM, centred kernel) computed once."""
        if key not in self._cache:
            self._cache[key] = compute(self)
        return self._cache[key]


class Pair:
    """Two prepared models on the same examples, with their shared cross product."""

    def __init__(self, x: PreparedFeatures, y: PreparedFeatures) -> None:
        self.x = x
        self.y = y
        self.n = x.n
        self._cache: dict[Hashable, Any] = {}

    @cached_property
    def factor_cross(self) -> np.ndarray:
        """``F_xᵀ F_y``; equals ``XcᵀYc`` when both widths are at most n."""
        return self.x.factor.T @ self.y.factor

    def cached(self, key: Hashable, compute: Callable[[Pair], Any]) -> Any:
        """A per-pair intermediate (canonical correlations, their SVD) computed once."""
        if key not in self._cache:
            self._cache[key] = compute(self)
        return self._cache[key]


def require_examples(pair: Pair, minimum: int, what: str) -> None:
    """InputError when the pair has fewer than ``minimum`` examples for estimator ``what``."""
    if pair.n < minimum:
        raise InputError(
            f"{pair.x.name} and {pair.y.name} have {pair.n} example(s): {what} needs at least "
            f"{minimum}"
        )


def prepare_pair_with_covariances(X: Any, Y: Any) -> Pair:
    """``prepare_pair`` for the CCA family, which needs ``XcᵀXc``, ``YcᵀYc`` and ``XcᵀYc``.

    When both widths are at most n, X and Y are centred side by side into one array Z and a
    single symmetric product ``ZᵀZ`` (syrk) yields all three at about 1.8 times the cost of
    one general product, instead of about 2.2 times for three separate products.
    """
    pair = prepare_pair(X, Y, keep_raw=False)
    x, y, n = pair.x, pair.y, pair.n
    if x.width > n or y.width > n or x.is_tensor:
        return pair  # torch: the lazy pieces compute the same products on the device
    p = x.width
    stacked = np.empty((n, p + y.width))
    for model, columns in ((x, slice(0, p)), (y, slice(p, None))):
        data = model.data
        centre_columns(data, out=stacked[:, columns])
        model.__dict__["centred"] = stacked[:, columns]
        model._data = None  # only the centred values are needed from here on
    products = stacked.T @ stacked  # numpy computes Aᵀ A with syrk
    x.__dict__["eigen"] = eigen_of_covariance(products[:p, :p], n, p)
    y.__dict__["eigen"] = eigen_of_covariance(products[p:, p:], n, y.width)
    pair.__dict__["factor_cross"] = np.ascontiguousarray(products[:p, p:])
    return pair


def same_backend(x: PreparedFeatures, y: PreparedFeatures) -> None:
    """Put two prepared models on one backend: a numpy model next to a tensor moves to the
    tensor's device; tensors on two devices are refused (InputError naming the second)."""
    if x.is_tensor == y.is_tensor:
        if x.is_tensor and x.data.device != y.data.device:
            raise InputError(
                f"{y.name} is on {y.data.device} but {x.name} is on {x.data.device}: put both "
                "on the same device"
            )
        return
    tensor, array = (x, y) if x.is_tensor else (y, x)
    array.move_like(tensor.data)


def prepare_pair(
    X: Any, Y: Any, *, keep_raw: bool = True, names: tuple[str, str] = ("X", "Y")
) -> Pair:
    """Validate both inputs (each, then their row counts) and wrap them as a ``Pair``."""
    x = PreparedFeatures(X, names[0], keep_raw=keep_raw)
    y = PreparedFeatures(Y, names[1], keep_raw=keep_raw)
    same_backend(x, y)
    if x.n != y.n:
        raise InputError(
            f"{names[0]} has {x.n} rows but {names[1]} has {y.n}: rows must be the same "
            "examples in both"
        )
    return Pair(x, y)
