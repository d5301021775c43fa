"""Repeated examples (visited states): RSA and RBF CKA computed on the distinct rows with
multiplicities give the value of the expanded n × n computation (``_grouped``).

Each grouped value is checked against the same measure forced onto the expanded path
(``GROUPED_MAX_FRACTION = 0``) and against independent float64 references written here from
the definitions with scipy (``pdist``/``cdist`` on the rows, ``spearmanr``, explicit centring
matrices), on data whose rows repeat."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.spatial.distance import cdist, pdist, squareform
from scipy.stats import rankdata, spearmanr

from simfunc import representational as rep
from simfunc.errors import InputError
from simfunc.representational import _grouped, _xp
from simfunc.representational._grouped import average_ranks, weighted_median

TOLERANCE = 1e-12


@pytest.fixture
def expanded(monkeypatch):
    """Run a callable with the grouped path switched off (the expanded n × n computation)."""

    def run(function, *args, **kwargs):
        with monkeypatch.context() as patch:
            patch.setattr(_grouped, "GROUPED_MAX_FRACTION", 0.0)
            return function(*args, **kwargs)

    return run


def _visited(n: int, k: int, p: int, q: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n examples drawn (with repeats) from k distinct states, seen by two related models."""
    rng = np.random.default_rng(seed)
    states_x = rng.standard_normal((k, p))
    states_y = states_x @ rng.standard_normal((p, q)) / np.sqrt(p) + 0.7 * rng.standard_normal((k, q))
    index = np.concatenate([np.arange(k), rng.integers(0, k, n - k)])  # every state seen
    rng.shuffle(index)
    return states_x[index], states_y[index]


# -- independent references ------------------------------------------------------------------


def _reference_rsa(X: np.ndarray, Y: np.ndarray, distance: str) -> float:
    """Spearman of the n(n−1)/2 dissimilarities, each computed by scipy on the distinct rows
    (so that repeated examples are at exactly zero and tie exactly), expanded to all pairs."""

    def dissimilarities(Z):
        distinct, inverse = np.unique(Z, axis=0, return_inverse=True)
        full = squareform(pdist(distinct, distance))[np.ix_(inverse.ravel(), inverse.ravel())]
        return full[np.triu_indices(len(Z), 1)]

    return float(spearmanr(dissimilarities(X), dissimilarities(Y)).statistic)


def _reference_rbf_cka(X: np.ndarray, Y: np.ndarray, threshold: float, debiased: bool) -> float:
    """Kornblith et al.'s RBF CKA from explicit n × n matrices: cdist's squared distances
    (exactly zero between repeated rows), the median over all n² entries, and ``HKH`` or
    Song et al.'s unbiased HSIC written out."""

    def kernel(Z):
        distances = cdist(Z, Z, "sqeuclidean")
        return np.exp(-distances / (2 * threshold**2 * np.median(distances)))

    def hsic(K, L):
        n = len(K)
        if not debiased:
            H = np.eye(n) - 1.0 / n
            return np.trace(K @ H @ L @ H)
        Kt, Lt = K - np.diag(np.diag(K)), L - np.diag(np.diag(L))
        one = np.ones(n)
        return (np.trace(Kt @ Lt) + one @ Kt @ one * (one @ Lt @ one) / ((n - 1) * (n - 2))
                - 2.0 / (n - 2) * (one @ Kt @ Lt @ one))

    K, L = kernel(X), kernel(Y)
    return float(hsic(K, L) / np.sqrt(hsic(K, K) * hsic(L, L)))


# -- the building blocks ---------------------------------------------------------------------


@given(st.lists(st.integers(-3, 3), min_size=1, max_size=40),
       st.lists(st.integers(0, 4), min_size=40, max_size=40))
def test_weighted_ranks_and_median_are_those_of_the_expanded_vector(values, weights):
    values = np.array(values, dtype=np.float64) / 2  # many ties
    weights = np.array(weights[: len(values)])
    expanded = np.repeat(values, weights)
    assert np.array_equal(average_ranks(values), rankdata(values))
    if expanded.size == 0:
        return
    assert np.array_equal(np.repeat(average_ranks(values, weights), weights), rankdata(expanded))
    assert weighted_median(values, weights) == np.median(expanded)


def test_average_ranks_match_scipy_on_large_inputs():
    rng = np.random.default_rng(3)
    for values in (rng.standard_normal(20_000), rng.integers(0, 30, 20_000).astype(float)):
        assert np.array_equal(average_ranks(values), rankdata(values))


