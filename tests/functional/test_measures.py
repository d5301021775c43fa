"""Output measures against per-example references written here (scipy, one row at a time)."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.spatial.distance import jensenshannon
from scipy.special import rel_entr, softmax
from scipy.stats import spearmanr

import simfunc.functional._inputs as functional_inputs
from simfunc import InputError
from simfunc import functional as fn
from simfunc.measure import CLASS_PERMUTATION, Measure

MEASURES = ("jsd", "kl", "spearman", "disagreement")


# --- independent references: one example at a time --------------------------------------


def reference_jsd(P, Q, base=2.0):
    return np.array([jensenshannon(p, q, base=base) ** 2 for p, q in zip(P, Q)])


def reference_kl(P, Q):
    return np.array([rel_entr(p / p.sum(), q / q.sum()).sum() for p, q in zip(P, Q)])


def reference_spearman(P, Q):
    return np.array([spearmanr(p, q).statistic for p, q in zip(P, Q)])


def reference_disagreement(P, Q):
    return np.array([float(int(np.argmax(p)) != int(np.argmax(q))) for p, q in zip(P, Q)])


REFERENCES = {
    "jsd": reference_jsd,
    "kl": reference_kl,
    "spearman": reference_spearman,
    "disagreement": reference_disagreement,
}


def random_probabilities(rng, n, k, zero_fraction=0.0):
    """Dirichlet rows; with ``zero_fraction`` some entries are exactly zero (never a whole row)."""
    P = rng.dirichlet(np.ones(k), size=n)
    if zero_fraction:
        zeros = rng.random((n, k)) < zero_fraction
        zeros[np.arange(n), rng.integers(0, k, n)] = False
        P[zeros] = 0.0
        P /= P.sum(axis=1, keepdims=True)
    return P


@pytest.fixture
def pair():
    rng = np.random.default_rng(7)
    return random_probabilities(rng, 64, 6, 0.3), random_probabilities(rng, 64, 6, 0.3)


# --- values against the references --------------------------------------------------------


@pytest.mark.parametrize("name", MEASURES)
def test_per_example_values_match_reference_on_rows_with_exact_zeros(name, pair):
    P, Q = pair
    # Both JSD and KL must see zeros in P where Q is positive, and the reverse.
    assert ((P == 0) & (Q > 0)).any() and ((Q == 0) & (P > 0)).any()
    got = getattr(fn, name)(P, Q, reduction="none")
    expected = REFERENCES[name](P, Q)
    assert got.shape == (64,) and got.dtype == np.float64
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", MEASURES)
def test_mean_reduction_is_the_mean_of_the_per_example_values(name):
    rng = np.random.default_rng(1)
    P, Q = random_probabilities(rng, 40, 5), random_probabilities(rng, 40, 5)
    measure = getattr(fn, name)
    mean = measure(P, Q)
    assert isinstance(mean, float)
    np.testing.assert_allclose(mean, REFERENCES[name](P, Q).mean(), rtol=1e-12)
    assert mean == pytest.approx(float(np.mean(measure(P, Q, reduction="none"))), rel=1e-15)


@pytest.mark.parametrize("name", MEASURES)
def test_float32_inputs_are_computed_in_float64(name):
    rng = np.random.default_rng(2)
    P = random_probabilities(rng, 50, 8, 0.2).astype(np.float32)
    Q = random_probabilities(rng, 50, 8, 0.2).astype(np.float32)
    got = getattr(fn, name)(P, Q, reduction="none")
    expected = REFERENCES[name](P.astype(np.float64), Q.astype(np.float64))
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", MEASURES)
def test_torch_tensors_give_the_numpy_values(name):
    rng = np.random.default_rng(3)
    P, Q = random_probabilities(rng, 30, 4, 0.2), random_probabilities(rng, 30, 4, 0.2)
    measure = getattr(fn, name)
    P_tensor = torch.tensor(P, requires_grad=True)
    Q_tensor = torch.tensor(Q, dtype=torch.float32)
    expected = REFERENCES[name](P, Q.astype(np.float32).astype(np.float64))
    np.testing.assert_allclose(
        measure(P_tensor, Q_tensor, reduction="none"), expected, rtol=1e-12, atol=1e-14
    )


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
@pytest.mark.parametrize("name", MEASURES)
def test_cuda_tensors_are_accepted(name):
    rng = np.random.default_rng(3)
    P, Q = random_probabilities(rng, 30, 4), random_probabilities(rng, 30, 4)
    got = getattr(fn, name)(torch.tensor(P).cuda(), torch.tensor(Q).cuda(), reduction="none")
    np.testing.assert_allclose(got, REFERENCES[name](P, Q), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", MEASURES)
def test_from_logits_equals_softmax_then_measure(name):
    rng = np.random.default_rng(4)
    L, M = 3 * rng.standard_normal((50, 7)), 3 * rng.standard_normal((50, 7))
    measure = getattr(fn, name)
    got = measure(L, M, from_logits=True, reduction="none")
    np.testing.assert_allclose(
        got, REFERENCES[name](softmax(L, axis=1), softmax(M, axis=1)), rtol=1e-10, atol=1e-13
    )


@pytest.mark.parametrize("name", MEASURES)
def test_huge_logits_are_handled_stably(name):
    """Softmax ignores a constant added to a row: a naive exp(1000 + x) would overflow."""
    rng = np.random.default_rng(5)
    L, M = rng.standard_normal((20, 5)), rng.standard_normal((20, 5))
    measure = getattr(fn, name)
    shifted = measure(L + 1000.0, M - 800.0, from_logits=True, reduction="none")
    np.testing.assert_allclose(
        shifted, measure(L, M, from_logits=True, reduction="none"), rtol=1e-9, atol=1e-12
    )
    np.testing.assert_allclose(
        shifted, REFERENCES[name](softmax(L, axis=1), softmax(M, axis=1)), rtol=1e-9, atol=1e-12
    )


def test_float32_logits_are_accepted():
    rng = np.random.default_rng(6)
    L = rng.standard_normal((10, 4)).astype(np.float32)
    M = rng.standard_normal((10, 4)).astype(np.float32)
    expected = reference_jsd(
        softmax(L.astype(np.float64), axis=1), softmax(M.astype(np.float64), axis=1)
    )
    np.testing.assert_allclose(
        fn.jsd(torch.from_numpy(L), M, from_logits=True, reduction="none"), expected, rtol=1e-10
    )


def test_results_do_not_depend_on_the_chunk_size(monkeypatch):
    rng = np.random.default_rng(8)
    P, Q = random_probabilities(rng, 101, 3, 0.2), random_probabilities(rng, 101, 3, 0.2)
    whole = {name: getattr(fn, name)(P, Q, reduction="none") for name in MEASURES}
    monkeypatch.setattr(functional_inputs, "CHUNK_ELEMENTS", 7)  # 2 rows per chunk
    for name in MEASURES:
        np.testing.assert_array_equal(getattr(fn, name)(P, Q, reduction="none"), whole[name])
        np.testing.assert_allclose(whole[name], REFERENCES[name](P, Q), rtol=1e-12, atol=1e-14)


def test_memory_stays_bounded_for_many_rows():
    """A float32 input is never copied whole to float64: peak allocations stay far below it."""
    rng = np.random.default_rng(9)
    n, k = 400_000, 10
    P = rng.random((n, k), dtype=np.float32)
    P /= P.sum(axis=1, keepdims=True)
    Q = P[::-1].copy()
    one_float64_copy = n * k * 8
    for measure in (fn.jsd, fn.spearman):
        tracemalloc.start()
        try:
            value = measure(P, Q)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert np.isfinite(value)
        assert peak < one_float64_copy / 2, f"{measure.__name__} peaked at {peak} bytes"


# --- defined values -----------------------------------------------------------------------


def test_jsd_of_disjoint_one_hot_rows_is_exactly_one_bit():
    eye = np.eye(4)
    other = eye[[1, 2, 3, 0]]
    assert fn.jsd(eye, other) == 1.0
    np.testing.assert_array_equal(fn.jsd(eye, other, reduction="none"), np.ones(4))
    assert fn.jsd(eye, other, base=math.e) == pytest.approx(math.log(2), rel=1e-15)


def test_jsd_handles_subnormal_probabilities_without_warnings():
    """(p + q) / 2 of a subnormal p and q = 0 rounds to 0; the divergence must not blow up."""
    tiny = 5e-324
    P = np.array([[1.0, tiny, 0.0], [0.5, 0.5 - tiny, tiny]])
    Q = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0]])
    values = fn.jsd(P, Q, reduction="none")
    np.testing.assert_allclose(values, [0.0, 0.0], atol=1e-300)


def test_jsd_base_changes_the_unit_only(pair):
    P, Q = pair
    assert fn.jsd(P, Q, base=10) == pytest.approx(fn.jsd(P, Q) * math.log(2) / math.log(10))
    np.testing.assert_allclose(
        fn.jsd(P, Q, base=math.e, reduction="none"), reference_jsd(P, Q, base=math.e), rtol=1e-12
    )


def test_kl_is_infinite_not_nan_where_q_lacks_the_support_of_p():
    P = np.array([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
    Q = np.array([[1.0, 0.0, 0.0], [0.2, 0.3, 0.5]])
    values = fn.kl(P, Q, reduction="none")
    assert values[0] == np.inf and values[1] == 0.0
    assert fn.kl(P, Q) == np.inf
    assert fn.kl(Q, P, reduction="none")[0] == pytest.approx(math.log(2))  # 1 * log(1 / 0.5)


def test_kl_base_two_is_nats_over_log_two(pair):
    P, Q = pair
    finite = np.isfinite(fn.kl(P, Q, reduction="none"))
    np.testing.assert_allclose(
        fn.kl(P, Q, base=2, reduction="none")[finite],
        fn.kl(P, Q, reduction="none")[finite] / math.log(2),
        rtol=1e-14,
    )


def test_kl_from_extreme_logits_is_finite():
    L = np.array([[0.0, 0.0, 0.0]])
    M = np.array([[0.0, 0.0, -2000.0]])  # softmax underflows to an exact 0 in float64
    value = fn.kl(L, M, from_logits=True)
    assert np.isfinite(value) and value == pytest.approx((0 + 0 + 2000.0) / 3 - math.log(1.5))


def test_spearman_of_constant_rows_follows_the_documented_convention():
    uniform = np.full((1, 4), 0.25)
    ordered = np.array([[0.1, 0.2, 0.3, 0.4]])
    assert fn.spearman(uniform, uniform) == fn.rank.BOTH_CONSTANT == 1.0
    assert fn.spearman(uniform, ordered) == fn.rank.ONE_CONSTANT == 0.0
    assert fn.spearman(ordered, uniform) == 0.0
    rows = fn.spearman(
        np.vstack([uniform, ordered, uniform]), np.vstack([uniform, ordered, ordered]),
        reduction="none",
    )
    np.testing.assert_array_equal(rows, [1.0, 1.0, 0.0])
    assert fn.spearman(np.zeros((2, 3)), np.ones((2, 3)), from_logits=True) == 1.0


def test_spearman_uses_average_ranks_for_ties():
    P = np.array([[0.4, 0.4, 0.1, 0.1], [0.25, 0.25, 0.25, 0.25]])
    Q = np.array([[0.1, 0.5, 0.2, 0.2], [0.1, 0.2, 0.3, 0.4]])
    np.testing.assert_allclose(
        fn.spearman(P, Q, reduction="none"), [spearmanr(P[0], Q[0]).statistic, 0.0], rtol=1e-14
    )


def test_disagreement_resolves_ties_to_the_first_class():
    P = np.array([[0.5, 0.5], [0.5, 0.5]])
    Q = np.array([[0.6, 0.4], [0.4, 0.6]])
    np.testing.assert_array_equal(fn.disagreement(P, Q, reduction="none"), [0.0, 1.0])


# --- properties, for every measure as its registry entry declares --------------------------


@st.composite
def probability_pairs(draw, same_support=False, distinct=False):
    n = draw(st.integers(1, 5))
    k = draw(st.integers(2, 6))
    # Small integer weights: exact zeros and ties happen often.
    weights = st.integers(0, 4).map(float)
    P = draw(arrays(np.float64, (n, k), elements=weights))
    Q = draw(arrays(np.float64, (n, k), elements=weights))
    if distinct:  # break every tie within a row, keeping the drawn order otherwise
        P += 0.01 * np.array(draw(st.permutations(range(k))))
        Q += 0.01 * np.array(draw(st.permutations(range(k))))
    P[P.sum(axis=1) == 0] = 1.0
    Q[Q.sum(axis=1) == 0] = 1.0
    if same_support:
        Q[(P > 0) & (Q == 0)] = 1.0
    return P / P.sum(axis=1, keepdims=True), Q / Q.sum(axis=1, keepdims=True)


def test_registry_declares_the_specified_properties():
    expected = {
        "jsd": (False, True, (0.0, 1.0)),
        "kl": (False, False, (0.0, math.inf)),
        "spearman": (True, True, (-1.0, 1.0)),
        "disagreement": (False, True, (0.0, 1.0)),
    }
    assert set(fn.OUTPUT_MEASURES) == set(expected)
    for name, (larger_is_more_similar, symmetric, bounds) in expected.items():
        measure = fn.OUTPUT_MEASURES[name]
        assert isinstance(measure, Measure) and measure.name == name
        assert measure.fn is getattr(fn, name)
        assert (measure.larger_is_more_similar, measure.symmetric, measure.bounds) == (
            larger_is_more_similar,
            symmetric,
            bounds,
        )
        assert CLASS_PERMUTATION in measure.invariances


@pytest.mark.parametrize("name", MEASURES)
@given(data=probability_pairs())
def test_values_lie_within_the_declared_bounds(name, data):
    P, Q = data
    low, high = fn.OUTPUT_MEASURES[name].bounds
    values = fn.OUTPUT_MEASURES[name](P, Q, reduction="none")
    assert not np.isnan(values).any()
    assert np.all((values >= low) & (values <= high))


@pytest.mark.parametrize("name", [name for name in MEASURES if fn.OUTPUT_MEASURES[name].symmetric])
@given(data=probability_pairs())
def test_symmetric_measures_are_symmetric(name, data):
    P, Q = data
    measure = fn.OUTPUT_MEASURES[name]
    np.testing.assert_allclose(
        measure(P, Q, reduction="none"), measure(Q, P, reduction="none"), rtol=1e-12, atol=1e-15
    )


def test_kl_is_declared_asymmetric_because_it_is():
    P = np.array([[0.9, 0.1]])
    Q = np.array([[0.5, 0.5]])
    assert fn.kl(P, Q) != pytest.approx(fn.kl(Q, P), rel=1e-3)


@given(data=probability_pairs())
def test_self_comparison_gives_identical_output_values(data):
    P, _ = data
    assert fn.jsd(P, P) == 0.0
    assert fn.kl(P, P) == 0.0
    assert fn.spearman(P, P) == 1.0
    assert fn.disagreement(P, P) == 0.0


@pytest.mark.parametrize(
    "name", [name for name in MEASURES if CLASS_PERMUTATION in fn.OUTPUT_MEASURES[name].invariances]
)
@given(
    data=probability_pairs(same_support=True),
    distinct_data=probability_pairs(distinct=True),
    seed=st.integers(0, 2**16),
)
def test_class_permutation_invariance(name, data, distinct_data, seed):
    P, Q = data
    if name == "disagreement":  # documented: exact only when the largest score is unique
        P, Q = distinct_data
        assert all(np.sum(row == row.max()) == 1 for row in np.vstack([P, Q]))
    order = np.random.default_rng(seed).permutation(P.shape[1])
    measure = fn.OUTPUT_MEASURES[name]
    np.testing.assert_allclose(
        measure(P[:, order], Q[:, order], reduction="none"),
        measure(P, Q, reduction="none"),
        rtol=1e-12,
        atol=1e-15,
    )


@given(data=probability_pairs(same_support=True))
def test_kl_is_finite_when_q_covers_the_support_of_p(data):
    P, Q = data
    assert np.isfinite(fn.kl(P, Q, reduction="none")).all()


# --- bad input ----------------------------------------------------------------------------

GOOD = np.array([[0.2, 0.8], [0.5, 0.5]])


@pytest.mark.parametrize("name", MEASURES)
@pytest.mark.parametrize(
    "P, Q, fragments",
    [
        (None, GOOD, ["P is None"]),
        (GOOD, "abc", ["Q is a str"]),
        (np.array([["a", "b"]]), GOOD, ["P has dtype"]),
        (np.array([0.2, 0.8]), GOOD, ["P has shape (2,)", "(examples, classes)"]),
        (GOOD, np.ones((2, 2, 1)) / 2, ["Q has shape (2, 2, 1)", "(examples, classes)"]),
        (np.zeros((0, 2)), np.zeros((0, 2)), ["P is empty"]),
        (GOOD, np.array([[0.2, np.nan], [0.5, 0.5]]), ["Q contains 1 NaN", "(0, 1)"]),
        (np.array([[np.inf, 0.0], [0.5, 0.5]]), GOOD, ["P contains 1 infinite"]),
        (GOOD, GOOD[:1], ["P has 2 examples (rows) but Q has 1"]),
        (GOOD, np.full((2, 3), 1 / 3), ["P has 2 classes (columns) but Q has 3"]),
        (np.ones((2, 1)), np.ones((2, 1)), ["1 class", "at least 2 classes"]),
        (np.array([[1.5, -0.5], [0.5, 0.5]]), GOOD, ["P has 1 negative", "from_logits=True"]),
        (
            GOOD,
            np.array([[0.2, 0.79], [0.51, 0.51]]),
            ["Q has 2 of 2 row(s) that do not sum to 1", "worst: row 1, off by 0.02"],
        ),
        (np.array([[2.0, 3.0], [1.0, 0.5]]), GOOD, ["do not sum to 1", "from_logits=True"]),
    ],
)
def test_bad_outputs_raise_input_error_naming_the_argument(name, P, Q, fragments):
    with pytest.raises(InputError) as info:
        getattr(fn, name)(P, Q)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_row_sum_tolerance_is_one_in_a_million():
    inside = np.array([[0.5, 0.5 + 9e-7]])
    outside = np.array([[0.5, 0.5 + 2e-6]])
    assert fn.jsd(inside, inside) == 0.0
    with pytest.raises(InputError, match="do not sum to 1"):
        fn.jsd(outside, inside)


def test_logits_are_checked_for_finiteness_but_not_normalisation():
    L = np.array([[3.0, -2.0], [0.0, 10.0]])
    assert np.isfinite(fn.jsd(L, L[::-1], from_logits=True))
    with pytest.raises(InputError, match="Q contains 1 NaN"):
        fn.spearman(L, np.array([[1.0, np.nan], [0.0, 1.0]]), from_logits=True)


def test_non_finite_values_are_located_across_chunks(monkeypatch):
    monkeypatch.setattr(functional_inputs, "CHUNK_ELEMENTS", 4)  # 2 rows per chunk
    P = np.full((9, 2), 0.5)
    P[7, 1] = np.nan
    message = r"P contains 1 NaN value\(s\), the first at index \(7, 1\)"
    with pytest.raises(InputError, match=message):
        fn.jsd(P, np.full((9, 2), 0.5))


@pytest.mark.parametrize("base", [0, -2.0, 1, 1.0, float("nan"), float("inf"), "2", True, None])
@pytest.mark.parametrize("measure", [fn.jsd, fn.kl])
def test_invalid_base_is_rejected(measure, base):
    with pytest.raises(InputError, match="base"):
        measure(GOOD, GOOD, base=base)


@pytest.mark.parametrize("name", MEASURES)
@pytest.mark.parametrize("reduction", ["sum", None, "MEAN"])
def test_invalid_reduction_is_rejected(name, reduction):
    with pytest.raises(InputError, match="reduction"):
        getattr(fn, name)(GOOD, GOOD, reduction=reduction)


@pytest.mark.parametrize("name", MEASURES)
def test_invalid_from_logits_is_rejected(name):
    with pytest.raises(InputError, match="from_logits"):
        getattr(fn, name)(GOOD, GOOD, from_logits="yes")
