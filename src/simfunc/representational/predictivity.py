"""Linear predictivity: how well each representation predicts the other by cross-validated ridge
regression, the measure neuroscience benchmarks use to compare models with brains (Yamins et
al. 2014, PNAS; Schrimpf et al. 2018, "Brain-Score").

**Definition used here** (every choice is an option with this default):

* **Folds.** The n examples are shuffled with ``numpy.random.default_rng(seed)`` (``seed=0``)
  and dealt into ``folds=5`` folds of sizes differing by at most one; each fold is predicted
  by a model fitted on the other four. The same folds serve both directions.
* **Fit.** On the training examples, source and target are centred with their *training*
  means, and the target is regressed on the source by ridge regression,
  ``W = (AᵀA + λI)^{-1} AᵀB``, with ``λ = ridge · ‖A‖_F²`` (``ridge=1e-2``): the penalty is
  relative to the training source's total variance, so the measure does not depend on the
  features' scale (the same convention as GULP's λ on unit-total-variance features).
* **Score.** The held-out predictions ``(x − μ_A) W + μ_B`` give a pooled, variance-weighted
  R² over all folds and all target features,
  ``R²(Y←X) = 1 − Σ‖y − ŷ‖² / Σ‖y − μ_B‖²`` (sums over every held-out example; μ_B the
  training mean of its fold). Pooling over features (rather than averaging per-feature R²)
  makes it invariant to rotations of the target.
* **Symmetrisation.** The measure is the mean of the two directions,
  ``(R²(Y←X) + R²(X←Y)) / 2``.

Values are at most 1 and may be negative (held-out predictions worse than the training mean).
Identical representations score slightly below 1: the ridge shrinks the prediction.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simfunc.errors import InputError
from simfunc.validation import check_int, check_positive

from ._prepared import Pair, prepare_pair
from ._xp import is_tensor, namespace

__all__ = [
    "linear_predictivity",
    "compare_linear_predictivity",
    "fold_assignment",
    "DEFAULT_FOLDS",
    "DEFAULT_RIDGE",
]

DEFAULT_FOLDS = 5
DEFAULT_RIDGE = 1e-2


def linear_predictivity(
    X: Any, Y: Any, folds: int = DEFAULT_FOLDS, ridge: float = DEFAULT_RIDGE, seed: int = 0
) -> float:
    """Cross-validated ridge R² of Y from X and of X from Y, averaged (see the module docstring).

    Args:
        X, Y: (n, p) and (n, q) features of the same examples; n >= folds.
        folds: number of cross-validation folds (>= 2).
        ridge: ridge penalty relative to the training source's total variance (> 0).
        seed: seed of the shuffle that assigns examples to folds.

    Returns:
        ``(R²(Y←X) + R²(X←Y)) / 2``, at most 1 (1: each predicts the other exactly; slightly
        below 1 for identical inputs because of the ridge), possibly negative.

    Invariances: translation, isotropic scaling, orthogonal transforms, permutations of the
    features (not general invertible maps: the ridge penalty is isotropic). Symmetric.
    Reference: the regression-based "neural predictivity" of Yamins et al. (2014) and
    Brain-Score (Schrimpf et al. 2018), here with a fixed ridge and pooled R².
    """
    options = _check_options(folds, ridge, seed)
    return compare_linear_predictivity(prepare_pair(X, Y, keep_raw=False), *options)


def _check_options(folds: Any, ridge: Any, seed: Any) -> tuple[int, float, int]:
    folds = check_int(folds, "folds", minimum=2)
    ridge = check_positive(ridge, "ridge")
    seed = check_int(seed, "seed", minimum=0)
    return folds, ridge, seed


def fold_assignment(n: int, folds: int, seed: int) -> np.ndarray:
    """Fold index of each example: a seeded shuffle dealt round-robin into ``folds`` folds."""
    order = np.random.default_rng(seed).permutation(n)
    assignment = np.empty(n, dtype=np.intp)
    assignment[order] = np.arange(n) % folds
    return assignment


def compare_linear_predictivity(
    pair: Pair, folds: int = DEFAULT_FOLDS, ridge: float = DEFAULT_RIDGE, seed: int = 0
) -> float:
    folds, ridge, seed = _check_options(folds, ridge, seed)
    n = pair.n
    if n < folds:
        raise InputError(
            f"{pair.x.name} and {pair.y.name} have {n} example(s): linear predictivity with "
            f"folds={folds} needs at least {folds} (one example per fold)"
        )
    assignment = fold_assignment(n, folds, seed)
    source, target = pair.x.centred, pair.y.centred
    smallest_train = n - int(np.bincount(assignment).max())
    if max(pair.x.width, pair.y.width) <= smallest_train:
        forward, backward = _both_directions_from_moments(
            source, target, assignment, folds, ridge, (pair.y.name, pair.x.name)
        )
    else:
        forward = _cross_validated_r2(source, target, assignment, folds, ridge, pair.y.name)
        backward = _cross_validated_r2(target, source, assignment, folds, ridge, pair.x.name)
    return float(min((forward + backward) / 2.0, 1.0))


def _both_directions_from_moments(
    X: Any, Y: Any, assignment: np.ndarray, folds: int, ridge: float, names: tuple[str, str]
) -> tuple[float, float]:
    """Both R²s when both widths fit the training folds (the primal form), fold by fold from
    the second moments of all the (globally centred) examples, ``G = [X Y]ᵀ[X Y]``: a fold's
    training moments are G minus its test block's, re-centred by the training means. Each
    fold costs a product of its test rows and two p × p (q × q) solves instead of two
    products of all its training rows. The features were centred globally, so the training
    means are small and the downdate loses no accuracy."""
    xp = namespace(X)
    p = X.shape[1]
    stacked = xp.concatenate([X, Y], axis=1)
    moments = stacked.T @ stacked
    sums = stacked.sum(axis=0)
    residual, total = [0.0, 0.0], [0.0, 0.0]
    for fold in range(folds):
        test = _indices(assignment == fold, X)
        held_out = stacked[test]
        count = stacked.shape[0] - held_out.shape[0]
        mean = (sums - held_out.sum(axis=0)) / count
        centred_moments = moments - held_out.T @ held_out - count * (mean[:, None] * mean[None, :])
        held_out = held_out - mean
        for direction, (source, target) in enumerate(
            ((slice(0, p), slice(p, None)), (slice(p, None), slice(0, p)))
        ):
            gram = centred_moments[source, source]
            scale = float(xp.diagonal(gram).sum())
            test_y = held_out[:, target]
            if scale > 0.0:
                gram = _add_to_diagonal(gram * 1.0, ridge * scale)
                # predictions X_te W = X_te (AᵀA + λI)^{-1} AᵀB, solved against the test rows
                solved = xp.linalg.solve(gram, held_out[:, source].T)
                error = test_y - solved.T @ centred_moments[source, target]
            else:
                error = test_y
            residual[direction] += float((error * error).sum())
            total[direction] += float((test_y * test_y).sum())
    for direction, name in enumerate(names):
        if not total[direction] > 0.0:
            raise InputError(
                f"{name}: every held-out example equals its training mean, so R² is undefined"
            )
    return 1.0 - residual[0] / total[0], 1.0 - residual[1] / total[1]


def _cross_validated_r2(
    source: Any, target: Any, assignment: np.ndarray, folds: int, ridge: float, target_name: str
) -> float:
    """Pooled held-out R² of ``target`` predicted from ``source`` by ridge regression.

    A source wider than a fold's training rows is fitted in the dual form from the Gram
    matrix of all examples, ``G = SSᵀ``, computed once: a fold's centred kernels are blocks
    of G double-centred by the training means (:func:`_fold_kernels`), so each fold costs
    O(m²) instead of a product with all p features (the features were centred globally, so
    the training means are small and the centring loses no accuracy)."""
    residual = total = 0.0
    gram = None
    for fold in range(folds):
        test, train = _indices(assignment == fold, source), _indices(assignment != fold, source)
        train_y = target[train]
        mean_y = train_y.mean(axis=0)
        test_y = target[test] - mean_y
        if source.shape[1] > train.shape[0]:  # wider than tall: never form the p × q W
            if gram is None:
                gram = source @ source.T
            kernel, test_kernel = _fold_kernels(gram, train, test)
            predicted = _dual_predictions(kernel, test_kernel, train_y - mean_y, ridge)
        else:
            train_x = source[train]
            mean_x = train_x.mean(axis=0)
            predicted = _primal_predictions(train_x - mean_x, source[test] - mean_x,
                                            train_y - mean_y, ridge)
        # a constant training source (None) predicts the training mean
        error = test_y if predicted is None else test_y - predicted
        residual += float((error * error).sum())
        total += float((test_y * test_y).sum())
    if not total > 0.0:
        raise InputError(
            f"{target_name}: every held-out example equals its training mean, so R² is undefined"
        )
    return 1.0 - residual / total


def _fold_kernels(gram: Any, train: Any, test: Any) -> tuple[Any, Any]:
    """``AAᵀ`` and ``(X_te − 1μᵀ)Aᵀ`` with ``A = X_tr − 1μᵀ`` (μ the training mean), from the
    blocks of ``G = XXᵀ``: ``G_rr`` double-centred, and ``G_tr`` minus its row means and the
    training rows' mean products ``G_rr 1 / m``, plus ``μᵀμ = 1ᵀG_rr1 / m²``."""
    within = gram[train][:, train]
    across = gram[test][:, train]
    row_means = within.mean(axis=1)
    grand_mean = row_means.mean()
    kernel = within - row_means[:, None] - row_means[None, :] + grand_mean
    test_kernel = across - across.mean(axis=1)[:, None] - row_means[None, :] + grand_mean
    return kernel, test_kernel