def test_unique_rows_groups_equal_rows_and_survives_hash_collisions(monkeypatch):
    rng = np.random.default_rng(4)
    states = rng.standard_normal((7, 5))
    states[3, 2] = 0.0
    X = states[rng.integers(0, 7, 60)]
    X[::5, 2] = np.where(X[::5, 2] == 0.0, -0.0, X[::5, 2])  # −0.0 is the same number as 0.0

    def check():
        distinct, inverse = _xp.unique_rows(X)
        assert np.array_equal(distinct[inverse], X)
        assert len(distinct) == len(np.unique(X + 0.0, axis=0))

    check()
    monkeypatch.setattr(_xp, "_HASH_MULTIPLIERS", np.zeros(4096, dtype=np.uint64))
    check()  # every row hashes alike: the exact check falls back to np.unique


# -- RSA ---------------------------------------------------------------------------------


@pytest.mark.parametrize("distance", ["correlation", "euclidean"])
@pytest.mark.parametrize(("n", "k"), [(300, 60), (200, 3), (120, 60), (50, 25)])
def test_grouped_rsa_equals_the_expanded_computation(expanded, distance, n, k):
    X, Y = _visited(n, k, 8, 6, seed=n + k)
    value = rep.rsa(X, Y, distance=distance)
    assert value == pytest.approx(expanded(rep.rsa, X, Y, distance=distance), abs=TOLERANCE)
    assert value == pytest.approx(_reference_rsa(X, Y, distance), abs=TOLERANCE)


def test_grouped_rsa_with_ties_in_the_dissimilarities(expanded):
    """Integer states on a small lattice, n = 256 examples: the column means are exact, so the
    Euclidean distances are computed exactly and distinct pairs at the same distance tie
    exactly (as scipy's distances do)."""
    rng = np.random.default_rng(5)
    states = np.unique(rng.integers(0, 3, (20, 4)).astype(float), axis=0)
    X = states[rng.integers(0, len(states), 256)]
    Y = np.c_[X[:, :2] * 2.0, X[:, 2:] + X[:, :2]]
    ties = pdist(np.unique(X, axis=0))
    assert len(np.unique(ties)) < len(ties) / 4  # many ties among the distinct pairs
    value = rep.rsa(X, Y, distance="euclidean")
    assert value == pytest.approx(expanded(rep.rsa, X, Y, distance="euclidean"), abs=TOLERANCE)
    assert value == pytest.approx(_reference_rsa(X, Y, "euclidean"), abs=TOLERANCE)


def test_grouped_rsa_when_the_two_models_group_the_examples_differently(expanded):
    """X merges states that Y keeps apart: the joint groups are finer than X's own."""
    X, Y = _visited(240, 40, 6, 5, seed=6)
    X = np.round(X, 0)  # coarse: many states become the same row in X only
    for distance in ("euclidean",):
        value = rep.rsa(X, Y, distance=distance)
        assert value == pytest.approx(expanded(rep.rsa, X, Y, distance=distance), abs=TOLERANCE)
        assert value == pytest.approx(_reference_rsa(X, Y, distance), abs=TOLERANCE)


def test_rsa_with_one_model_grouped_and_the_other_not(expanded):
    """Y has no repeated rows: the grouped X is expanded to the pairs and compared as usual."""
    X, Y = _visited(150, 30, 5, 4, seed=7)
    Y = Y + 1e-3 * np.random.default_rng(7).standard_normal(Y.shape)
    for distance in ("correlation", "euclidean"):
        value = rep.rsa(X, Y, distance=distance)
        assert value == pytest.approx(expanded(rep.rsa, X, Y, distance=distance), abs=TOLERANCE)
        assert value == pytest.approx(_reference_rsa(X, Y, distance), abs=TOLERANCE)


def test_grouped_rsa_with_all_dissimilarities_equal_is_rejected():
    X = np.repeat(np.eye(4), 3, axis=0)  # 4 states, each 3 times: distinct pairs all at √2...
    X = X[:, :4]
    Y = np.random.default_rng(8).standard_normal((12, 3))
    value = rep.rsa(X, Y, distance="euclidean")  # ... but pairs inside a state are at 0
    assert np.isfinite(value)
    with pytest.raises(InputError, match="dissimilarities are equal"):
        rep.rsa(np.eye(4), Y[:4], distance="euclidean")


# -- RBF CKA -------------------------------------------------------------------------------


