"""Linear CKA between many representations at once, from stacked centred features.

All models' centred float64 features are written side by side into one array Z (n × P,
P = Σ p_a), the only copy made. The cross terms ``‖X_aᵀX_b‖_F² = <K_a, K_b>`` for every pair
(a, b) then come out of large matrix products instead of per-pair calls:

* feature form (P <= 3n, about n·P² operations): the symmetric rank-n product ``ZᵀZ`` (one
  syrk when it fits in memory, else column blocks of it); the squared entries of its (a, b)
  block sum to the cross term.
* Gram form (P > 3n, about n²·P operations): the centred Grams ``K_a = X_a X_aᵀ`` are computed a
  tile at a time over the upper triangle only, vectorised and stacked, and one product of
  the stack gives every ``<K_a, K_b>``; memory stays bounded.

The debiased estimator needs only the centred row norms on top (see ``cka.linear_cka``).
``pairwise`` (all its models) and ``linear_cka`` (two inputs) use this; when every input is
already float64 and centring by the rank-one identity is numerically safe (see
``linear_cka_pair``), both skip the copy altogether and take the same block products on the
inputs as they are (``_uncentred_matrix``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simfunc.errors import InputError
from simfunc.validation import as_features, check_finite, to_numpy

from ._hsic import debiased_hsic
from ._linalg import check_flag, sq_frobenius
from ._prepared import validated_features

__all__ = ["stacked_linear_cka", "linear_cka_pair", "DEBIASED_MIN_EXAMPLES"]

DEBIASED_MIN_EXAMPLES = 4

# Largest intermediate product, in float64 elements (2**24 elements = 128 MiB).
_BLOCK_ELEMENTS = 2**24

# The Gram form needs fewer operations as soon as P > n, but its many tile products (and the
# pass over the stacked tiles) run at a lower rate than one large syrk: on 2 cores, 16 models
# with n = 5000, p = 512 (P = 1.6n) took 5.1 s in the feature form and 8.4-10.6 s in the Gram
# form. It is used from P > 3n on, where its operation count is a third or less.
_GRAM_FORM_WIDTH_RATIO = 3


def stacked_linear_cka(
    inputs: list[Any], labels: list[str], debiased: bool = False, dtype: Any = np.float64
) -> np.ndarray:
    """The matrix of linear CKA values between every pair of ``inputs`` (numpy).

    ``labels`` name the inputs in error messages. Every input is validated before any
    arithmetic. ``dtype=np.float32`` is the float32 fast path: each input is centred in float64
    and cast down into a float32 stack, the products are float32, and every sum of squares
    is accumulated in float64 (see ``cka.linear_cka``'s ``precision``).
    """
    debiased = check_flag(debiased, "debiased")
    kept, widths, n = _validate_all(inputs, labels, debiased, keep_copies=False, dtype=dtype)
    float64 = np.dtype(dtype) == np.float64
    if (float64 and sum(widths) <= _GRAM_FORM_WIDTH_RATIO * n
            and all(data is not None for data in kept)):
        # Every input is already float64 (a view, no copy): if centring by the rank-one
        # identity is safe for all of them, no stacked copy is made at all. Fresh memory is not
        # free -- a first touch of the 16 x 5000 x 512 stack costs about 1 s in a VM -- and the
        # block products below do the same work as one syrk of the stack.
        means = []
        for data in kept:
            mean, centred_ss = _column_moments(data)
            if not _uncentred_is_safe(mean, centred_ss, n):
                break
            means.append(mean)
        else:
            return _uncentred_matrix(kept, means, labels, debiased)
    stacked, offsets = _stack_centred(inputs, labels, kept, widths, n, dtype=dtype)
    return _from_stacked(stacked, offsets, labels, debiased)


def linear_cka_pair(X: Any, Y: Any, debiased: bool = False, dtype: Any = np.float64) -> float:
    """Linear CKA of two inputs (see ``cka.linear_cka``), copying them only when needed.

    When ``p + q <= n`` and every column's mean is small compared with its spread
    (``n·μ_j² <= 4·Σ_i (x_ij − μ_j)²``), the products are taken on the inputs as they are and
    centred afterwards by the exact rank-one identity ``XcᵀYc = XᵀY − n μ_x μ_yᵀ``. Under that
    condition the rounding error of every entry is at most (1 + 4) times the bound for
    explicitly centred inputs (``|XᵀY|_ij <= ‖x_i‖‖y_j‖`` and ``‖x_i‖² <= 5 Σ (x_ij − μ_j)²``),
    and no float64 copy of the features is made. Otherwise (large means, constant columns,
    or p + q > n) the inputs are centred into one stacked copy first. ``dtype=np.float32``:
    the float32 fast path: each input centred into a float32 copy (means in float64), one GEMM
    and two syrk in float32, sums of squares in float64 (``_float32_pair``; beyond the feature
    form, a centred float32 stack as in ``stacked_linear_cka``).
    """
    debiased = check_flag(debiased, "debiased")
    labels = ["X", "Y"]
    fast32 = np.dtype(dtype) == np.float32
    # The float32 pair path checks finiteness in its first pass (the column means).
    kept, widths, n = _validate_all([X, Y], labels, debiased, keep_copies=True, dtype=dtype,
                                    check_values=not fast32)
    arrays = [array for array in kept if array is not None]
    means: list[np.ndarray] = []
    if np.dtype(dtype) == np.float64 and sum(widths) <= n:
        for array in arrays:
            mean, centred_ss = _column_moments(array)
            means.append(mean)
            if not _uncentred_is_safe(mean, centred_ss, n):
                break
        else:
            return float(_uncentred_matrix(arrays, means, labels, debiased)[0, 1])
    if fast32:
        if sum(widths) <= _GRAM_FORM_WIDTH_RATIO * n:
            return float(_float32_pair(arrays, labels, debiased)[0, 1])
        for array, label in zip(arrays, labels):
            check_finite(array, label)
    stacked, offsets = _stack_centred([X, Y], labels, kept, widths, n, means, dtype=dtype)
    return float(_from_stacked(stacked, offsets, labels, debiased)[0, 1])


def _centred_float32(data: np.ndarray) -> np.ndarray:
    """``data`` minus its column means, the means accumulated and subtracted in float64 and
    the difference rounded once to float32 (one pass, no float64 copy)."""
    mean = data.mean(axis=0, dtype=np.float64)
    centred = np.empty(data.shape, dtype=np.float32)
    np.subtract(data, mean, out=centred, casting="unsafe")
    return centred


def _shifted_float32(data: np.ndarray, out: np.ndarray, name: str) -> np.ndarray:
    """Write ``data − c`` into the float32 ``out`` and return the float64 column means of the
    result (small: how far c is from the mean), for the rank-one correction
    ``XcᵀYc = X'ᵀY' − n m'_x m'_yᵀ``.

    For float32 input, c is the float32 column mean from one BLAS pass (``1ᵀX / n``, sgemv);
    it only has to be *near* the mean (within about 1e-6 of the values' magnitude). Then the
    shift, exact for values within a factor 2 of c (any large common offset), leaves values of
    the order of the spread, and the residual means m' are summed from those (a second sgemv
    over small values, accurate to about 1e-9 of the spread). Shifting is what keeps float32
    accurate on features with a large common offset, unlike float32-native centring, which
    leaves the float32 running-sum mean's error in every value and then squares it in the
    products. m' must be small, not only known: a float32 product accumulates a systematic
    ``n·m'_x m'_y`` with a rounding error growing like n, against ``sqrt(n)`` for centred
    values. A float64 input is centred in float64 and rounded once (correction zero).

    The column sums are also the finiteness check of ``data`` (validated without it): NaN or
    inf anywhere makes them non-finite, and ``check_finite`` then raises its InputError."""
    n = data.shape[0]
    if data.dtype != np.float32:
        means = data.mean(axis=0, dtype=np.float64)
        _check_sums(means, data, name)
        np.subtract(data, means, out=out, casting="unsafe")
        return np.zeros(data.shape[1])
    ones = np.ones(n, dtype=np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        shift = ones @ data  # column sums, one sgemv pass
        shift /= np.float32(n)
    _check_sums(shift, data, name)
    np.subtract(data, shift, out=out)
    with np.errstate(over="ignore", invalid="ignore"):
        return (ones @ out).astype(np.float64) / n


def _check_sums(means: np.ndarray, data: np.ndarray, name: str) -> None:
    if not np.isfinite(means).all():
        check_finite(data, name)  # raises for NaN and inf, saying where
        raise InputError(f"{name}: its column sums overflow (values too large); rescale it")


def _corrected_sq_sum(product: np.ndarray, n: int, left: np.ndarray, right: np.ndarray) -> float:
    """``‖P − n·l rᵀ‖_F²`` in float64 from the float32 product P, without forming the
    correction: ``‖P‖² − 2n·lᵀP r + n²‖l‖²‖r‖²`` (l, r are small residual means, so the
    identity costs no accuracy)."""
    wide = product.astype(np.float64)
    flat = wide.ravel()
    return (float(np.dot(flat, flat)) - 2.0 * n * float(left @ (wide @ right))
            + n * n * float(left @ left) * float(right @ right))


# Two float32 workspaces reused from call to call by the float32 fast path, each up to this
# many bytes: fresh memory costs a page fault per 4 KiB on first touch (about 3 ms for two
# 5,000 × 512 float32 copies, 4 % of the whole measure), so they are kept instead of freed.
# (Two contiguous arrays, not one stacked: writing into column slices runs at half speed.)
_WORKSPACE_BYTES = 64 * 2**20
_workspace: list[np.ndarray] = []


def _take_workspace(n: int, width: int) -> tuple[np.ndarray, np.ndarray | None]:
    """An (n, width) float32 array, from the kept workspace when it fits in the limit; and the
    buffer to hand back to ``_return_workspace`` (None: a fresh array, not kept)."""
    size = n * width
    if 4 * size > _WORKSPACE_BYTES:
        return np.empty((n, width), dtype=np.float32), None
    try:
        buffer = _workspace.pop()  # atomic: two threads never share a buffer
    except IndexError:
        buffer = np.empty(0, dtype=np.float32)
    if buffer.size < size:
        buffer = np.empty(size, dtype=np.float32)
    return buffer[:size].reshape(n, width), buffer


def _return_workspace(buffer: np.ndarray | None) -> None:
    if buffer is not None and len(_workspace) < 2:
        _workspace.append(buffer)


def _sq_sum(matrix: np.ndarray) -> float:
    """``Σ a_ij²`` accumulated in float64 (a float32 matrix is converted, then one dot)."""
    if matrix.dtype == np.float32:
        wide = matrix.astype(np.float64).ravel()
        return float(np.dot(wide, wide))
    return float(np.einsum("ij,ij->", matrix, matrix))


def _float32_pair(arrays: list[np.ndarray], labels: list[str], debiased: bool) -> np.ndarray:
    """The float32 fast path for two inputs in the feature form: exactly the products a
    float32-native CKA takes -- one GEMM ``X'ᵀY'`` and two symmetric rank-k products
    ``X'ᵀX'``, ``Y'ᵀY'`` (syrk) -- on float32 copies shifted to their means
    (``_shifted_float32``, written into reused workspaces), each corrected to the centred
    product in float64, and every sum of squares accumulated in float64. (One syrk of the
    whole ``[X', Y']`` has the same operation count and runs no faster.)

    The debiased estimator also needs the centred row norms
    ``‖x'_i − m'‖² = ‖x'_i‖² − 2 x'_iᵀm' + ‖m'‖²``."""
    n = arrays[0].shape[0]
    (x, buffer_x), (y, buffer_y) = (_take_workspace(n, array.shape[1]) for array in arrays)
    try:
        mean_x = _shifted_float32(arrays[0], x, labels[0])
        mean_y = _shifted_float32(arrays[1], y, labels[1])
        cross = np.empty((2, 2))
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is refused just below
            for (i, j), (a, b, left, right) in (((0, 0), (x, x, mean_x, mean_x)),
                                                ((1, 1), (y, y, mean_y, mean_y)),
                                                ((0, 1), (x, y, mean_x, mean_y))):
                product = a.T @ b  # numpy uses syrk for Aᵀ A
                cross[i, j] = cross[j, i] = _corrected_sq_sum(product, n, left, right)
        for index, label in enumerate(labels):
            if not np.isfinite(cross[index, index]):
                raise InputError(
                    f"{label}: its products overflow float32 (values too large for "
                    "precision='float32'); rescale it or use precision='float64'"
                )
        rows = None
        if debiased:
            rows = np.empty((n, 2))
            for index, (z, mean) in enumerate(((x, mean_x), (y, mean_y))):
                rows[:, index] = np.einsum("ij,ij->i", z, z, dtype=np.float64)
                rows[:, index] -= 2.0 * (z @ mean.astype(np.float32))
                rows[:, index] += float(mean @ mean)
    finally:
        _return_workspace(buffer_x)
        _return_workspace(buffer_y)
    return _cka_matrix(cross, rows, n, labels, debiased)


# Largest n·μ² / Σ(x − μ)² of a column for which centring by the rank-one identity is used.
_SAFE_MEAN_RATIO = 4.0


def _column_moments(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means and centred sums of squares (the latter only to judge the cancellation)."""
    n = data.shape[0]
    mean = data.mean(axis=0)
    centred_ss = np.einsum("ij,ij->j", data, data) - n * mean**2
    return mean, centred_ss


def _uncentred_is_safe(mean: np.ndarray, centred_ss: np.ndarray, n: int) -> bool:
    # A column whose mean is exactly 0 (e.g. a dead unit that is always 0) is always safe.
    return bool(np.all(n * mean**2 <= _SAFE_MEAN_RATIO * np.maximum(centred_ss, 0.0)))


def _uncentred_matrix(
    arrays: list[np.ndarray], means: list[np.ndarray], labels: list[str], debiased: bool
) -> np.ndarray:
    """CKA for every pair of uncentred float64 ``arrays`` whose column ``means`` are known.

    Each cross-covariance is ``X_aᵀX_b − n μ_a μ_bᵀ`` (numpy uses syrk when a == b), computed
    into one reused buffer; see ``linear_cka_pair`` for when this is accurate.
    """
    n = arrays[0].shape[0]
    count = len(arrays)
    largest = max(data.shape[1] for data in arrays)
    buffer = np.empty(largest * largest)
    cross = np.empty((count, count))
    for a in range(count):
        for b in range(a, count):
            product = buffer[: arrays[a].shape[1] * arrays[b].shape[1]].reshape(
                arrays[a].shape[1], arrays[b].shape[1]
            )
            np.matmul(arrays[a].T, arrays[b], out=product)
            product -= np.outer(n * means[a], means[b])
            cross[a, b] = cross[b, a] = sq_frobenius(product)
    rows = None
    if debiased:  # ‖x_i − μ‖² = ‖x_i‖² − 2 x_iᵀμ + ‖μ‖²
        rows = np.empty((n, count))
        for index, (data, mean) in enumerate(zip(arrays, means)):
            rows[:, index] = np.einsum("ij,ij->i", data, data) - 2.0 * (data @ mean)
            rows[:, index] += float(np.dot(mean, mean))
    return _cka_matrix(cross, rows, n, labels, debiased)


def _from_stacked(
    stacked: np.ndarray, offsets: np.ndarray, labels: list[str], debiased: bool
) -> np.ndarray:
    n = stacked.shape[0]
    if stacked.shape[1] <= _GRAM_FORM_WIDTH_RATIO * n:
        cross = _feature_cross(stacked, offsets)
    else:
        cross = _gram_cross(stacked, offsets)
    rows = None
    if debiased:
        rows = np.empty((n, len(labels)))  # centred squared row norms, one column per input
        for index in range(len(labels)):
            block = stacked[:, offsets[index] : offsets[index + 1]]
            rows[:, index] = np.einsum("ij,ij->i", block, block, dtype=np.float64)
    return _cka_matrix(cross, rows, n, labels, debiased)


def _cka_matrix(
    cross: np.ndarray, rows: np.ndarray | None, n: int, labels: list[str], debiased: bool
) -> np.ndarray:
    """CKA for every pair from ``‖XaᵀXb‖_F²`` (and the centred row norms when debiased)."""
    if debiased:
        assert rows is not None
        totals = rows.sum(axis=0)
        cross = debiased_hsic(cross, rows.T @ rows, totals[:, None], totals[None, :], n)
    self_terms = np.diagonal(cross).copy()
    for label, value in zip(labels, self_terms):
        if not value > 0.0:
            raise InputError(
                f"{label}: its {'unbiased HSIC' if debiased else 'HSIC'} with itself is not "
                "positive (too few distinct examples), so CKA is undefined"
            )
    values = cross / np.sqrt(np.outer(self_terms, self_terms))
    return np.clip(values, -1.0 if debiased else 0.0, 1.0)


def _input_dtype(dtype: Any) -> Any:
    """What inputs are converted to: float64, or (float32 fast path) float32 kept as float32
    and anything else float64, so that centring always happens before casting down."""
    return np.float64 if np.dtype(dtype) == np.float64 else None


def _validate_all(
    inputs: list[Any], labels: list[str], debiased: bool, *, keep_copies: bool,
    dtype: Any = np.float64, check_values: bool = True,
) -> tuple[list[np.ndarray | None], list[int], int]:
    """Validate every input before any arithmetic.

    Returns the validated arrays that cost no memory (views of the caller's float64 data),
    and the converted copies too when ``keep_copies`` (else None in their place, so that
    ``_stack_centred`` converts them again one at a time), their widths and n.
    """
    kept: list[np.ndarray | None] = []
    rows: list[int] = []
    widths: list[int] = []
    for X, label in zip(inputs, labels):
        data, owned = validated_features(X, label, dtype=_input_dtype(dtype),
                                         check_values=check_values)
        kept.append(data if keep_copies or not owned else None)
        rows.append(data.shape[0])
        widths.append(data.shape[1])
        del data
    for label, count in zip(labels[1:], rows[1:]):
        if count != rows[0]:
            raise InputError(
                f"{labels[0]} has {rows[0]} rows but {label} has {count}: rows must be the same "
                "examples in every input"
            )
    n = rows[0]
    if debiased and n < DEBIASED_MIN_EXAMPLES:
        raise InputError(
            f"{' and '.join(labels)} have {n} example(s): debiased CKA needs at least "
            f"{DEBIASED_MIN_EXAMPLES}"
        )
    return kept, widths, n


def _stack_centred(
    inputs: list[Any],
    labels: list[str],
    kept: list[np.ndarray | None],
    widths: list[int],
    n: int,
    means: list[np.ndarray] | None = None,
    dtype: Any = np.float64,
) -> tuple[np.ndarray, np.ndarray]:
    """Centre every input into one (n, Σ widths) array of ``dtype``; returns it and the offsets.

    ``means`` may hold the column means of the first inputs, already computed. The means are
    accumulated and subtracted in float64 whatever ``dtype`` is (a float32 stack receives
    float64 differences rounded once), so a large common offset costs no accuracy.
    """
    known = list(means or [])
    offsets = np.concatenate([[0], np.cumsum(widths)]).astype(np.intp)
    stacked = np.empty((n, int(offsets[-1])), dtype=dtype)
    for index, (X, label) in enumerate(zip(inputs, labels)):
        data = kept[index]
        kept[index] = None
        if data is None:
            data = as_features(to_numpy(X, label), label, dtype=_input_dtype(dtype))
        if index < len(known):
            mean = known[index]
        else:
            mean = data.mean(axis=0, dtype=np.float64)
        np.subtract(data, mean, out=stacked[:, offsets[index] : offsets[index + 1]],
                    casting="same_kind" if stacked.dtype == np.float64 else "unsafe")
        del data
    return stacked, offsets


def _block_sq_norms(product: np.ndarray, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """``‖B‖_F²`` of each block of ``product`` between the given row and column offsets.

    ``rows`` and ``columns`` hold the blocks' boundaries (first start to last end). When they
    are the same object, ``product`` is taken as symmetric and only the upper blocks are read.
    """
    symmetric = rows is columns
    sums = np.empty((len(rows) - 1, len(columns) - 1))
    for i in range(len(rows) - 1):
        for j in range(i if symmetric else 0, len(columns) - 1):
            block = product[rows[i] : rows[i + 1], columns[j] : columns[j + 1]]
            sums[i, j] = _sq_sum(block)  # float64 accumulation; no temporary for float64
            if symmetric:
                sums[j, i] = sums[i, j]
    return sums


def _feature_cross(stacked: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """``‖X_aᵀX_b‖_F²`` for all models from ``ZᵀZ`` (Z = stacked centred features)."""
    count = len(offsets) - 1
    width = int(offsets[-1])
    if width * width <= _BLOCK_ELEMENTS or count == 1:
        # One symmetric product (numpy uses syrk for Zᵀ Z: half a general product's cost).
        return _block_sq_norms(stacked.T @ stacked, offsets, offsets)
    limit = max(int(np.sqrt(_BLOCK_ELEMENTS)), int(np.max(np.diff(offsets))))
    groups: list[list[int]] = []  # consecutive models whose total width fits the limit
    current: list[int] = []
    for model in range(count):
        if current and offsets[model + 1] - offsets[current[0]] > limit:
            groups.append(current)
            current = []
        current.append(model)
    groups.append(current)
    cross = np.empty((count, count))
    # One output buffer for every block product: fresh memory costs a page fault per 4 KiB on
    # first touch (0.3 s per 128 MiB in the VMs we measured on), so it is allocated once.
    largest = max(offsets[g[-1] + 1] - offsets[g[0]] for g in groups)
    buffer = np.empty(largest * largest, dtype=stacked.dtype)
    for index, rows_group in enumerate(groups):
        for cols_group in groups[index:]:
            r0, r1 = offsets[rows_group[0]], offsets[rows_group[-1] + 1]
            c0, c1 = offsets[cols_group[0]], offsets[cols_group[-1] + 1]
            left = stacked[:, r0:r1]
            right = left if cols_group is rows_group else stacked[:, c0:c1]
            product = buffer[: (r1 - r0) * (c1 - c0)].reshape(r1 - r0, c1 - c0)
            np.matmul(left.T, right, out=product)  # numpy uses syrk for left.T @ left
            row_bounds = offsets[rows_group[0] : rows_group[-1] + 2] - r0
            col_bounds = offsets[cols_group[0] : cols_group[-1] + 2] - c0
            sums = _block_sq_norms(product, row_bounds, col_bounds)
            cross[np.ix_(rows_group, cols_group)] = sums
            cross[np.ix_(cols_group, rows_group)] = sums.T
    return cross


def _gram_cross(stacked: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """``<K_a, K_b>`` for all models from square tiles of the centred Grams (upper half only).

    The n × n Gram plane is cut into T × T tiles (T such that all models' tiles together hold
    at most ``_BLOCK_ELEMENTS`` numbers); for each tile on or above the diagonal, every
    model's tile of ``K_a = X_a X_aᵀ`` is computed (a symmetric product on the diagonal) and
    one product of the stacked, vectorised tiles adds their inner products. A diagonal tile
    holds both (i, j) and (j, i); an off-diagonal tile stands for its mirror image too.
    """
    n = stacked.shape[0]
    count = len(offsets) - 1
    tile = max(1, min(n, int(np.sqrt(_BLOCK_ELEMENTS // count))))
    features = [stacked[:, offsets[model] : offsets[model + 1]] for model in range(count)]
    buffer = np.empty(count * tile * tile, dtype=stacked.dtype)  # reused, see _feature_cross
    cross = np.zeros((count, count))
    for r0 in range(0, n, tile):
        r1 = min(r0 + tile, n)
        for c0 in range(r0, n, tile):
            c1 = min(c0 + tile, n)
            tiles = buffer[: count * (r1 - r0) * (c1 - c0)].reshape(count, r1 - r0, c1 - c0)
            for model, block in enumerate(features):
                if c0 == r0:
                    tiles[model] = block[r0:r1] @ block[r0:r1].T  # syrk
                else:
                    np.matmul(block[r0:r1], block[c0:c1].T, out=tiles[model])
            flat = tiles.reshape(count, -1)
            if flat.dtype != np.float64:  # accumulate the tile inner products in float64
                flat = flat.astype(np.float64)
            cross += (1.0 if c0 == r0 else 2.0) * (flat @ flat.T)
    return cross
