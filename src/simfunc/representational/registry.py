"""The registry of representational measures and what each one declares about itself.

``MEASURES`` maps a name to a ``simfunc.measure.Measure``: the function, its direction, its
symmetry, the transformations it is invariant to, the interval its values lie in and the
fewest examples and features it accepts. The property tests iterate over this dict, so every
declared property is a tested property. Each registered function also has a *comparator*
working on prepared inputs (``_prepared.Pair``), which ``pairwise`` and ``compare_all`` use
to reuse per-model preparation.

Degenerate inputs, one rule for every measure: at least ``MIN_EXAMPLES`` (3) examples and
non-constant features for all (``_prepared``); a measure needing more declares it here
(``min_examples``, ``min_features``), raises InputError naming the argument and the minimum
when called directly, and ``compare_all``/``pairwise`` check the declaration itself
(``check_minimums``) before computing.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any, Callable

import numpy as np

from simfunc.errors import InputError
from simfunc.measure import (
    INVERTIBLE_LINEAR,
    ISOTROPIC_SCALING,
    ORTHOGONAL,
    PERMUTATION,
    TRANSLATION,
    Measure,
)

from .cca import (
    cca,
    compare_cca,
    compare_mean_cca,
    compare_pwcca,
    compare_svcca,
    mean_cca,
    pwcca,
    svcca,
)
from ._prepared import MIN_EXAMPLES
from ._stacked import DEBIASED_MIN_EXAMPLES
from .cka import compare_linear_cka, compare_rbf_cka, linear_cka, rbf_cka
from .gulp import DEFAULT_RIDGE as GULP_RIDGE
from .gulp import compare_gulp, gulp
from .neighbors import compare_mutual_knn, mutual_knn
from .predictivity import DEFAULT_FOLDS, compare_linear_predictivity, linear_predictivity
from .procrustes import angular_shape, compare_angular_shape, compare_procrustes, procrustes
from .rsa import MIN_EXAMPLES as RSA_MIN_EXAMPLES
from .rsa import compare_rsa, rsa

__all__ = ["MEASURES", "get_measure", "comparator", "check_options", "check_minimums"]

_SHAPE = frozenset({TRANSLATION, ISOTROPIC_SCALING, ORTHOGONAL, PERMUTATION})
_LINEAR = _SHAPE | {INVERTIBLE_LINEAR}

MEASURES: dict[str, Measure] = {
    measure.name: measure
    for measure in (
        Measure(
            "linear_cka", linear_cka, True, True, _SHAPE, (0.0, 1.0),
            "Linear centred kernel alignment (Kornblith et al. 2019)",
            min_examples=MIN_EXAMPLES,
        ),
        Measure(
            "debiased_cka", linear_cka, True, True, _SHAPE, (-1.0, 1.0),
            "Linear CKA with the unbiased HSIC estimator (Song et al. 2012)",
            options={"debiased": True}, min_examples=DEBIASED_MIN_EXAMPLES,
        ),
        Measure(
            "rbf_cka", rbf_cka, True, True, _SHAPE, (0.0, 1.0),
            "CKA with Gaussian kernels, median-distance bandwidth (Kornblith et al. 2019)",
            min_examples=MIN_EXAMPLES,
        ),
        Measure(
            "cca", cca, True, True, _LINEAR, (0.0, 1.0),
            "R²_CCA: mean squared canonical correlation",
            min_examples=MIN_EXAMPLES,
        ),
        Measure(
            "mean_cca", mean_cca, True, True, _LINEAR, (0.0, 1.0),
            "Mean canonical correlation",
            min_examples=MIN_EXAMPLES,
        ),
        Measure(
            "svcca", svcca, True, True, _SHAPE, (0.0, 1.0),
            "SVCCA: mean canonical correlation of the top singular directions (Raghu et al. 2017)",
            min_examples=MIN_EXAMPLES,
        ),
        Measure(
            "pwcca", pwcca, True, False,
            frozenset({TRANSLATION, ISOTROPIC_SCALING, PERMUTATION}), (0.0, 1.0),
            "Projection-weighted CCA (Morcos et al. 2018); not symmetric",
            min_examples=MIN_EXAMPLES,
        ),
        Measure(
            "procrustes", procrustes, False, True, _SHAPE, (0.0, 2.0),
            "Orthogonal Procrustes distance, 2 − 2‖XᵀY‖_* (Ding et al. 2021)",
            min_examples=MIN_EXAMPLES,
        ),
        Measure(
            "angular_shape", angular_shape, False, True, _SHAPE, (0.0, float(np.pi / 2)),
            "Angular shape metric, arccos of the Procrustes alignment (Williams et al. 2021)",
            min_examples=MIN_EXAMPLES,
        ),
        Measure(
            "mutual_knn", mutual_knn, True, True,
            frozenset({ISOTROPIC_SCALING, ORTHOGONAL, PERMUTATION}), (0.0, 1.0),
            "Mutual k-nearest-neighbour alignment, k = 10 (Huh et al. 2024)",
            min_examples=11,
        ),
        Measure(
            "rsa", rsa, True, True, frozenset({ISOTROPIC_SCALING, PERMUTATION}), (-1.0, 1.0),
            "RSA: Spearman correlation of correlation-distance RDMs (Kriegeskorte et al. 2008)",
            min_examples=RSA_MIN_EXAMPLES, min_features=3,
        ),
        Measure(
            "rsa_euclidean", rsa, True, True, _SHAPE, (-1.0, 1.0),
            "RSA with Euclidean-distance RDMs",
            options={"distance": "euclidean"}, min_examples=RSA_MIN_EXAMPLES,
        ),
        Measure(
            "gulp", gulp, False, True, _SHAPE, (0.0, float(np.sqrt(2.0 / GULP_RIDGE))),
            f"GULP distance of ridge predictors over all linear tasks, λ = {GULP_RIDGE:g} "
            "(Boix-Adsera et al. 2022)",
            min_examples=MIN_EXAMPLES,
        ),
        Measure(
            "linear_predictivity", linear_predictivity, True, True, _SHAPE, (-np.inf, 1.0),
            f"Cross-validated ridge R², each from the other, averaged ({DEFAULT_FOLDS} folds; "
            "Yamins et al. 2014)",
            min_examples=max(MIN_EXAMPLES, DEFAULT_FOLDS), exact_on_identical=False,
        ),
    )
}  # fmt: skip

_COMPARATORS: dict[Callable[..., float], Callable[..., float]] = {
    linear_cka: compare_linear_cka,
    rbf_cka: compare_rbf_cka,
    cca: compare_cca,
    mean_cca: compare_mean_cca,
    svcca: compare_svcca,
    pwcca: compare_pwcca,
    procrustes: compare_procrustes,
    angular_shape: compare_angular_shape,
    mutual_knn: compare_mutual_knn,
    rsa: compare_rsa,
    gulp: compare_gulp,
    linear_predictivity: compare_linear_predictivity,
}


def get_measure(name: Any) -> Measure:
    """The registered measure called ``name``, or an InputError listing the names."""
    if isinstance(name, Measure):
        return name
    if not isinstance(name, str) or name not in MEASURES:
        raise InputError(f"measure must be one of {', '.join(MEASURES)}; got {name!r}")
    return MEASURES[name]


def comparator(measure: Measure) -> Callable[..., float] | None:
    """The function ``compare(pair, **options)`` on prepared inputs, if the measure has one."""
    return _COMPARATORS.get(measure.fn)


def check_options(measure: Measure, options: dict[str, Any]) -> None:
    """InputError for keyword options the measure's function does not take."""
    parameters = list(inspect.signature(measure.fn).parameters)[2:]
    unknown = sorted(set(options) - set(parameters))
    if unknown:
        accepted = ", ".join(parameters) or "none"
        raise InputError(
            f"{measure.name} does not take option(s) {', '.join(unknown)} (accepted: {accepted})"
        )


def check_minimums(measure: Measure, models: Sequence[Any]) -> None:
    """InputError when prepared models have fewer examples or features than ``measure``
    declares (``min_examples``, ``min_features``); the message names the arguments and states
    the minimum. The registry's side of the rule for degenerate inputs: the measure's own
    function enforces the same numbers when called directly.
    """
    n = models[0].n
    if n < measure.min_examples:
        names = " and ".join(model.name for model in models[:2])
        if len(models) > 2:
            names = f"{models[0].name} and the other {len(models) - 1} inputs"
        raise InputError(
            f"{names} have {n} example(s): {measure.name} needs at least {measure.min_examples}"
        )
    for model in models:
        if model.width < measure.min_features:
            raise InputError(
                f"{model.name} has {model.width} feature(s): {measure.name} needs at least "
                f"{measure.min_features}"
            )
