"""Compare many representations: every pair of models, or every measure on one pair.

``pairwise`` prepares each model's features once. For linear CKA (plain and debiased) all the
cross terms ``‖X_aᵀX_b‖_F²`` come out of large matrix products over the models' stacked
centred features, not a loop of per-pair CKA calls:

* feature form (total width P = Σ p_a at most n): the symmetric product ``ZᵀZ`` of the stacked
  features Z (n × P), in column blocks when it would be large; the squared entries of each
  (a, b) block sum to the cross term. About n·P² operations.
* Gram form (P > n): the centred Gram matrices ``K_a = X_a X_aᵀ`` are computed a block of rows
  at a time (upper block-triangle only), their vectorised blocks stacked, and one symmetric
  product of the stack gives every ``<K_a, K_b>``. About n²·P operations.

Other measures loop over pairs but reuse each model's preparation (centring, whitening basis,
k-NN sets, ranked RDMs). ``compare_all`` computes several measures on one pair, sharing the
preparation and the cross product between them.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from simfunc.errors import InputError
from simfunc.validation import as_features, to_numpy

from ._linalg import check_flag
from ._prepared import Pair, PreparedFeatures, prepare_pair, validated_features
from .cka import DEBIASED_MIN_EXAMPLES, linear_cka
from .registry import MEASURES, check_options, comparator, get_measure

__all__ = ["pairwise", "compare_all"]

# Largest intermediate of the stacked linear-CKA products, in float64 elements (128 MiB).
_BLOCK_ELEMENTS = 2**24


def pairwise(features: Mapping[Any, Any], measure: str = "linear_cka", **options: Any) -> pd.DataFrame:
    """The measure between every pair of models, as a labelled square DataFrame.

    Args:
        features: ``{name: X}``, each X (n, p_name) on the same n examples (numpy or torch).
        measure: a name in ``MEASURES``.
        **options: the measure's options (``debiased=True``, ``k=5``...), over the registry's.

    Returns:
        DataFrame ``D`` with index and columns the names in order, ``D.loc[a, b] =
        measure(features[a], features[b])``; the diagonal is each model against itself.
        Symmetric measures are computed once per unordered pair; asymmetric ones (pwcca) in
        both orders.
    """
    chosen = get_measure(measure)
    check_options(chosen, options)
    merged = {**chosen.options, **options}
    if not isinstance(features, Mapping) or not features:
        raise InputError("features must be a non-empty mapping {name: (n, p) features}")
    names = list(features)
    if chosen.fn is linear_cka:
        values = _stacked_linear_cka(features, names, **merged)
    else:
        values = _pairwise_loop(features, names, chosen, merged)
    return pd.DataFrame(values, index=pd.Index(names), columns=pd.Index(names))


def _label(name: Any) -> str:
    return f"features[{name!r}]"


def _prepare_all(features: Mapping[Any, Any], names: list[Any]) -> list[PreparedFeatures]:
    prepared = [PreparedFeatures(features[name], _label(name)) for name in names]
    _check_rows([(model.name, model.n) for model in prepared])
    return prepared


def _check_rows(rows: list[tuple[str, int]]) -> None:
    first_name, first_n = rows[0]
    for name, n in rows[1:]:
        if n != first_n:
            raise InputError(
                f"{first_name} has {first_n} rows but {name} has {n}: rows must be the same "
                "examples in every model"
            )


def _pairwise_loop(
    features: Mapping[Any, Any], names: list[Any], chosen: Any, options: dict[str, Any]
) -> np.ndarray:
    count = len(names)
    values = np.empty((count, count))
    compare = comparator(chosen)
    if compare is None:  # a measure without a prepared form: plain calls
        for i in range(count):
            for j in range(count):
                values[i, j] = chosen(features[names[i]], features[names[j]], **options)
        return values
    prepared = _prepare_all(features, names)
    for i in range(count):
        for j in range(i if chosen.symmetric else 0, count):
            values[i, j] = compare(Pair(prepared[i], prepared[j]), **options)
            if chosen.symmetric:
                values[j, i] = values[i, j]
    return values


def _stacked_linear_cka(
    features: Mapping[Any, Any], names: list[Any], debiased: bool = False
) -> np.ndarray:
    debiased = check_flag(debiased, "debiased")
    # Validate every model before any arithmetic; keep arrays that cost no memory (views of
    # the caller's float64 data), convert the others again when stacking.
    kept: list[np.ndarray | None] = []
    shapes: list[tuple[str, int]] = []
    widths: list[int] = []
    for name in names:
        data, owned, _ = validated_features(features[name], _label(name))
        kept.append(None if owned else data)
        shapes.append((_label(name), data.shape[0]))
        widths.append(data.shape[1])
        del data
    _check_rows(shapes)
    n = shapes[0][1]
    if debiased and n < DEBIASED_MIN_EXAMPLES:
        raise InputError(
            f"the models have {n} example(s): debiased CKA needs at least {DEBIASED_MIN_EXAMPLES}"
        )
    offsets = np.concatenate([[0], np.cumsum(widths)])
    stacked = np.empty((n, int(offsets[-1])))
    for index, name in enumerate(names):
        data = kept[index]
        if data is None:
            data = as_features(to_numpy(features[name], _label(name)), _label(name))
        np.subtract(data, data.mean(axis=0), out=stacked[:, offsets[index] : offsets[index + 1]])
        kept[index] = None
    del data
    if stacked.shape[1] <= n:
        cross = _feature_cross(stacked, offsets)
    else:
        cross = _gram_cross(stacked, offsets)
    if debiased:
        rows = np.stack(
            [
                np.einsum("ij,ij->i", block, block)
                for block in (stacked[:, offsets[a] : offsets[a + 1]] for a in range(len(names)))
            ],
            axis=1,
        )  # (n, models): centred squared row norms
        totals = rows.sum(axis=0)
        cross = (
            cross
            - n / (n - 2.0) * (rows.T @ rows)
            + np.outer(totals, totals) / ((n - 1.0) * (n - 2.0))
        )
    self_terms = np.diagonal(cross).copy()
    for name, value in zip(names, self_terms):
        if not value > 0.0:
            raise InputError(
                f"{_label(name)}: its {'unbiased HSIC' if debiased else 'HSIC'} with itself is "
                "not positive, so CKA is undefined"
            )
    values = cross / np.sqrt(np.outer(self_terms, self_terms))
    return np.clip(values, -1.0 if debiased else 0.0, 1.0)


def _feature_cross(stacked: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """``‖X_aᵀX_b‖_F²`` for all models from column blocks of ``ZᵀZ`` (Z = stacked features)."""
    count = len(offsets) - 1
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
    for gi, rows_group in enumerate(groups):
        for cols_group in groups[gi:]:
            r0, r1 = offsets[rows_group[0]], offsets[rows_group[-1] + 1]
            c0, c1 = offsets[cols_group[0]], offsets[cols_group[-1] + 1]
            left = stacked[:, r0:r1]
            right = left if cols_group is rows_group else stacked[:, c0:c1]
            product = left.T @ right  # a symmetric rank-k product (syrk) on the diagonal
            np.square(product, out=product)
            sums = np.add.reduceat(product, offsets[rows_group] - r0, axis=0)
            sums = np.add.reduceat(sums, offsets[cols_group] - c0, axis=1)
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


def compare_all(
    X: Any, Y: Any, names: Iterable[str] | None = None, skip_errors: bool = False
) -> dict[str, float]:
    """Several registered measures on one pair, sharing the preparation.

    Centring, norms, whitening bases, the cross product ``XcᵀYc`` and per-model objects are
    computed once and reused by every measure.

    Args:
        X, Y: (n, p) and (n, q) features of the same examples.
        names: registry names (default: every measure in ``MEASURES``, in its order).
        skip_errors: leave out (with a UserWarning) a measure that raises InputError on this
            data, e.g. CCA when it is uninformative, instead of failing. Invalid X or Y
            always raise.

    Returns:
        ``{name: value}`` in the order of ``names``.
    """
    skip_errors = check_flag(skip_errors, "skip_errors")
    if isinstance(names, str):
        names = [names]
    chosen = [get_measure(name) for name in (MEASURES if names is None else names)]
    pair = prepare_pair(X, Y)
    results: dict[str, float] = {}
    for measure in chosen:
        compare = comparator(measure)
        try:
            if compare is None:
                results[measure.name] = float(measure(X, Y))
            else:
                results[measure.name] = float(compare(pair, **measure.options))
        except InputError as error:
            if not skip_errors:
                raise
            warnings.warn(f"compare_all: {measure.name} left out: {error}", UserWarning, 2)
    return results
