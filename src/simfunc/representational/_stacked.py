"""Linear CKA between many representations at once, from stacked centred features.

All models' centred float64 features are written side by side into one array Z (n × P,
P = Σ p_a), the only copy made. The cross terms ``‖X_aᵀX_b‖_F² = <K_a, K_b>`` for every pair
(a, b) then come out of large matrix products instead of per-pair calls:

* feature form (P <= n, about n·P² operations): the symmetric rank-n product ``ZᵀZ`` (one
  syrk when it fits in memory, else column blocks of it); the squared entries of its (a, b)
  block sum to the cross term.
* Gram form (P > n, about n²·P operations): the centred Grams ``K_a = X_a X_aᵀ`` are computed a
  block of rows at a time over the upper block-triangle only, vectorised and stacked, and one
  symmetric product of the stack gives every ``<K_a, K_b>``; memory stays bounded.

The debiased estimator needs only the centred row norms on top (see ``cka.linear_cka``).
``linear_cka`` uses this with two inputs; ``pairwise`` with all models.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simfunc.errors import InputError
from simfunc.validation import as_features, to_numpy

from ._linalg import check_flag
from ._prepared import validated_features

__all__ = ["stacked_linear_cka", "DEBIASED_MIN_EXAMPLES"]

DEBIASED_MIN_EXAMPLES = 4

# Largest intermediate product, in float64 elements (2**24 elements = 128 MiB).
_BLOCK_ELEMENTS = 2**24


def stacked_linear_cka(inputs: list[Any], labels: list[str], debiased: bool = False) -> np.ndarray:
    """The matrix of linear CKA values between every pair of ``inputs`` (numpy or torch).

    ``labels`` name the inputs in error messages. Every input is validated before any
    arithmetic.
    """
    debiased = check_flag(debiased, "debiased")
    stacked, offsets = _stack_centred(inputs, labels, debiased)
    n = stacked.shape[0]
    if stacked.shape[1] <= n:
        cross = _feature_cross(stacked, offsets)
    else:
        cross = _gram_cross(stacked, offsets)
    if debiased:
        rows = np.empty((n, len(labels)))  # centred squared row norms, one column per input
        for index in range(len(labels)):
            block = stacked[:, offsets[index] : offsets[index + 1]]
            rows[:, index] = np.einsum("ij,ij->i", block, block)
        totals = rows.sum(axis=0)
        cross = (
            cross
            - n / (n - 2.0) * (rows.T @ rows)
            + np.outer(totals, totals) / ((n - 1.0) * (n - 2.0))
        )
    self_terms = np.diagonal(cross).copy()
    for label, value in zip(labels, self_terms):
        if not value > 0.0:
            raise InputError(
                f"{label}: its {'unbiased HSIC' if debiased else 'HSIC'} with itself is not "
                "positive (too few distinct examples), so CKA is undefined"
            )
    values = cross / np.sqrt(np.outer(self_terms, self_terms))
    return np.clip(values, -1.0 if debiased else 0.0, 1.0)


def _stack_centred(
    inputs: list[Any], labels: list[str], debiased: bool
) -> tuple[np.ndarray, np.ndarray]:
    # Validate every input before any arithmetic. Keep the validated arrays that cost nothing
    # (views of the caller's float64 data); convert the others again while stacking, so that
    # at most one converted copy exists at a time.
    kept: list[np.ndarray | None] = []
    rows: list[int] = []
    widths: list[int] = []
    for X, label in zip(inputs, labels):
        data, owned = validated_features(X, label)
        kept.append(None if owned else data)
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
    offsets = np.concatenate([[0], np.cumsum(widths)]).astype(np.intp)
    stacked = np.empty((n, int(offsets[-1])))
    for index, (X, label) in enumerate(zip(inputs, labels)):
        data = kept[index]
        kept[index] = None
        if data is None:
            data = as_features(to_numpy(X, label), label)
        np.subtract(data, data.mean(axis=0), out=stacked[:, offsets[index] : offsets[index + 1]])
        del data
    return stacked, offsets


def _block_sums(product: np.ndarray, row_offsets: np.ndarray, col_offsets: np.ndarray):
    """Sums of the squared entries of each (row model, column model) block (in place)."""
    np.square(product, out=product)
    sums = np.add.reduceat(product, row_offsets, axis=0)
    return np.add.reduceat(sums, col_offsets, axis=1)


def _feature_cross(stacked: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """``‖X_aᵀX_b‖_F²`` for all models from ``ZᵀZ`` (Z = stacked centred features)."""
    count = len(offsets) - 1
    width = int(offsets[-1])
    if width * width <= _BLOCK_ELEMENTS or count == 1:
        # One symmetric product (numpy uses syrk for Zᵀ Z: half a general product's cost).
        return _block_sums(stacked.T @ stacked, offsets[:-1], offsets[:-1])
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
    for index, rows_group in enumerate(groups):
        for cols_group in groups[index:]:
            r0, r1 = offsets[rows_group[0]], offsets[rows_group[-1] + 1]
            c0, c1 = offsets[cols_group[0]], offsets[cols_group[-1] + 1]
            left = stacked[:, r0:r1]
            right = left if cols_group is rows_group else stacked[:, c0:c1]
            product = left.T @ right  # numpy uses syrk for left.T @ left
            sums = _block_sums(product, offsets[rows_group] - r0, offsets[cols_group] - c0)
            cross[np.ix_(rows_group, cols_group)] = sums
            cross[np.ix_(cols_group, rows_group)] = sums.T
    return cross


def _gram_cross(stacked: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """``<K_a, K_b>`` for all models from row blocks of the centred Grams (upper half only)."""
    n = stacked.shape[0]
    count = len(offsets) - 1
    block = max(1, _BLOCK_ELEMENTS // (count * n))
    cross = np.zeros((count, count))
    for start in range(0, n, block):
        stop = min(start + block, n)
        rows, width = stop - start, n - start
        grams = np.empty((count, rows, width))
        for model in range(count):
            features = stacked[:, offsets[model] : offsets[model + 1]]
            np.matmul(features[start:stop], features[start:].T, out=grams[model])
        flat = grams.reshape(count, rows * width)
        square = np.ascontiguousarray(grams[:, :, :rows]).reshape(count, rows * rows)
        # The square (diagonal) part holds both (i, j) and (j, i); the rest stands for its
        # mirror image below the diagonal too, so it counts twice.
        cross += 2.0 * (flat @ flat.T) - square @ square.T
    return cross