def _indices(mask: np.ndarray, like: Any) -> Any:
    index = np.flatnonzero(mask)
    if is_tensor(like):
        import torch

        return torch.as_tensor(index, device=like.device)
    return index


def _primal_predictions(train_x: Any, test_x: Any, train_y: Any, ridge: float) -> Any:
    """Ridge predictions ``X_te W`` with ``W = (AᵀA + λI)^{-1} AᵀB``, ``λ = ridge · ‖A‖_F²``,
    for A no wider than tall (a wider one takes the dual form, :func:`_dual_predictions`);
    None when A is all zeros.

    With fewer test rows t than target features q the p × q weights are never formed:
    ``X_te W = ((AᵀA + λI)^{-1} X_teᵀ)ᵀ Aᵀ B`` (the Gram matrix is symmetric), t right-hand
    sides instead of q and products of t rows."""
    xp = namespace(train_x)
    scale = float((train_x * train_x).sum())
    if not scale > 0.0:
        return None
    gram = _add_to_diagonal(train_x.T @ train_x, ridge * scale)
    if test_x.shape[0] < train_y.shape[1]:
        return (xp.linalg.solve(gram, test_x.T).T @ train_x.T) @ train_y
    return test_x @ xp.linalg.solve(gram, train_x.T @ train_y)


