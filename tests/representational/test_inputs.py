"""Bad input to every representational measure raises InputError naming the argument."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from simfunc import InputError
from simfunc import representational as rep

RNG = np.random.default_rng(0)
GOOD = RNG.standard_normal((20, 4))
NAMES = list(rep.MEASURES)


def _with_nan():
    X = GOOD.copy()
    X[3, 1] = np.nan
    return X


def _with_inf():
    X = GOOD.copy()
    X[0, 0] = -np.inf
    return X


BAD_INPUTS = [
    pytest.param(_with_nan(), "NaN", id="nan"),
    pytest.param(_with_inf(), "infinite", id="inf"),
    pytest.param(GOOD[:, 0], "dimension", id="vector"),
    pytest.param(np.zeros((0, 4)), "empty", id="no-rows"),
    pytest.param(np.zeros((20, 0)), "empty", id="no-features"),
    pytest.param(None, "None", id="none"),
    pytest.param("features", "str", id="string"),
    pytest.param(np.array([["a"] * 4] * 20), "dtype", id="non-numeric"),
    pytest.param(np.full((20, 4), 7.0), "constant", id="constant-matrix"),
    pytest.param(np.tile(RNG.standard_normal(4), (20, 1)), "constant", id="identical-rows"),
]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("bad, fragment", BAD_INPUTS)
@pytest.mark.parametrize("side", ["X", "Y"])
def test_bad_features_are_rejected_naming_the_argument(name, bad, fragment, side):
    measure = rep.MEASURES[name]
    args = (bad, GOOD) if side == "X" else (GOOD, bad)
    with pytest.raises(InputError, match=fragment) as info:
        measure(*args)
    assert str(info.value).startswith(side)


@pytest.mark.parametrize("name", NAMES)
def test_single_example_is_rejected(name):
    with pytest.raises(InputError, match="X has 1 example"):
        rep.MEASURES[name](GOOD[:1], GOOD[:1])


@pytest.mark.parametrize("name", NAMES)
def test_different_row_counts_are_rejected(name):
    with pytest.raises(InputError, match="X has 20 rows but Y has 19"):
        rep.MEASURES[name](GOOD, GOOD[:19])


def test_constant_matrix_message_explains_why():
    with pytest.raises(InputError, match="no representation to compare"):
        rep.linear_cka(GOOD, np.ones((20, 3)))


def test_torch_inputs_with_nan_are_rejected_too():
    X = torch.tensor(_with_nan(), dtype=torch.float32)
    with pytest.raises(InputError, match="X contains 1 NaN"):
        rep.linear_cka(X, GOOD)


@pytest.mark.parametrize(
    "call, fragment",
    [
        (lambda X: rep.linear_cka(X, X, debiased=True), "at least 4"),
        (lambda X: rep.rbf_cka(X, X, debiased=True), "at least 4"),
    ],
)
def test_debiased_estimators_need_four_examples(call, fragment):
    X = RNG.standard_normal((3, 2))
    with pytest.raises(InputError, match=fragment):
        call(X)
    call(RNG.standard_normal((4, 2)))  # four is enough


@pytest.mark.parametrize(
    "call, argument",
    [
        (lambda: rep.rbf_cka(GOOD, GOOD, threshold=0), "threshold"),
        (lambda: rep.rbf_cka(GOOD, GOOD, threshold=-1.0), "threshold"),
        (lambda: rep.rbf_cka(GOOD, GOOD, threshold=float("nan")), "threshold"),
        (lambda: rep.svcca(GOOD, GOOD, variance=0.0), "variance"),
        (lambda: rep.svcca(GOOD, GOOD, variance=1.5), "variance"),
        (lambda: rep.svcca(GOOD, GOOD, variance=-0.2), "variance"),
        (lambda: rep.mutual_knn(GOOD, GOOD, k=20), "k"),
        (lambda: rep.mutual_knn(GOOD, GOOD, k=0), "k"),
        (lambda: rep.mutual_knn(GOOD, GOOD, k=2.5), "k"),
        (lambda: rep.rsa(GOOD, GOOD, distance="cosine"), "distance"),
        (lambda: rep.angular_shape(GOOD, GOOD, alpha=1.5), "alpha"),
        (lambda: rep.angular_shape(GOOD, GOOD, alpha=-0.1), "alpha"),
        (lambda: rep.linear_cka(GOOD, GOOD, debiased="yes"), "debiased"),
        (lambda: rep.rbf_cka(GOOD, GOOD, debiased=1), "debiased"),
    ],
)
def test_invalid_options_are_rejected_naming_the_option(call, argument):
    with pytest.raises(InputError) as info:
        call()
    assert str(info.value).startswith(argument)


def test_k_must_be_below_the_number_of_examples():
    with pytest.raises(InputError, match="smaller than the number of examples"):
        rep.mutual_knn(GOOD, GOOD, k=20)
    assert 0.0 <= rep.mutual_knn(GOOD, GOOD * 2, k=19) <= 1.0


@pytest.mark.parametrize("name", ["cca", "mean_cca", "pwcca", "svcca"])
@pytest.mark.parametrize("width", [9, 30])
def test_cca_is_refused_when_uninformative(name, width):
    """With rank >= n − 1 every canonical correlation is 1 whatever the data."""
    X = RNG.standard_normal((10, width))
    Y = RNG.standard_normal((10, 3))
    measure = rep.MEASURES[name]
    options = {"variance": 1.0} if name == "svcca" else {}
    with pytest.raises(InputError, match="uninformative") as info:
        measure(X, Y, **options)
    assert "more examples" in str(info.value)
    with pytest.raises(InputError, match="uninformative"):
        rep.canonical_correlations(Y, X)


def test_cca_is_accepted_just_below_the_limit():
    X = RNG.standard_normal((10, 8))  # rank 8 = n − 2
    Y = RNG.standard_normal((10, 3))
    assert rep.canonical_correlations(X, Y).shape == (3,)


def test_rbf_cka_with_mostly_identical_examples_is_rejected():
    X = np.vstack([np.zeros((15, 3)), RNG.standard_normal((5, 3))])
    with pytest.raises(InputError, match="median squared distance"):
        rep.rbf_cka(X, GOOD[:, :3])


def test_mutual_knn_with_an_all_zero_example_is_rejected():
    X = GOOD.copy()
    X[5] = 0.0
    with pytest.raises(InputError, match="example 5"):
        rep.mutual_knn(X, GOOD, k=3)


def test_rsa_correlation_distance_with_a_constant_example_is_rejected():
    X = GOOD.copy()
    X[7] = 2.5
    with pytest.raises(InputError, match="example 7") as info:
        rep.rsa(X, GOOD)
    assert "euclidean" in str(info.value)
    assert np.isfinite(rep.rsa(X, GOOD, distance="euclidean"))


def test_rsa_correlation_distance_needs_three_features():
    with pytest.raises(InputError, match="at least 3"):
        rep.rsa(GOOD[:, :2], GOOD)


def test_rsa_with_all_dissimilarities_equal_is_rejected():
    X = np.eye(4)  # every pair of examples at the same distance
    with pytest.raises(InputError, match="dissimilarities are equal"):
        rep.rsa(X, RNG.standard_normal((4, 3)), distance="euclidean")


def test_rsa_needs_three_examples():
    with pytest.raises(InputError, match="at least 3"):
        rep.rsa(GOOD[:2], GOOD[:2], distance="euclidean")


def test_inputs_are_never_modified():
    X, Y = GOOD.copy(), RNG.standard_normal((20, 6)) + 1e4
    X_before, Y_before = X.copy(), Y.copy()
    rep.compare_all(X, Y, skip_errors=True)
    rep.linear_cka(X, Y)
    rep.pairwise({"x": X, "y": Y})
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(Y, Y_before)


# --- degenerate inputs: one rule for every registered measure (issue 14, part 3) ---------------
#
# Every measure needs at least 3 examples and non-constant features; a measure that needs more
# declares it in the registry (min_examples, min_features). Parametrized over the registry, so
# a newly registered measure is covered automatically.


def _random_pair(n: int, width: int, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, width))
    return X, X + rng.standard_normal((n, width))


@pytest.mark.parametrize("name", NAMES)
def test_every_measure_declares_the_shared_minimum_at_least(name):
    from simfunc.representational._prepared import MIN_EXAMPLES

    assert MIN_EXAMPLES == 3
    assert rep.MEASURES[name].min_examples >= MIN_EXAMPLES
    assert rep.MEASURES[name].min_features >= 1


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("route", ["direct", "compare_all", "pairwise"])
def test_too_few_examples_are_refused_naming_the_argument_and_the_minimum(name, route):
    measure = rep.MEASURES[name]
    X, Y = _random_pair(measure.min_examples - 1, max(measure.min_features, 1))
    with pytest.raises(InputError) as info:
        if route == "direct":
            measure(X, Y)
        elif route == "compare_all":
            rep.compare_all(X, Y, names=[name])
        else:
            rep.pairwise({"a": X, "b": Y}, name)
    message = str(info.value)
    assert f"at least {measure.min_examples}" in message
    assert "X" in message or "features['a']" in message


@pytest.mark.parametrize("name", NAMES)
def test_the_declared_minimum_is_enough(name):
    measure = rep.MEASURES[name]
    X, Y = _random_pair(measure.min_examples, measure.min_features)
    value = measure(X, Y)
    low, high = measure.bounds
    assert np.isfinite(value) and low <= value <= high
    assert rep.compare_all(X, Y, names=[name])[name] == pytest.approx(value, abs=1e-12)


@pytest.mark.parametrize("name", [n for n in NAMES if rep.MEASURES[n].min_features > 1])
@pytest.mark.parametrize("route", ["direct", "compare_all"])
def test_too_few_features_are_refused_naming_the_argument_and_the_minimum(name, route):
    measure = rep.MEASURES[name]
    X, Y = _random_pair(max(measure.min_examples, 20), measure.min_features - 1)
    with pytest.raises(InputError) as info:
        measure(X, Y) if route == "direct" else rep.compare_all(X, Y, names=[name])
    assert f"at least {measure.min_features}" in str(info.value)
    assert str(info.value).startswith("X")


@pytest.mark.parametrize("name", NAMES)
def test_two_examples_are_never_silently_perfect(name):
    """The case that motivated the rule: with two examples linear CKA was 1 and Procrustes 0
    whatever the data. Now every measure refuses, saying why."""
    X, Y = _random_pair(2, 3)
    with pytest.raises(InputError, match="at least 3"):
        rep.MEASURES[name](X, Y)
