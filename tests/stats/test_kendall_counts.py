"""Kendall's tau-b counted in O(n log n) (simfunc.stats.kendall_counts) against scipy, and the
permutation tests and bootstraps that use it against scipy's per-row statistic on the same
seeds (the path they took before for n > 200)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from simfunc import stats
from simfunc.stats import resampled_correlation, resampling
from simfunc.stats.correlation import kendall_rows, kendall_rows_from_signs
from simfunc.stats.kendall_counts import kendall_tau_b_rows, order_codes, tau_b_of_codes


def scipy_rows(x_rows, y_rows, rows_are_permutations=False):
    """scipy's tau-b, one row at a time; NaN for a constant row (as the batched forms). It
    stands in for ``tau_b_of_codes`` (whose ``rows_are_permutations`` it ignores)."""
    x_rows = np.broadcast_to(x_rows, y_rows.shape)
    out = []
    for x_row, y_row in zip(x_rows, y_rows):
        constant = np.all(x_row == x_row[0]) or np.all(y_row == y_row[0])
        out.append(np.nan if constant else scipy.stats.kendalltau(x_row, y_row).statistic)
    return np.array(out)


def tied_rows(rng, rows, n, levels):
    return rng.integers(0, levels, size=(rows, n)).astype(np.float64)


@pytest.mark.parametrize("n", [2, 3, 4, 7, 8, 9, 15, 16, 17, 31, 66, 200, 201, 435, 1000])
@pytest.mark.parametrize("levels", [2, 5, 40, None])
def test_counted_tau_b_equals_scipy_with_and_without_ties(n, levels):
    rng = np.random.default_rng(n * 100 + (levels or 0))
    rows = 12
    if levels is None:
        x, y = rng.normal(size=(rows, n)), rng.normal(size=(rows, n))
    else:
        x, y = tied_rows(rng, rows, n, levels), tied_rows(rng, rows, n, levels)
    y[0] = 2 * x[0] + 1  # one row with tau = 1 (ties as in x)
    expected = scipy_rows(x, y)
    for x_rows in (x, np.broadcast_to(x[1], x.shape), np.broadcast_to(np.arange(n), x.shape)):
        got = kendall_tau_b_rows(x_rows, y)
        expected = scipy_rows(x_rows, y)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    if np.ptp(x[0]) > 0:
        assert kendall_tau_b_rows(x, y)[0] == pytest.approx(1.0, abs=1e-15)


@pytest.mark.parametrize("n", [3, 20, 21, 30, 435])
def test_kendall_rows_agrees_with_the_sign_arrays(n):
    rng = np.random.default_rng(n)
    x, y = tied_rows(rng, 50, n, 4), rng.normal(size=(50, n))
    np.testing.assert_allclose(kendall_rows(x, y), kendall_rows_from_signs(x, y),
                               rtol=0, atol=1e-14)


def test_a_single_row_and_a_large_batch():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 30, 435).astype(float)
    y = rng.permuted(np.tile(x, (3000, 1)), axis=1) + rng.integers(0, 3, (3000, 435))
    np.testing.assert_allclose(kendall_tau_b_rows(x[None, :], y[:1]), scipy_rows(x, y[:1]),
                               rtol=0, atol=1e-12)
    got = kendall_tau_b_rows(np.broadcast_to(x, y.shape), y)
    sample = rng.choice(3000, 60, replace=False)
    np.testing.assert_allclose(got[sample], scipy_rows(x, y[sample]), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(got, kendall_tau_b_rows(np.array(np.broadcast_to(x, y.shape)),
                                                          y))


def test_constant_rows_have_no_tau():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(4, 50)), rng.normal(size=(4, 50))
    x[1] = 3.0
    y[2] = -1.0
    x[3] = y[3] = 0.0
    got = kendall_tau_b_rows(x, y)
    assert np.isnan(got[1:]).all() and np.isfinite(got[0])
    assert np.isnan(kendall_tau_b_rows(np.broadcast_to(x[1], y.shape), y)).all()


def test_codes_need_only_preserve_the_order():
    """Gathered ranks (a bootstrap resample: some codes missing) give the values' tau."""
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=40).round(1), rng.normal(size=40).round(1)
    draws = rng.integers(0, 40, size=(30, 40))
    x_codes, y_codes = order_codes(x[None, :])[0], order_codes(y[None, :])[0]
    np.testing.assert_allclose(tau_b_of_codes(x_codes[draws], y_codes[draws]),
                               scipy_rows(x[draws], y[draws]), rtol=0, atol=1e-12)


