"""GULP and linear predictivity (issue 14, part 5) against values computed independently from
their definitions in float64: GULP's closed form with explicit covariance matrices and the
brute-force n × n hat matrices; linear predictivity with scikit-learn's Ridge per fold."""

from __future__ import annotations

import numpy as np
import pytest
import representational_reference as ref
import torch

from simfunc import InputError
from simfunc import representational as rep


def _related(n: int, p: int, q: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)) * rng.uniform(0.3, 3.0, size=p) + rng.normal(size=p)
    Y = X @ rng.standard_normal((p, q)) / np.sqrt(p) + 0.8 * rng.standard_normal((n, q))
    return X, Y


SHAPES = [(60, 5, 8), (40, 6, 6), (25, 30, 12), (50, 3, 40),  # n > p; p = q; p > n; p ≠ q
          (30, 120, 90),  # both wider than the training folds (the dual form both ways)
          (50, 60, 4)]  # X wider than its folds, Y narrower than a test fold (both solves)


# --- GULP ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("ridge", [1e-3, 1e-2, 1.0])
@pytest.mark.parametrize("shape", SHAPES)
def test_gulp_matches_the_closed_form_and_the_hat_matrices(shape, ridge):
    X, Y = _related(*shape, seed=1)
    value = rep.gulp(X, Y, ridge=ridge)
    assert value == pytest.approx(ref.gulp(X, Y, ridge), abs=1e-9)
    assert value == pytest.approx(ref.gulp_hat_matrices(X, Y, ridge), abs=1e-9)


def test_gulp_default_is_the_registered_ridge():
    X, Y = _related(60, 5, 8, seed=2)
    assert rep.gulp(X, Y) == pytest.approx(ref.gulp(X, Y, 1e-2), abs=1e-9)
    assert rep.MEASURES["gulp"](X, Y) == rep.gulp(X, Y)


@pytest.mark.parametrize("variant", ["dead_and_collinear", "float32_large_mean"])
def test_gulp_on_awkward_features(variant):
    X, Y = _related(60, 6, 7, seed=3)
    if variant == "dead_and_collinear":
        X[:, 1] = 2.0
        X[:, -1] = X[:, 0] + X[:, 2]
    else:
        X, Y = (X + 1e4).astype(np.float32), (Y - 1e4).astype(np.float32)
    assert rep.gulp(X, Y) == pytest.approx(ref.gulp_hat_matrices(X, Y, 1e-2), abs=1e-9)


def test_gulp_at_ridge_zero_is_the_cca_limit():
    """λ = 0: d² = r_x + r_y − 2 Σ ρ_i² (P_X, P_Y are the projections on the column spaces)."""
    X, Y = _related(80, 4, 6, seed=4)
    rho = ref.canonical_correlations(X, Y)
    expected = np.sqrt(4 + 6 - 2 * np.sum(rho**2))
    assert rep.gulp(X, Y, ridge=0.0) == pytest.approx(expected, abs=1e-9)
    assert rep.gulp(X, Y, ridge=0.0) == pytest.approx(ref.gulp(X, Y, 0.0), abs=1e-9)


def test_gulp_at_large_ridge_compares_the_covariances():
    """λ → ∞: λ·d_λ → ‖X̂X̂ᵀ − ŶŶᵀ‖_F / n, a CKA-like comparison of the (normalised) Grams."""
    X, Y = _related(50, 5, 7, seed=5)
    Xn, Yn = ref.unit_total_variance(X), ref.unit_total_variance(Y)
    limit = np.linalg.norm(Xn @ Xn.T - Yn @ Yn.T) / X.shape[0]
    assert 1e6 * rep.gulp(X, Y, ridge=1e6) == pytest.approx(limit, rel=1e-5)


def test_gulp_near_zero_is_accurate_to_rounding():
    """Nearly identical representations: d is recomputed without cancellation, so it is right
    to rounding, not to the square root of rounding."""
    X, _ = _related(60, 5, 5, seed=6)
    rng = np.random.default_rng(7)
    for size in (1e-4, 1e-7):
        Z = X + size * rng.standard_normal(X.shape)
        assert rep.gulp(X, Z) == pytest.approx(ref.gulp_hat_matrices(X, Z), rel=1e-6, abs=1e-14)
    assert rep.gulp(X, X) < 1e-13
    assert rep.gulp(X, 3.0 * X @ np.linalg.qr(rng.standard_normal((5, 5)))[0] - 2.0) < 1e-13


@pytest.mark.parametrize("ridge", [-1e-3, float("nan"), float("inf"), "0.1", True])
def test_gulp_rejects_a_bad_ridge(ridge):
    X, Y = _related(30, 3, 3, seed=8)
    with pytest.raises(InputError, match="^ridge"):
        rep.gulp(X, Y, ridge=ridge)


# --- linear predictivity ------------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
def test_linear_predictivity_matches_per_fold_ridge_regressions(shape):
    X, Y = _related(*shape, seed=10)
    expected = ref.linear_predictivity(X, Y)
    assert rep.linear_predictivity(X, Y) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("folds, ridge, seed", [(2, 1e-2, 0), (3, 1e-4, 5), (10, 0.5, 123)])
