"""Compare many representations: every pair of models, or every measure on one pair.

``pairwise`` prepares each model's features once. For linear CKA (plain and debiased) all the
cross terms ``‖X_aᵀX_b‖_F²`` come out of large matrix products over the models' stacked
centred features, not a loop of per-pair CKA calls:

* feature form (total width P = Σ p_a at most 3n): the symmetric product ``ZᵀZ`` of the stacked
  features Z (n × P), in column blocks when it would be large; the squared entries of each
  (a, b) block sum to the cross term. About n·P² operations.
* Gram form (P > 3n): the centred Gram matrices ``K_a = X_a X_aᵀ`` are computed a tile at a
  time (upper triangle only), their vectorised tiles stacked, and one product of the stack
  gives every ``<K_a, K_b>``. About n²·P operations.

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
from simfunc.measure import Measure
from simfunc.validation import check_choice

from ._linalg import check_flag
from ._prepared import Pair, PreparedFeatures, prepare_pair, same_backend
from ._stacked import stacked_linear_cka
from ._xp import is_tensor
from .cka import PRECISIONS, linear_cka
from .registry import MEASURES, check_minimums, check_options, comparator, get_measure

__all__ = ["pairwise", "compare_all", "compare_each"]


def pairwise(
    features: Mapping[Any, Any], measure: str = "linear_cka", **options: Any
) -> pd.DataFrame:
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

    Memory: linear CKA holds one stacked float64 copy of all the features plus bounded
    intermediates; the other measures keep each model's prepared pieces for the whole run
    (its centred copy and, for rbf_cka, one n × n kernel; for rsa, n(n−1)/2 ranks; a model
    whose rows repeat -- at most n/2 distinct -- keeps k × k matrices on its k distinct rows
    instead, see ``_grouped``).

    Torch tensors are compared in torch on their device (numpy inputs among them are moved
    there), pair by pair with each model's preparation shared, for every measure.
    """
    chosen = get_measure(measure)
    check_options(chosen, options)
    merged = {**chosen.options, **options}
    if not isinstance(features, Mapping) or not features:
        raise InputError("features must be a non-empty mapping {name: (n, p) features}")
    names = list(features)
    on_device = any(is_tensor(features[name]) for name in names)
    if chosen.fn is linear_cka and not on_device:
        labels = [_label(name) for name in names]
        precision = merged.pop("precision", "float64")
        check_choice(precision, "precision", PRECISIONS)
        dtype = np.float32 if precision == "float32" else np.float64
        values = stacked_linear_cka([features[name] for name in names], labels, dtype=dtype,
                                    **merged)
    elif chosen.fn is linear_cka and merged.get("precision", "float64") != "float64":
        values = _plain_loop(features, names, chosen, merged)  # float32 in torch, per pair
    else:
        values = _pairwise_loop(features, names, chosen, merged)
    labels = pd.Index(names, tupleize_cols=False)  # keep tuple names as plain labels
    return pd.DataFrame(values, index=labels, columns=labels.copy())


def _label(name: Any) -> str:
    return f"features[{name!r}]"


def _prepare_all(features: Mapping[Any, Any], names: list[Any]) -> list[PreparedFeatures]:
    prepared = [PreparedFeatures(features[name], _label(name)) for name in names]
    _check_rows([(model.name, model.n) for model in prepared])
    tensors = [model for model in prepared if model.is_tensor]
    for model in prepared:  # torch inputs: everything on the first tensor's device
        if tensors:
            same_backend(tensors[0], model)
    return prepared


def _check_rows(rows: list[tuple[str, int]]) -> None:
    first_name, first_n = rows[0]
    for name, n in rows[1:]:
        if n != first_n:
            raise InputError(
                f"{first_name} has {first_n} rows but {name} has {n}: rows must be the same "
                "examples in every model"
            )


def _plain_loop(
    features: Mapping[Any, Any], names: list[Any], chosen: Measure, options: dict[str, Any]
) -> np.ndarray:
    count = len(names)
    values = np.empty((count, count))
    for i in range(count):
        for j in range(i if chosen.symmetric else 0, count):
            values[i, j] = chosen(features[names[i]], features[names[j]], **options)
            if chosen.symmetric:
                values[j, i] = values[i, j]
    return values


def _pairwise_loop(
    features: Mapping[Any, Any], names: list[Any], chosen: Measure, options: dict[str, Any]
) -> np.ndarray:
    compare = comparator(chosen)
    if compare is None:  # a measure without a prepared form: plain calls
        return _plain_loop(features, names, chosen, options)
    count = len(names)
    values = np.empty((count, count))
    prepared = _prepare_all(features, names)
    check_minimums(chosen, prepared)
    for i in range(count):
        for j in range(i if chosen.symmetric else 0, count):
            values[i, j] = compare(Pair(prepared[i], prepared[j]), **options)
            if chosen.symmetric:
                values[j, i] = values[i, j]
    return values


def compare_each(X: Any, Y: Any, names: Iterable[str] | None = None) -> dict[str, float | InputError]:
    """Several registered measures on one pair, sharing the preparation; each measure's value,
    or the InputError it raised on this data.

    Centring, norms, whitening bases, the cross product ``XcᵀYc`` and per-model objects are
    computed once and reused by every measure. Unknown names and invalid X or Y (NaN, wrong
    rank, different numbers of rows) raise; a measure undefined on *this* data (CCA when it is
    uninformative, too few examples for its estimator) maps to its error instead of a value.

    Returns:
        ``{name: value or InputError}`` in the order of ``names`` (default: every measure in
        ``MEASURES``, in its order).
    """
    if isinstance(names, str):
        names = [names]
    chosen = [get_measure(name) for name in (MEASURES if names is None else names)]
    pair = prepare_pair(X, Y)
    results: dict[str, float | InputError] = {}
    for measure in chosen:
        compare = comparator(measure)
        try:
            check_minimums(measure, [pair.x, pair.y])
            if compare is None:
                results[measure.name] = float(measure(X, Y))
            else:
                results[measure.name] = float(compare(pair, **measure.options))
        except InputError as error:
            results[measure.name] = error
    return results


def compare_all(
    X: Any, Y: Any, names: Iterable[str] | None = None, skip_errors: bool = False
) -> dict[str, float]:
    """Several registered measures on one pair, sharing the preparation (see
    :func:`compare_each`).

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
    results: dict[str, float] = {}
    for name, value in compare_each(X, Y, names).items():
        if isinstance(value, InputError):
            if not skip_errors:
                raise value
            warnings.warn(f"compare_all: {name} left out: {value}", UserWarning, 2)
        else:
            results[name] = value
    return results
