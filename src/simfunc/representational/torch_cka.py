"""Linear CKA in torch, differentiable, on the inputs' device: a training penalty or a measure.

``torch_linear_cka`` is the one differentiable CKA of simfunc (the converse study's distillation
penalty uses it): gradients flow to both inputs through every step. It validates its inputs
like every measure (InputError naming the argument) and computes, on the tensors' device,

    CKA = ‖XcᵀYc‖_F² / (‖XcᵀXc‖_F ‖YcᵀYc‖_F)          (Kornblith et al. 2019)

or, with ``debiased=True``, the same with Song et al.'s unbiased HSIC (see ``cka.linear_cka``),
in the feature form (``p + q <= n``) or the equal Gram form ``<K, L> / (‖K‖ ‖L‖)``.

Precision: by default everything is float64 (float32 on Apple's MPS, which has no float64).
``dtype=torch.float32`` is the **float32 fast path** for large float32 features: the column
means are accumulated in float64 and the features centred in float64 before being cast down,
the matrix products run in float32 (TF32 switched off for them on CUDA), and every sum of
squares is accumulated in float64. Centring in float64 is what matters: on features with a
+1e4 offset, float32-native implementations lose about 3 significant digits in the centring
alone, while this path stays within 1e-6 of the float64 value (tested; benchmarked against
sim_metric's CKA in ``benchmarks/measures.py``).
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

from simfunc.errors import InputError
from simfunc.validation import as_feature_tensor

from ._hsic import hsic
from ._linalg import check_flag, is_constant_matrix
from ._xp import compute_dtype, is_tensor

__all__ = ["torch_linear_cka", "DEBIASED_MIN_EXAMPLES"]

DEBIASED_MIN_EXAMPLES = 4
MIN_EXAMPLES = 3

# Rows centred at a time in the float32 path: bounds the float64 temporary to this many rows.
_CENTRE_ROWS = 8192


def torch_linear_cka(
    X: Any, Y: Any, debiased: bool = False, eps: float = 0.0, dtype: Any = None
) -> Any:
    """Linear CKA of two torch tensors as a 0-d tensor, differentiable in both inputs.

    Args:
        X: (n, p) tensor (extra axes are flattened); any float dtype, any device.
        Y: (n, q) tensor of the same n examples, on the same device.
        debiased: unbiased HSIC estimator (Song et al. 2012); needs n >= 4.
        eps: added to the denominator ``sqrt(HSIC(X,X) HSIC(Y,Y))``. With the default 0,
            constant features and a vanishing denominator raise InputError; a training
            penalty may pass e.g. 1e-12 so that a degenerate batch (a constant one, say) gives
            a finite value (0) instead of stopping the training.
        dtype: computation dtype: None (float64; float32 on MPS) or ``torch.float32`` for the
            float32 fast path (see the module docstring).

    Returns:
        A 0-d tensor of ``dtype`` on the inputs' device: CKA in [0, 1] ([−1, 1] debiased).
        Backpropagating through it gives the gradients with respect to X and Y.

    Raises InputError (before any arithmetic) for non-tensors, tensors on different devices,
    NaN or infinite values, different row counts, fewer than 3 examples (4 debiased) and,
    when ``eps == 0``, constant features. Invariances as ``linear_cka``.
    """
    import torch

    debiased = check_flag(debiased, "debiased")
    if not (isinstance(eps, (int, float)) and not isinstance(eps, bool)) or not eps >= 0:
        raise InputError(f"eps must be a number >= 0, got {eps!r}")
    X, Y = _validated(X, "X", eps == 0.0), _validated(Y, "Y", eps == 0.0)
    if X.device != Y.device:
        raise InputError(f"Y is on {Y.device} but X is on {X.device}: put both on the same device")
    n = X.shape[0]
    if Y.shape[0] != n:
        raise InputError(
            f"X has {n} rows but Y has {Y.shape[0]}: rows must be the same examples in both"
        )
    minimum = DEBIASED_MIN_EXAMPLES if debiased else MIN_EXAMPLES
    if n < minimum:
        what = "debiased CKA" if debiased else "every representational measure"
        raise InputError(f"X and Y have {n} example(s): {what} needs at least {minimum}")
    if dtype is None:
        dtype = compute_dtype(X.device)
    if dtype not in (torch.float32, torch.float64):
        raise InputError(f"dtype must be torch.float32, torch.float64 or None, got {dtype!r}")
    Xc, Yc = _centred(X, dtype), _centred(Y, dtype)
    with _full_float32_matmul(Xc):
        if X.shape[1] + Y.shape[1] <= n:
            cross, self_x, self_y = _feature_terms(Xc, Yc)
        else:
            cross, self_x, self_y = _gram_terms(Xc, Yc)
    if debiased:
        rows_x = _sum_of_squares(Xc, dim=1)
        rows_y = _sum_of_squares(Yc, dim=1)
        cross = hsic(cross, rows_x, rows_y, n, debiased=True)
        self_x = hsic(self_x, rows_x, rows_x, n, debiased=True)
        self_y = hsic(self_y, rows_y, rows_y, n, debiased=True)
    denominator_sq = self_x * self_y
    if eps == 0.0:
        if not bool(denominator_sq > 0):
            raise InputError(
                "X or Y: the (unbiased) HSIC of a representation with itself is not positive "
                "(too few distinct examples), so CKA is undefined"
            )
        value = cross / torch.sqrt(denominator_sq)
    else:
        value = cross / (torch.sqrt(torch.clamp(denominator_sq, min=0.0)) + eps)
    return value.to(dtype)


def _validated(value: Any, name: str, refuse_constant: bool) -> Any:
    """The checks of every measure (``as_feature_tensor``), on a tensor that keeps its graph."""
    import torch

    if not is_tensor(value):
        raise InputError(
            f"{name} is a {type(value).__name__}: torch_linear_cka takes torch tensors (use "
            "simfunc.representational.linear_cka for numpy arrays)"
        )
    floating = value.dtype.is_floating_point
    checked = as_feature_tensor(value, name, min_examples=1,
                                dtype=value.dtype if floating else torch.float64)
    if refuse_constant and is_constant_matrix(checked):
        raise InputError(
            f"{name} is constant: every one of its {checked.shape[1]} feature(s) takes the "
            "same value on every example, so it has no representation to compare"
        )
    value = value.reshape(value.shape[0], -1)
    return value if floating else value.to(torch.float64)


def _centred(value: Any, dtype: Any) -> Any:
    """Column-centred features of ``dtype``, differentiable. The means are accumulated and
    subtracted in float64 (the device's widest float) and only then cast down to ``dtype``,
    ``_CENTRE_ROWS`` rows at a time to bound the wide temporary."""
    import torch

    wide = compute_dtype(value.device)
    if dtype == wide:
        wide_value = value.to(wide)
        return wide_value - wide_value.mean(dim=0, keepdim=True)
    mean = value.sum(dim=0, keepdim=True, dtype=wide) / value.shape[0]
    chunks = [(chunk.to(wide) - mean).to(dtype) for chunk in value.split(_CENTRE_ROWS)]
    return chunks[0] if len(chunks) == 1 else torch.cat(chunks, dim=0)


@contextlib.contextmanager
def _full_float32_matmul(tensor: Any) -> Iterator[None]:
    """float32 products in full float32 on CUDA (TF32 off for the duration)."""
    import torch

    if tensor.device.type != "cuda" or tensor.dtype != torch.float32:
        yield
        return
    previous = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = previous


def _sum_of_squares(matrix: Any, dim: int | None = None) -> Any:
    """Σ of squares, accumulated in float64 where the device has it."""
    wide = compute_dtype(matrix.device)
    squares = matrix.to(wide) ** 2
    return squares.sum() if dim is None else squares.sum(dim=dim)


def _feature_terms(Xc: Any, Yc: Any) -> tuple[Any, Any, Any]:
    return (
        _sum_of_squares(Xc.T @ Yc),
        _sum_of_squares(Xc.T @ Xc),
        _sum_of_squares(Yc.T @ Yc),
    )


def _gram_terms(Xc: Any, Yc: Any) -> tuple[Any, Any, Any]:
    import torch

    wide = compute_dtype(Xc.device)
    gram_x, gram_y = (Xc @ Xc.T).to(wide), (Yc @ Yc.T).to(wide)
    return (
        torch.sum(gram_x * gram_y),
        torch.sum(gram_x * gram_x),
        torch.sum(gram_y * gram_y),
    )