values = hnp.arrays(np.float64, st.integers(2, 60),
                    elements=st.sampled_from([-2.0, -0.5, 0.0, 0.25, 1.0, 3.0, 7.5]))


@settings(max_examples=150, deadline=None)
@given(data=st.data(), x=values)
def test_tau_b_invariances(data, x):
    """Unchanged by increasing transformations of x or y, symmetric, odd in y."""
    y = data.draw(hnp.arrays(np.float64, x.size, elements=st.floats(-5, 5, width=16)))
    tau = kendall_tau_b_rows(x[None, :], y[None, :])[0]
    expected = scipy_rows(x[None, :], y[None, :])[0]
    if np.isnan(expected):
        assert np.isnan(tau)
        return
    assert tau == pytest.approx(expected, abs=1e-12)
    same = [
        kendall_tau_b_rows(np.exp(x)[None, :], y[None, :])[0],
        kendall_tau_b_rows(x[None, :], (y ** 3 + 2 * y)[None, :])[0],
        kendall_tau_b_rows(y[None, :], x[None, :])[0],
    ]
    assert same == pytest.approx([tau] * 3, abs=1e-12)
    assert kendall_tau_b_rows(x[None, :], -y[None, :])[0] == pytest.approx(-tau, abs=1e-12)


# --- the callers: the same p-values and intervals as scipy's per-row statistic -----------------


@pytest.mark.parametrize("n", [25, 230])  # the bootstrap counts above 20 points
def test_permutation_and_bootstrap_equal_the_scipy_path(monkeypatch, n):
    rng = np.random.default_rng(n)
    x = rng.integers(0, 12, n).astype(float)
    y = 0.5 / np.sqrt(n) * x + rng.normal(size=n).round(1)  # p neither tiny nor near 1
    kwargs = {"statistic": "kendall", "seed": 7}
    new_p = stats.permutation_pvalue(x, y, n_permutations=300, stop_after=None, **kwargs)
    new_ci = stats.bootstrap_ci(x, y, n_resamples=300, **kwargs)
    monkeypatch.setattr(resampling, "tau_b_of_codes", scipy_rows)
    old_p = stats.permutation_pvalue(x, y, n_permutations=300, stop_after=None, **kwargs)
    old_ci = stats.bootstrap_ci(x, y, n_resamples=300, **kwargs)
    assert 1 / 301 < new_p < 1  # neither extreme: the count of extreme draws is tested
    assert new_p == old_p
    np.testing.assert_allclose(new_ci, old_ci, rtol=0, atol=1e-12)


def test_network_kendall_tests_equal_the_scipy_path(monkeypatch):
    """A 30-network design (435 pairs): Mantel and pair-level p-values as with scipy."""
    rng = np.random.default_rng(5)
    n = 30
    u = rng.normal(size=n)
    a, b = np.triu_indices(n, 1)
    x = np.round(u[a] + u[b] + rng.normal(size=a.size), 1)
    y = 0.3 * (u[a] + u[b]) + rng.normal(size=a.size)

    def tests():
        relation = stats.relate_networks(x, y, a=a, b=b, n_permutations=150, n_resamples=20,
                                         seed=3)
        return relation.kendall, relation.kendall_p, relation.pair_kendall_p

    new = tests()
    monkeypatch.setattr(resampled_correlation, "tau_b_of_codes", scipy_rows)
    old = tests()
    assert new[0] == pytest.approx(scipy.stats.kendalltau(x, y).statistic, abs=1e-14)
    assert new == pytest.approx(old, abs=1e-15)
    assert 1 / 151 < new[1] < 1



def test_a_long_row_takes_the_int64_sort():
    """Above about 46,000 points the tagged sort works in int64; still scipy's value."""
    rng = np.random.default_rng(9)
    x = rng.integers(0, 1000, 50_000).astype(float)
    y = x + rng.normal(scale=300, size=50_000).round()
    got = kendall_tau_b_rows(x[None, :], y[None, :])
    np.testing.assert_allclose(got, scipy_rows(x[None, :], y[None, :]), rtol=0, atol=1e-12)


@pytest.mark.parametrize("n", [10, 100])
def test_permuted_rows_may_count_the_ties_of_y_once(n):
    rng = np.random.default_rng(n)
    x_codes = order_codes(rng.integers(0, 5, (1, n)))
    y_codes = order_codes(rng.integers(0, 7, (1, n)))[0][
        rng.permuted(np.tile(np.arange(n), (200, 1)), axis=1)]
    np.testing.assert_array_equal(tau_b_of_codes(x_codes, y_codes, rows_are_permutations=True),
                                  tau_b_of_codes(x_codes, y_codes))