def test_linear_predictivity_options(folds, ridge, seed):
    X, Y = _related(47, 6, 9, seed=11)
    value = rep.linear_predictivity(X, Y, folds=folds, ridge=ridge, seed=seed)
    assert value == pytest.approx(ref.linear_predictivity(X, Y, folds, ridge, seed), abs=1e-9)


def test_linear_predictivity_is_the_mean_of_both_directions():
    X, Y = _related(60, 3, 8, seed=12)  # Y holds more than X: the two directions differ
    forward, backward = ref.cross_validated_r2(X, Y), ref.cross_validated_r2(Y, X)
    assert abs(forward - backward) > 0.05
    assert rep.linear_predictivity(X, Y) == pytest.approx((forward + backward) / 2, abs=1e-9)
    assert rep.linear_predictivity(Y, X) == rep.linear_predictivity(X, Y)


@pytest.mark.parametrize("shape", [(80, 5, 6), (30, 120, 90)])  # moments; fold kernels from G
def test_linear_predictivity_on_float32_features_with_a_large_offset(shape):
    X, Y = _related(*shape, seed=13)
    X32, Y32 = (X + 1e4).astype(np.float32), (Y - 1e4).astype(np.float32)
    assert rep.linear_predictivity(X32, Y32) == pytest.approx(
        ref.linear_predictivity(X32.astype(np.float64), Y32.astype(np.float64)), abs=1e-9)  # fmt: skip


@pytest.mark.parametrize("test_rows", [3, 40])  # fewer test rows than targets, and more
def test_ridge_predictions_solve_against_either_side_with_the_same_result(test_rows):
    """Primal and dual predictions equal X_te W with W formed explicitly, whichever right-hand
    side (test rows or target features) the solve is taken against."""
    from simfunc.representational.predictivity import _dual_predictions, _primal_predictions

    rng = np.random.default_rng(16)
    for p in (6, 30):  # no wider than the 20 training rows (primal), wider (dual)
        A, B = rng.standard_normal((20, p)), rng.standard_normal((20, 8))
        test = rng.standard_normal((test_rows, p))
        lam = 0.1 * float((A * A).sum())
        expected = test @ np.linalg.solve(A.T @ A + lam * np.eye(p), A.T @ B)
        got = (_primal_predictions(A, test, B, 0.1) if p <= 20
               else _dual_predictions(A @ A.T, test @ A.T, B, 0.1))
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_folds_are_balanced_seeded_and_the_seed_matters():
    from simfunc.representational.predictivity import fold_assignment

    fold = fold_assignment(23, 5, seed=0)
    assert sorted(np.bincount(fold)) == [4, 4, 5, 5, 5]
    np.testing.assert_array_equal(fold, fold_assignment(23, 5, seed=0))
    X, Y = _related(40, 4, 4, seed=14)
    assert rep.linear_predictivity(X, Y, seed=1) != rep.linear_predictivity(X, Y, seed=2)


def test_self_prediction_approaches_one_as_the_ridge_vanishes():
    X, _ = _related(60, 5, 5, seed=15)
    assert rep.linear_predictivity(X, X) < 1.0
    assert rep.linear_predictivity(X, X, ridge=1e-9) == pytest.approx(1.0, abs=1e-6)


def test_unrelated_features_predict_nothing():
    rng = np.random.default_rng(16)
    X, Y = rng.standard_normal((400, 5)), rng.standard_normal((400, 5))
    assert abs(rep.linear_predictivity(X, Y)) < 0.05


@pytest.mark.parametrize(
    "options, argument",
    [({"folds": 1}, "folds"), ({"folds": 2.5}, "folds"), ({"ridge": 0.0}, "ridge"),
     ({"ridge": -1.0}, "ridge"), ({"seed": -1}, "seed"), ({"seed": 1.5}, "seed")],
)
def test_linear_predictivity_rejects_bad_options(options, argument):
    X, Y = _related(30, 3, 3, seed=17)
    with pytest.raises(InputError) as info:
        rep.linear_predictivity(X, Y, **options)
    assert str(info.value).startswith(argument)


def test_more_folds_than_examples_is_refused():
    X, Y = _related(8, 2, 2, seed=18)
    with pytest.raises(InputError, match="needs at least 10"):
        rep.linear_predictivity(X, Y, folds=10)


# --- both, in the registry and on torch ---------------------------------------------------------


@pytest.mark.parametrize("name", ["gulp", "linear_predictivity"])
def test_registered_with_references_and_properties(name):
    measure = rep.MEASURES[name]
    assert measure.summary and "20" in measure.summary  # cites its paper's year
    X, Y = _related(60, 5, 8, seed=19)
    assert rep.compare_all(X, Y)[name] == pytest.approx(ref.REFERENCES[name](X, Y), abs=1e-9)
    table = rep.pairwise({"a": X, "b": Y, "c": X[:, :3]}, name)
    assert table.loc["a", "b"] == pytest.approx(ref.REFERENCES[name](X, Y), abs=1e-9)


@pytest.mark.parametrize("name", ["gulp", "linear_predictivity"])
def test_torch_inputs_give_the_numpy_value(name):
    X, Y = _related(45, 5, 30, seed=20)
    expected = rep.MEASURES[name](X, Y)
    assert rep.MEASURES[name](torch.from_numpy(X), torch.from_numpy(Y)) == pytest.approx(
        expected, abs=1e-10)  # fmt: skip
