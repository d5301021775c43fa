"""simfunc.stats against scipy.stats and against simple loops written here."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import scipy.stats
import torch

import simfunc.stats.correlation as correlation
import simfunc.stats.resampling as resampling
from simfunc import InputError, stats


def scipy_statistic(name):
    if name == "spearman":
        return lambda x, y: scipy.stats.spearmanr(x, y).statistic
    return lambda x, y: scipy.stats.kendalltau(x, y).statistic


@pytest.fixture
def related():
    rng = np.random.default_rng(11)
    x = rng.normal(size=25)
    return x, 0.6 * x + rng.normal(size=25)


@pytest.fixture
def tied():
    rng = np.random.default_rng(12)
    return rng.integers(0, 5, 30).astype(float), rng.integers(0, 4, 30).astype(float)


# --- point estimates ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["spearman", "kendall"])
@pytest.mark.parametrize("data", ["related", "tied"])
def test_rank_correlations_equal_scipy(name, data, request):
    x, y = request.getfixturevalue(data)
    assert getattr(stats, name)(x, y) == pytest.approx(scipy_statistic(name)(x, y), abs=1e-14)


@pytest.mark.parametrize("n", [3, 20, 21, 150, 260])
def test_kendall_equals_scipy_on_both_sides_of_the_sign_array_size(n):
    rng = np.random.default_rng(n)
    x, y = rng.normal(size=n).round(1), rng.normal(size=n).round(1)
    assert stats.kendall(x, y) == pytest.approx(scipy.stats.kendalltau(x, y).statistic, abs=1e-14)


def test_lists_and_torch_tensors_are_accepted(related):
    x, y = related
    expected = scipy.stats.spearmanr(x, y).statistic
    assert stats.spearman(list(x), torch.tensor(y, dtype=torch.float64)) == pytest.approx(expected)


def test_monotone_decreasing_relation_gives_minus_one_and_a_tiny_p_value():
    x = np.linspace(0.1, 2.0, 20)
    y = -np.exp(3 * x)
    assert stats.spearman(x, y) == -1.0
    assert stats.kendall(x, y) == -1.0
    for name in ("spearman", "kendall"):
        p = stats.permutation_pvalue(x, y, statistic=name, n_permutations=2000)
        assert p == 1 / 2001  # no random pairing of 20 points is perfectly ordered


def test_independent_noise_gives_a_p_value_that_is_not_small():
    rng = np.random.default_rng(2024)
    x, y = rng.normal(size=40), rng.normal(size=40)
    assert scipy.stats.spearmanr(x, y).pvalue > 0.2  # the data set is independent-looking
    for name in ("spearman", "kendall"):
        assert stats.permutation_pvalue(x, y, statistic=name, n_permutations=2000) > 0.2


# --- permutation p-values -----------------------------------------------------------------


def loop_permutation_pvalue(x, y, name, n_permutations, seed, alternative="two-sided",
                            stop_after=100):
    """The documented scheme, one permutation at a time: Besag and Clifford's rule (stop at
    the draw L where ``stop_after`` are at least as extreme, p = stop_after / L), else the
    fixed-size p-value of all the draws."""
    rng = np.random.default_rng(seed)
    statistic = scipy_statistic(name)
    observed = statistic(x, y)
    count = 0
    for draw in range(1, n_permutations + 1):
        value = statistic(x, y[rng.permutation(len(y))])
        if alternative == "two-sided":
            count += abs(value) >= abs(observed) - 1e-12
        elif alternative == "greater":
            count += value >= observed - 1e-12
        else:
            count += value <= observed + 1e-12
        if stop_after is not None and count == stop_after:
            return stop_after / draw
    return (1 + count) / (1 + n_permutations)


@pytest.mark.parametrize("name", ["spearman", "kendall"])
@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
@pytest.mark.parametrize("stop_after", [None, 100, 7])
def test_permutation_pvalue_follows_the_documented_scheme(name, alternative, stop_after, tied):
    x, y = tied
    expected = loop_permutation_pvalue(x, y, name, 300, seed=5, alternative=alternative,
                                       stop_after=stop_after)
    got = stats.permutation_pvalue(
        x, y, statistic=name, n_permutations=300, seed=5, alternative=alternative,
        stop_after=stop_after,
    )
    assert got == pytest.approx(expected, abs=1e-15)


def test_the_sequential_p_is_the_full_one_when_it_does_not_stop_early(related):
    x, y = related
    y = 0.2 * x + y  # p about 0.005: fewer than 100 of 10,000 permutations are as extreme
    full = stats.permutation_pvalue(x, y, n_permutations=10_000, seed=1, stop_after=None)
    assert 1 / 10_001 < full < 100 / 10_001
    assert stats.permutation_pvalue(x, y, n_permutations=10_000, seed=1) == full


def test_a_sequential_p_that_stops_early_is_within_its_error_bound_of_the_full_one():
    """Stopped at h extreme draws, p = h / L has relative standard error about
    sqrt((1 - p) / h); over seeds it stays within 4 of them of the 20,000-draw p."""
    rng = np.random.default_rng(11)
    x = rng.normal(size=30)
    y = 0.25 * x + rng.normal(size=30)
    full = stats.permutation_pvalue(x, y, n_permutations=20_000, seed=0, stop_after=None)
    assert 0.05 < full < 0.6
    bound = 4 * np.sqrt((1 - full) / 100)
    for seed in range(5):
        sequential = stats.permutation_pvalue(x, y, n_permutations=20_000, seed=seed)
        assert abs(sequential / full - 1) < bound, (seed, sequential, full)


def test_the_sequential_p_value_is_valid_under_the_null():
    """P(p <= alpha) <= alpha for independent data (Besag and Clifford 1991): over 400
    null data sets the rejections at 5 % and 20 % stay within binomial noise of the level."""
    rng = np.random.default_rng(5)
    ps = np.array([
        stats.permutation_pvalue(rng.normal(size=12), rng.normal(size=12), n_permutations=2000,
                                 seed=s, stop_after=10)
        for s in range(400)
    ])
    for alpha in (0.05, 0.2):
        limit = alpha + 3 * np.sqrt(alpha * (1 - alpha) / ps.size)
        assert np.mean(ps <= alpha) <= limit
    assert np.mean(ps <= 0.5) > 0.35  # and not uselessly conservative


def test_stop_after_must_be_none_or_a_positive_integer():
    x, y = [1.0, 2.0, 3.0, 4.0], [2.0, 1.0, 4.0, 3.0]
    for bad in (0, -1, 2.5, True, "10"):
        with pytest.raises(InputError, match="stop_after"):
            stats.permutation_pvalue(x, y, stop_after=bad)


def test_permutation_pvalue_does_not_depend_on_batching(monkeypatch, related):
    x, y = related
    expected = {
        name: loop_permutation_pvalue(x, y, name, 200, seed=3) for name in ("spearman", "kendall")
    }
    monkeypatch.setattr(resampling, "_BATCH_ELEMENTS", 60)  # batches of 2 permutations
    for name, p in expected.items():
        assert stats.permutation_pvalue(x, y, name, n_permutations=200, seed=3) == p
        assert stats.permutation_pvalue(x, y, name, n_permutations=200, seed=3,
                                        stop_after=3) == loop_permutation_pvalue(
            x, y, name, 200, seed=3, stop_after=3)


def test_kendall_permutations_above_the_sign_array_size_follow_the_scheme():
    rng = np.random.default_rng(4)
    n = correlation.KENDALL_SIGN_ARRAY_MAX_POINTS + 20
    x = rng.normal(size=n)
    y = 0.1 * x + rng.normal(size=n)
    expected = loop_permutation_pvalue(x, y, "kendall", 40, seed=1)
    assert stats.permutation_pvalue(x, y, "kendall", n_permutations=40, seed=1) == expected


def test_permutation_pvalue_is_reproducible_and_seeded(related):
    x, y = related
    x, y = x, 0.1 * x + y  # a moderate relation: p is neither 1 / (B + 1) nor near 1
    first = stats.permutation_pvalue(x, y, n_permutations=999, seed=42)
    assert stats.permutation_pvalue(x, y, n_permutations=999, seed=42) == first
    others = {stats.permutation_pvalue(x, y, n_permutations=999, seed=s) for s in range(5)}
    assert len(others) > 1


@pytest.mark.parametrize("name", ["spearman", "kendall"])
@pytest.mark.slow  # scipy's reference loops in Python
def test_permutation_pvalue_is_close_to_scipys_exact_test(name):
    x = np.array([0.3, 1.2, 0.7, 2.5, 1.9, 0.1, 1.4])
    y = np.array([0.5, 0.9, 1.3, 1.1, 2.0, 0.2, 0.4])
    statistic = scipy_statistic(name)
    exact = scipy.stats.permutation_test(
        (x,), lambda x_order: statistic(x_order, y), permutation_type="pairings",
        n_resamples=np.inf,
    ).pvalue  # 7! = 5040 pairings of x with the fixed y: scipy enumerates them all
    assert 0.05 < exact < 0.9
    ours = stats.permutation_pvalue(x, y, statistic=name, n_permutations=20_000, seed=0,
                                    stop_after=None)  # all draws: the tolerance is theirs
    assert ours == pytest.approx(exact, abs=0.015)


def test_one_sided_p_values_point_the_right_way(related):
    x, y = related
    assert stats.permutation_pvalue(x, y, alternative="greater", n_permutations=999) < 0.01
    assert stats.permutation_pvalue(x, y, alternative="less", n_permutations=999) > 0.99


# --- bootstrap intervals ------------------------------------------------------------------


def loop_bootstrap_ci(x, y, name, n_resamples, confidence, seed):
    """The documented scheme, one resample at a time: skip resamples with a constant side."""
    rng = np.random.default_rng(seed)
    indices = rng.integers(0, len(x), size=(n_resamples, len(x)))
    statistic = scipy_statistic(name)
    values = [
        statistic(x[rows], y[rows])
        for rows in indices
        if np.ptp(x[rows]) > 0 and np.ptp(y[rows]) > 0
    ]
    tail = (1 - confidence) / 2
    return tuple(np.quantile(values, [tail, 1 - tail]))


@pytest.mark.parametrize("name", ["spearman", "kendall"])
@pytest.mark.parametrize("data", ["related", "tied"])
def test_bootstrap_ci_equals_a_loop_with_the_same_seed_scheme(name, data, request):
    x, y = request.getfixturevalue(data)
    expected = loop_bootstrap_ci(x, y, name, 400, 0.9, seed=8)
    got = stats.bootstrap_ci(x, y, statistic=name, n_resamples=400, confidence=0.9, seed=8)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-13)


def test_bootstrap_ci_does_not_depend_on_batching(monkeypatch, tied):
    x, y = tied
    expected = loop_bootstrap_ci(x, y, "spearman", 300, 0.95, seed=2)
    monkeypatch.setattr(resampling, "_BATCH_ELEMENTS", 100)  # batches of 3 resamples
    got = stats.bootstrap_ci(x, y, n_resamples=300, seed=2)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-13)


@pytest.mark.slow  # scipy's reference loops in Python
def test_bootstrap_ci_is_close_to_scipys_percentile_bootstrap(related):
    x, y = related
    ours = stats.bootstrap_ci(x, y, n_resamples=4000, seed=0)
    theirs = scipy.stats.bootstrap(
        (x, y),
        scipy_statistic("spearman"),
        paired=True,
        vectorized=False,
        n_resamples=4000,
        method="percentile",
        random_state=np.random.default_rng(1),
    ).confidence_interval
    np.testing.assert_allclose(ours, (theirs.low, theirs.high), atol=0.04)


def test_bootstrap_ci_contains_the_point_estimate_and_narrows_with_confidence(related):
    x, y = related
    rho = stats.spearman(x, y)
    low, high = stats.bootstrap_ci(x, y, n_resamples=2000)
    assert low < rho < high
    low_80, high_80 = stats.bootstrap_ci(x, y, n_resamples=2000, confidence=0.8)
    assert low < low_80 < rho < high_80 < high


def test_resamples_with_a_constant_side_are_dropped_not_nan():
    x = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 2.0])
    y = np.array([1.0, 2.0, 0.0, 1.0, 3.0, 2.0, 4.0])
    low, high = stats.bootstrap_ci(x, y, n_resamples=500, seed=3)
    assert np.isfinite(low) and np.isfinite(high)
    np.testing.assert_allclose((low, high), loop_bootstrap_ci(x, y, "spearman", 500, 0.95, 3))


def test_too_few_defined_resamples_raise_input_error():
    # Each side has one distinct value: about 60 % of resamples miss one of them.
    x = np.zeros(20)
    x[0] = 1.0
    y = np.zeros(20)
    y[1] = 1.0
    with pytest.raises(InputError, match="bootstrap resamples"):
        stats.bootstrap_ci(x, y, n_resamples=500)


# --- linear fit and relate ----------------------------------------------------------------


def test_linear_fit_equals_numpy_polyfit(related):
    x, y = related
    np.testing.assert_allclose(stats.linear_fit(x + 1e3, y), np.polyfit(x + 1e3, y, 1), rtol=1e-9)
    slope, intercept = stats.linear_fit([0, 1, 2, 3], [5.0, 5.0, 5.0, 5.0])  # constant y is fine
    assert (slope, intercept) == (0.0, 5.0)


def test_relate_collects_every_number_and_serialises(related):
    x, y = related
    relation = stats.relate(x, y, n_permutations=500, n_resamples=500, seed=4)
    assert relation.n == 25
    assert relation.spearman == stats.spearman(x, y)
    assert relation.kendall == stats.kendall(x, y)
    assert relation.spearman_p == stats.permutation_pvalue(x, y, "spearman", 500, seed=4)
    assert relation.kendall_p == stats.permutation_pvalue(x, y, "kendall", 500, seed=4)
    assert relation.spearman_ci == stats.bootstrap_ci(x, y, "spearman", 500, seed=4)
    assert (relation.slope, relation.intercept) == stats.linear_fit(x, y)
    data = relation.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["spearman_ci"] == list(relation.spearman_ci)
    with pytest.raises(dataclasses.FrozenInstanceError):
        relation.spearman = 0.0  # type: ignore[misc]


# --- bad input ----------------------------------------------------------------------------

FUNCTIONS = {
    "spearman": stats.spearman,
    "kendall": stats.kendall,
    "permutation_pvalue": lambda x, y: stats.permutation_pvalue(x, y, n_permutations=10),
    "bootstrap_ci": lambda x, y: stats.bootstrap_ci(x, y, n_resamples=10),
    "linear_fit": stats.linear_fit,
    "relate": lambda x, y: stats.relate(x, y, n_permutations=10, n_resamples=10),
}
OK = [1.0, 2.0, 4.0, 3.0]


@pytest.mark.parametrize("function", FUNCTIONS)
@pytest.mark.parametrize(
    "x, y, fragment",
    [
        (OK, OK[:3], "x has 4 values but y has 3"),
        ([1.0, 2.0], [2.0, 1.0], "x has 2 value(s): at least 3"),
        (OK, [1.0, np.nan, 2.0, 3.0], "y contains 1 NaN"),
        ([1.0, np.inf, 2.0, 3.0], OK, "x contains 1 infinite"),
        ([[1.0, 2.0, 3.0]], OK, "x has shape (1, 3)"),
        (None, OK, "x is None"),
        (OK, "abcd", "y is a str"),
        ([2.0, 2.0, 2.0, 2.0], OK, "x is constant"),
    ],
)
def test_bad_sequences_raise_input_error(function, x, y, fragment):
    with pytest.raises(InputError) as info:
        FUNCTIONS[function](x, y)
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    "function", ["spearman", "kendall", "permutation_pvalue", "bootstrap_ci", "relate"]
)
def test_a_constant_y_is_named(function):
    with pytest.raises(InputError, match="y is constant .*undefined"):
        FUNCTIONS[function](OK, [3.0, 3.0, 3.0, 3.0])


@pytest.mark.parametrize(
    "call, fragment",
    [
        (lambda: stats.permutation_pvalue(OK, OK, statistic="pearson"), "statistic"),
        (lambda: stats.permutation_pvalue(OK, OK, n_permutations=0), "n_permutations"),
        (lambda: stats.permutation_pvalue(OK, OK, n_permutations=2.5), "n_permutations"),
        (lambda: stats.permutation_pvalue(OK, OK, alternative="both"), "alternative"),
        (lambda: stats.permutation_pvalue(OK, OK, seed=-1), "seed"),
        (lambda: stats.permutation_pvalue(OK, OK, seed=1.5), "seed"),
        (lambda: stats.bootstrap_ci(OK, OK, statistic="kendal"), "statistic"),
        (lambda: stats.bootstrap_ci(OK, OK, n_resamples=-5), "n_resamples"),
        (lambda: stats.bootstrap_ci(OK, OK, n_resamples=True), "n_resamples"),
        (lambda: stats.bootstrap_ci(OK, OK, confidence=1.0), "confidence"),
        (lambda: stats.bootstrap_ci(OK, OK, confidence=0), "confidence"),
        (lambda: stats.bootstrap_ci(OK, OK, confidence=95), "confidence"),
        (lambda: stats.bootstrap_ci(OK, OK, confidence=float("nan")), "confidence"),
        (lambda: stats.bootstrap_ci(OK, OK, seed="a"), "seed"),
        (lambda: stats.relate(OK, OK, n_resamples=0), "n_resamples"),
        (lambda: stats.relate(OK, OK, confidence=-0.5), "confidence"),
    ],
)
def test_bad_options_raise_input_error(call, fragment):
    with pytest.raises(InputError, match=fragment):
        call()
