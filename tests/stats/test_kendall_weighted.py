"""Kendall's tau-b of weighted (expanded) samples counted in O(m log m)
(``simfunc.stats.kendall_counts.weighted_tau_b_of_codes``) against scipy on the sample
expanded by ``np.repeat`` and against the (rows, m, m) sign arrays it replaces
(``resampled_correlation._kendall_weighted_signs``); and the network tests that use it
against the sign-array path on the same seeds."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from simfunc import stats
from simfunc.stats import kendall_counts, resampled_correlation
from simfunc.stats.kendall_counts import order_codes, weighted_tau_b_of_codes
from simfunc.stats.resampled_correlation import (
    _kendall_weighted_signs,
    correlation_rows,
)


def expanded_scipy(x, y_rows, weights):
    """scipy's tau-b of each row's sample with pair k repeated weights[r, k] times; NaN where
    the expanded x or y is constant or has fewer than two items."""
    y_rows = np.broadcast_to(y_rows, weights.shape)
    out = []
    for y_row, w_row in zip(y_rows, weights):
        repeats = w_row.astype(int)
        xe, ye = np.repeat(x, repeats), np.repeat(y_row, repeats)
        if xe.size < 2 or np.ptp(xe) == 0 or np.ptp(ye) == 0:
            out.append(np.nan)
        else:
            out.append(scipy.stats.kendalltau(xe, ye).statistic)
    return np.array(out)


def counted(x, y, index, weights):
    """The weighted count on codes, as ``_kendall_weighted`` calls it (whatever m)."""
    y_codes = order_codes(y[None, :])
    if index is not None:
        y_codes = y_codes[0][np.maximum(index, 0)]
    return weighted_tau_b_of_codes(order_codes(x[None, :]), y_codes, weights.astype(np.int64))


def assert_same(got, expected, atol=1e-12):
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got, expected, rtol=0, atol=atol)


def special_rows(weights, rng):
    """Row 0: no weight; row 1: one nonzero weight (NaN: undefined); row 2: heavy weights."""
    weights[0] = 0
    weights[1] = 0
    weights[1, rng.integers(weights.shape[1])] = 4
    weights[2] = rng.integers(0, 50, weights.shape[1])
    return weights


@pytest.mark.parametrize("m", [1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 54, 200, 435])
@pytest.mark.parametrize("levels", [2, 5, None])
@pytest.mark.parametrize("repaired", [False, True])
def test_weighted_count_equals_the_expanded_sample_and_the_sign_arrays(m, levels, repaired):
    rng = np.random.default_rng(m * 10 + (levels or 0) + 1000 * repaired)
    rows = 14
    if levels is None:
        x, y = rng.normal(size=m), rng.normal(size=m)
    else:
        x = rng.integers(0, levels, m).astype(float)
        y = rng.integers(0, levels, m).astype(float)
    weights = special_rows(rng.integers(0, 4, (rows, m)).astype(float), rng)
    index = None
    if repaired:
        index = rng.permuted(np.tile(np.arange(m), (rows, 1)), axis=1)
        index[rows // 2 :][rng.random((rows - rows // 2, m)) < 0.3] = -1  # no partner
        weights = np.where(index >= 0, weights, 0.0)
    y_rows = y if index is None else y[np.maximum(index, 0)]
    got = counted(x, y, index, weights)
    assert np.isnan(got[:2]).all()
    assert_same(got, expanded_scipy(x, y_rows, weights))
    assert_same(got, _kendall_weighted_signs(x, y_rows, weights))
    # correlation_rows with the index's -1 entries as its only weights (a partial design).
    if index is not None:
        kept = (index >= 0).astype(float)
        assert_same(correlation_rows(x, y, "kendall", index=index),
                    _kendall_weighted_signs(x, y_rows, kept))


@pytest.mark.parametrize("m", [5, 54, 435])
def test_every_row_with_a_pair_left_out_takes_the_count_and_equals_the_old_path(
    monkeypatch, m
):
    """correlation_rows itself: the count where it is chosen, the sign arrays where forced."""
    rng = np.random.default_rng(m)
    x, y = rng.normal(size=m).round(1), rng.normal(size=m).round(1)
    index = rng.permuted(np.tile(np.arange(m), (40, 1)), axis=1)
    index[rng.random(index.shape) < 0.1] = -1
    counts = rng.multinomial(m, np.full(m, 1 / m), size=40).astype(float)
    calls = []

    def spy(*args):
        calls.append(args[2].shape)
        return weighted_tau_b_of_codes(*args)

    monkeypatch.setattr(resampled_correlation, "weighted_tau_b_of_codes", spy)
    monkeypatch.setattr(resampled_correlation, "KENDALL_WEIGHTED_SIGNS_MAX_PAIRS", 4)
    monkeypatch.setattr(resampled_correlation, "KENDALL_WEIGHTED_PRODUCT_MAX_PAIRS", 4)
    new_repaired = correlation_rows(x, y, "kendall", index=index)
    new_one_y = correlation_rows(x, y, "kendall", weights=counts)
    assert calls == [(40, m), (40, m)]
    monkeypatch.setattr(resampled_correlation, "KENDALL_WEIGHTED_SIGNS_MAX_PAIRS", 10**6)
    monkeypatch.setattr(resampled_correlation, "KENDALL_WEIGHTED_PRODUCT_MAX_PAIRS", 10**6)
    assert_same(new_repaired, correlation_rows(x, y, "kendall", index=index))
    assert_same(new_one_y, correlation_rows(x, y, "kendall", weights=counts))
    assert len(calls) == 2  # the forced old path did not count


def test_large_weights_pack_into_int64_and_non_integer_weights_keep_the_sign_arrays(
    monkeypatch,
):
    rng = np.random.default_rng(3)
    m = 60
    x, y = rng.integers(0, 6, m).astype(float), rng.integers(0, 6, m).astype(float)
    index = rng.permuted(np.tile(np.arange(m), (6, 1)), axis=1)
    heavy = rng.integers(0, 2**20, (6, m)).astype(float)  # totals near 2**26: int64 keys
    y_rows = y[index]
    exact = _kendall_weighted_signs(x, y_rows, heavy)  # float64-exact: W**2 < 2**53
    assert_same(counted(x, y, index, heavy), exact, atol=1e-14)
    assert_same(counted(x, y, None, heavy), _kendall_weighted_signs(x, y, heavy), atol=1e-14)
    spread = heavy / 7.0  # not integers: the sign arrays, as before
    monkeypatch.setattr(resampled_correlation, "weighted_tau_b_of_codes", None)  # not called
    assert_same(correlation_rows(x, y, "kendall", index=index, weights=spread),
                _kendall_weighted_signs(x, y_rows, spread), atol=0)


def exact_sign_form(x, y_rows, weights):
    """``w'(Sx o Sy)w / sqrt(w'|Sx|w w'|Sy|w)`` in int64 (exact for weights below 2**24 and
    m below 4,000), one row at a time."""
    sign_x = np.sign(x[:, None] - x[None, :]).astype(np.int64)
    out = []
    for y_row, w in zip(np.broadcast_to(y_rows, weights.shape), weights):
        sign_y = np.sign(y_row[:, None] - y_row[None, :]).astype(np.int64)
        untied_x, untied_y = w @ np.abs(sign_x) @ w, w @ np.abs(sign_y) @ w
        scale = np.sqrt(float(untied_x)) * np.sqrt(float(untied_y))
        out.append(float(w @ (sign_x * sign_y) @ w) / scale if scale else np.nan)
    return np.array(out)


@pytest.mark.parametrize("repaired", [False, True])
def test_weights_too_wide_for_int32_keys_still_count_exactly(repaired):
    """Weights near 2**24 (row totals near 2**30, the count's bound): int64 packed keys and
    int64 products, against the sign form in exact integers."""
    rng = np.random.default_rng(6)
    m, rows = 72, 5  # (2 m + 2) << 24 >= 2**31: int64 keys in the merge too
    x, y = rng.integers(0, 8, m).astype(float), rng.integers(0, 8, m).astype(float)
    weights = rng.integers(0, 2**24, (rows, m))
    weights[:, ::3] = rng.integers(0, 3, (rows, 24))  # light and heavy pairs tie
    index = rng.permuted(np.tile(np.arange(m), (rows, 1)), axis=1) if repaired else None
    y_rows = y if index is None else y[index]
    assert weights.sum(axis=1).max() < 2**30
    assert_same(counted(x, y, index, weights), exact_sign_form(x, y_rows, weights))


def test_keys_too_wide_to_pack_are_argsorted():
    rng = np.random.default_rng(7)
    keys = rng.integers(0, 2**40, (4, 50))
    weights = rng.integers(0, 2**30, (4, 50))
    sorted_keys, sorted_weights = kendall_counts._sort_with_weights(keys, weights, 2**40)
    order = np.argsort(keys, axis=1, kind="stable")
    np.testing.assert_array_equal(sorted_keys, np.take_along_axis(keys, order, axis=1))
    np.testing.assert_array_equal(sorted_weights, np.take_along_axis(weights, order, axis=1))


def test_duplicated_pairs_equal_weights():
    """A weight of k is the pair repeated k times, in the count as in scipy."""
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=30).round(0), rng.normal(size=30).round(0)
    weights = rng.integers(0, 3, (1, 30))
    got = counted(x, y, None, weights)
    repeated = np.repeat(np.arange(30), weights[0])
    once = np.ones((1, repeated.size))
    assert_same(got, counted(x[repeated], y[repeated], None, once))
    assert got[0] == pytest.approx(
        scipy.stats.kendalltau(x[repeated], y[repeated]).statistic, abs=1e-12)


values = hnp.arrays(np.float64, st.integers(1, 40),
                    elements=st.sampled_from([-2.0, -0.5, 0.0, 0.25, 1.0, 3.0]))


@settings(max_examples=150, deadline=None)
@given(data=st.data(), x=values)
def test_weighted_count_property(data, x):
    """Any values, ties and weights 0-4: the expanded sample's tau-b (one y and re-paired),
    unchanged by increasing transformations, odd in y."""
    m = x.size
    y = data.draw(hnp.arrays(np.float64, m, elements=st.floats(-3, 3, width=16)))
    weights = data.draw(hnp.arrays(np.int64, (3, m), elements=st.integers(0, 4)))
    perm = np.array(data.draw(st.permutations(range(m))))
    index = np.stack([np.arange(m), perm, perm[::-1]])
    for idx in (None, index):
        y_rows = y if idx is None else y[idx]
        got = counted(x, y, idx, weights)
        assert_same(got, expanded_scipy(x, y_rows, weights))
        assert_same(counted(np.exp(x), y ** 3 + y, idx, weights), got)
        assert_same(counted(x, -y, idx, weights), -got)


# --- the callers: network tests of partial designs give the old Kendall p-values ------------


def partial_design(n, kept_share, seed):
    rng = np.random.default_rng(seed)
    a, b = np.triu_indices(n, 1)
    kept = np.sort(rng.choice(a.size, size=int(kept_share * a.size), replace=False))
    a, b = a[kept], b[kept]
    u = rng.normal(size=n)
    x = np.round(u[a] + u[b] + rng.normal(size=a.size), 1)
    y = 0.1 * (u[a] + u[b]) + rng.normal(size=a.size).round(1)  # p about 0.08
    return x, y, a, b


def force_old_path(monkeypatch):
    monkeypatch.setattr(resampled_correlation, "KENDALL_WEIGHTED_SIGNS_MAX_PAIRS", 10**6)
    monkeypatch.setattr(resampled_correlation, "weighted_tau_b_of_codes", None)


def test_partial_design_mantel_kendall_p_is_the_old_one(monkeypatch):
    x, y, a, b = partial_design(30, 0.85, seed=11)  # 369 of 435 pairs

    def tests():
        p = stats.network_permutation_pvalue(x, y, a=a, b=b, statistic="kendall",
                                             n_permutations=300, seed=5, stop_after=None)
        relation = stats.relate_networks(x, y, a=a, b=b, n_permutations=200, n_resamples=30,
                                         seed=2)
        return p, relation.kendall_p, relation.pair_kendall_p, relation.design

    new = tests()
    force_old_path(monkeypatch)
    old = tests()
    assert new[3] == "partial"
    assert 1 / 301 < new[0] < 1  # neither extreme: the count of extreme draws is compared
    assert new == old


def test_network_kendall_bootstrap_is_the_old_one(monkeypatch):
    """Bootstrap counts (products of network counts) with one y: the count forced for every
    m equals the sign arrays."""
    x, y, a, b = partial_design(12, 0.9, seed=12)

    def interval():
        return stats.network_bootstrap_ci(x, y, a=a, b=b, statistic="kendall",
                                          n_resamples=200, seed=4)

    monkeypatch.setattr(resampled_correlation, "KENDALL_WEIGHTED_PRODUCT_MAX_PAIRS", 0)
    new = interval()
    monkeypatch.setattr(resampled_correlation, "KENDALL_WEIGHTED_PRODUCT_MAX_PAIRS", 10**6)
    old = interval()
    np.testing.assert_allclose(new, old, rtol=0, atol=1e-12)
