"""Representational similarity: how alike are two networks' internal representations?

Every measure takes features X (n, p) and Y (n, q) of the same n examples (numpy arrays or
torch tensors on any device; extra axes are flattened), computes in float64 whatever the
input dtype, and returns a Python float. Torch tensors are computed in torch on their device
(``linear_cka`` reads CPU tensors in place through numpy: the same memory, no copy).
Bad input raises ``simfunc.InputError``; fewer than 3 examples or constant features are bad
input for every measure.

* CKA: ``linear_cka`` (plain or debiased), ``rbf_cka``; streaming ``LinearCKA``; layer
  grids: exact ``LinearCKAGrid``, minibatch ``MinibatchCKA`` (Nguyen et al. 2021).
* CCA family: ``canonical_correlations``, ``cca`` (R²_CCA), ``mean_cca``, ``svcca``, ``pwcca``
  (``ConditioningWarning`` when features are conditioned beyond what float64 resolves).
* Shape metrics: ``procrustes``, ``angular_shape``.
* Neighbourhoods and RDMs: ``mutual_knn``, ``rsa``.
* Prediction-based: ``gulp`` (ridge predictors over all linear tasks), ``linear_predictivity``
  (cross-validated ridge R², both directions).
* ``torch_linear_cka``: linear CKA as a differentiable torch scalar (a training penalty).
* ``MEASURES`` (the registry), ``pairwise`` (every pair of models), ``compare_all`` (every
  measure on one pair), ``compare_each`` (the same, with each undefined measure's error).
"""

from __future__ import annotations

from ._basis import ConditioningWarning
from .cca import canonical_correlations, cca, mean_cca, pwcca, svcca
from .cka import linear_cka, rbf_cka
from .cka_grid import LinearCKAGrid
from .gulp import gulp
from .minibatch_cka import MinibatchCKA
from .neighbors import mutual_knn
from .pairwise import compare_all, compare_each, pairwise
from .predictivity import linear_predictivity
from .procrustes import angular_shape, procrustes
from .registry import MEASURES
from .rsa import rsa
from .streaming import LinearCKA
from .torch_cka import torch_linear_cka

__all__ = [
    "linear_cka",
    "rbf_cka",
    "canonical_correlations",
    "cca",
    "mean_cca",
    "svcca",
    "pwcca",
    "procrustes",
    "angular_shape",
    "mutual_knn",
    "rsa",
    "gulp",
    "linear_predictivity",
    "torch_linear_cka",
    "LinearCKA",
    "LinearCKAGrid",
    "MinibatchCKA",
    "MEASURES",
    "pairwise",
    "compare_all",
    "compare_each",
    "ConditioningWarning",
]
