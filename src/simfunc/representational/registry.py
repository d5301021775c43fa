"""The registry of representational measures and what each one declares about itself.

``MEASURES`` maps a name to a ``simfunc.measure.Measure``: the function, its direction, its
symmetry, the transformations it is invariant to and the interval its values lie in. The
property tests iterate over this dict, so every declared property is a tested property. Each
registered function also has a *comparator* working on prepared inputs (``_prepared.Pair``),
which ``pairwise`` and ``compare_all`` use to reuse per-model preparation.
"""

from __future__ import annotations

import inspect
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
from .cka import compare_linear_cka, compare_rbf_cka, linear_cka, rbf_cka
from .neighbors import compare_mutual_knn, mutual_knn
from .procrustes import angular_shape, compare_angular_shape, compare_procrustes, procrustes
from .rsa import compare_rsa, rsa

__all__ = ["MEASURES", "get_measure", "comparator", "check_options"]

_SHAPE = frozenset({TRANSLATION, ISOTROPIC_SCALING, ORTHOGONAL, PERMUTATION})
_LINEAR = _SHAPE | {INVERTIBLE_LINEAR}

MEASURES: dict[str, Measure] = {
    measure.name: measure
    for measure in (
        Measure(
            "linear_cka", linear_cka, True, True, _SHAPE, (0.0, 1.0),
            "Linear centred kernel alignment (Kornblith et al. 2019)",
        ),
        Measure(
            "debiased_cka", linear_cka, True, True, _SHAPE, (-1.0, 1.0),
            "Linear CKA with the unbiased HSIC estimator (Song et al. 2012)",
            options={"debiased": True}, min_examples=4,
        ),
        Measure(
            "rbf_cka", rbf_cka, True, True, _SHAPE, (0.0, 1.0),
            "CKA with Gaussian kernels, median-distance bandwidth (Kornblith et al. 2019)",
        ),
        Measure(
            "cca", cca, True, True, _LINEAR, (0.0, 1.0),
            "R²_CCA: mean squared canonical correlation",
            min_examples=3,
        ),
        Measure(
            "mean_cca", mean_cca, True, True, _LINEAR, (0.0, 1.0),
            "Mean canonical correlation",
            min_examples=3,
        ),
        Measure(
            "svcca", svcca, True, True, _SHAPE, (0.0, 1.0),
            "SVCCA: mean canonical correlation of the top singular directions (Raghu et al. 2017)",
            min_examples=3,
        ),
        Measure(
            "pwcca", pwcca, True, False,
            frozenset({TRANSLATION, ISOTROPIC_SCALING, PERMUTATION}), (0.0, 1.0),
            "Projection-weighted CCA (Morcos et al. 2018); not symmetric",
            min_examples=3,
        ),
        Measure(
            "procrustes", procrustes, False, True, _SHAPE, (0.0, 2.0),
            "Orthogonal Procrustes distance, 2 − 2‖XᵀY‖_* (Ding et al. 2021)",
        ),
        Measure(
            "angular_shape", angular_shape, False, True, _SHAPE, (0.0, float(np.pi / 2)),
            "Angular shape metric, arccos of the Procrustes alignment (Williams et al. 2021)",
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
            min_examples=3,
        ),
        Measure(
            "rsa_euclidean", rsa, True, True, _SHAPE, (-1.0, 1.0),
            "RSA with Euclidean-distance RDMs",
            options={"distance": "euclidean"}, min_examples=3,
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