@pytest.mark.parametrize("debiased", [False, True])
@pytest.mark.parametrize("threshold", [0.5, 1.0])
@pytest.mark.parametrize(("n", "k"), [(300, 60), (200, 4), (100, 50)])
def test_grouped_rbf_cka_equals_the_expanded_computation(expanded, debiased, threshold, n, k):
    X, Y = _visited(n, k, 8, 6, seed=n + 3 * k)
    value = rep.rbf_cka(X, Y, threshold=threshold, debiased=debiased)
    assert value == pytest.approx(
        expanded(rep.rbf_cka, X, Y, threshold=threshold, debiased=debiased), abs=TOLERANCE)
    assert value == pytest.approx(_reference_rbf_cka(X, Y, threshold, debiased), abs=TOLERANCE)


def test_grouped_rbf_cka_with_one_model_grouped_and_the_other_not(expanded):
    X, Y = _visited(120, 20, 5, 4, seed=9)
    Y = Y + 1e-2 * np.random.default_rng(9).standard_normal(Y.shape)
    for debiased in (False, True):
        value = rep.rbf_cka(X, Y, debiased=debiased)
        assert value == pytest.approx(expanded(rep.rbf_cka, X, Y, debiased=debiased),
                                      abs=TOLERANCE)
        assert value == pytest.approx(_reference_rbf_cka(X, Y, 1.0, debiased), abs=TOLERANCE)


def test_grouped_rbf_cka_with_the_median_among_the_zeros_is_rejected():
    X = np.vstack([np.zeros((15, 3)), np.random.default_rng(10).standard_normal((5, 3))])
    Y = np.random.default_rng(11).standard_normal((20, 3))
    with pytest.raises(InputError, match="median squared distance"):
        rep.rbf_cka(X, Y)


# -- properties, over duplication patterns -------------------------------------------------


@given(st.integers(3, 12), st.integers(0, 2**32 - 1))
def test_grouped_values_are_invariant_to_row_order_and_match_the_expanded_path(k, seed):
    rng = np.random.default_rng(seed)
    n = 2 * k + int(rng.integers(0, 3 * k))
    X, Y = _visited(n, k, 5, 4, seed=seed)
    order = rng.permutation(n)
    for name, measure in (("rsa", lambda a, b: rep.rsa(a, b, distance="euclidean")),
                          ("rbf_cka", rep.rbf_cka)):
        try:
            value = measure(X, Y)
        except InputError:  # e.g. a median among the zeros when one state dominates
            with pytest.raises(InputError):
                measure(X[order], Y[order])
            continue
        assert measure(X[order], Y[order]) == pytest.approx(value, abs=TOLERANCE), name
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(_grouped, "GROUPED_MAX_FRACTION", 0.0)
            assert measure(X, Y) == pytest.approx(value, abs=TOLERANCE), name


@given(st.lists(st.integers(1, 6), min_size=3, max_size=10))
def test_every_row_repeated_any_pattern(multiplicities):
    """Every state repeated (counts ≥ 1, often all ≥ 2): grouped equals the references."""
    k = len(multiplicities)
    rng = np.random.default_rng(k)
    states_x = rng.standard_normal((k, 4))
    states_y = states_x + 0.5 * rng.standard_normal((k, 4))
    index = np.repeat(np.arange(k), multiplicities)
    X, Y = states_x[index], states_y[index]
    if len(index) < 4:
        return
    expected_rsa = _reference_rsa(X, Y, "euclidean")
    assert rep.rsa(X, Y, distance="euclidean") == pytest.approx(expected_rsa, abs=TOLERANCE)
    distances = cdist(X, X, "sqeuclidean")
    if np.median(distances) > 0 and np.median(cdist(Y, Y, "sqeuclidean")) > 0:
        assert rep.rbf_cka(X, Y) == pytest.approx(_reference_rbf_cka(X, Y, 1.0, False),
                                                  abs=TOLERANCE)


def test_pairwise_and_compare_each_use_the_grouped_forms_consistently(expanded):
    X, Y = _visited(200, 40, 6, 5, seed=12)
    Z = Y + 1e-2 * np.random.default_rng(12).standard_normal(Y.shape)  # no repeats
    models = {"x": X, "y": Y, "z": Z}
    for measure in ("rsa", "rsa_euclidean", "rbf_cka"):
        grouped = rep.pairwise(models, measure).to_numpy()
        plain = expanded(rep.pairwise, models, measure).to_numpy()
        np.testing.assert_allclose(grouped, plain, rtol=0, atol=TOLERANCE)
        each = rep.compare_each(X, Y, [measure])[measure]
        assert each == pytest.approx(grouped[0, 1], abs=TOLERANCE)