def _dual_predictions(kernel: Any, test_kernel: Any, train_y: Any, ridge: float) -> Any:
    """Ridge predictions of the test rows in the dual form, ``K_te (K + λI)^{-1} B`` with
    ``K = AAᵀ`` and ``K_te = X_te Aᵀ`` (m × m and t × m kernels of the m training rows), without
    the p × q weights (the same numbers as ``X_te W`` of :func:`_primal_predictions`;
    ``λ = ridge · ‖A‖_F² = ridge · trace K``); None when A is all zeros.

    ``K`` is symmetric, so ``K_te (K + λI)^{-1} B = ((K + λI)^{-1} K_teᵀ)ᵀ B``: the system is
    solved against whichever right-hand side has fewer columns, the t test rows or the q
    target features (t = 36 against q = 2048 for a fold of 180 examples of 2,048-d features)."""
    xp = namespace(kernel)
    scale = float(xp.diagonal(kernel).sum())
    if not scale > 0.0:
        return None
    kernel = _add_to_diagonal(kernel, ridge * scale)
    if test_kernel.shape[0] < train_y.shape[1]:
        return xp.linalg.solve(kernel, test_kernel.T).T @ train_y
    return test_kernel @ xp.linalg.solve(kernel, train_y)


def _add_to_diagonal(matrix: Any, value: float) -> Any:
    if is_tensor(matrix):
        matrix.diagonal().add_(value)
    else:
        matrix.flat[:: matrix.shape[0] + 1] += value
    return matrix
