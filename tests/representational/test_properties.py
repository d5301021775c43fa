"""Property tests over the registry: every declared invariance, symmetry and bound is tested,
plus self-similarity and the triangle inequality of the shape metrics."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from simfunc import measure as vocabulary
from simfunc import representational as rep

SEEDS = st.integers(min_value=0, max_value=2**32 - 1)
TOLERANCE = 1e-7  # invariances hold to rounding; arccos-based values are the least accurate


def _pair(seed: int, related: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Small random data with n comfortably above p + q (so CCA is informative), n > 10 (so
    mutual k-NN with k = 10 applies) and at least 3 features (RSA's correlation distance)."""
    rng = np.random.default_rng(seed)
    n, p, q = int(rng.integers(16, 27)), int(rng.integers(3, 6)), int(rng.integers(3, 6))
    X = rng.standard_normal((n, p)) * rng.uniform(0.3, 3.0, size=p) + rng.normal(size=p)
    noise = rng.standard_normal((n, q))
    Y = (X @ rng.standard_normal((p, q)) + noise) if related else noise
    return X, Y


def _orthogonal(rng: np.random.Generator, width: int) -> np.ndarray:
    Q, R = np.linalg.qr(rng.standard_normal((width, width)))
    return Q * np.sign(np.diag(R))


def _transform(invariance: str, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    width = X.shape[1]
    if invariance == vocabulary.TRANSLATION:
        return X + rng.normal(scale=10.0, size=width)
    if invariance == vocabulary.ISOTROPIC_SCALING:
        return X * float(np.exp(rng.uniform(-3.0, 3.0)))
    if invariance == vocabulary.ORTHOGONAL:
        return X @ _orthogonal(rng, width)
    if invariance == vocabulary.PERMUTATION:
        return X[:, rng.permutation(width)]
    if invariance == vocabulary.INVERTIBLE_LINEAR:  # well conditioned: singular values in [0.5, 2]
        singular = rng.uniform(0.5, 2.0, size=width)
        return X @ (_orthogonal(rng, width) * singular) @ _orthogonal(rng, width)
    raise AssertionError(f"no transform for {invariance}")


DECLARED = [
    (name, invariance)
    for name, measure in rep.MEASURES.items()
    for invariance in sorted(measure.invariances)
]


def test_every_measure_declares_its_properties():
    for name, measure in rep.MEASURES.items():
        assert measure.name == name
        low, high = measure.bounds
        assert low < high
        assert measure.invariances <= vocabulary.INVARIANCES


@pytest.mark.parametrize("name, invariance", DECLARED)
@given(seed=SEEDS, side=st.sampled_from(["X", "Y"]))
def test_declared_invariance_holds(name, invariance, seed, side):
    measure = rep.MEASURES[name]
    X, Y = _pair(seed)
    rng = np.random.default_rng(seed + 1)
    before = measure(X, Y)
    if side == "X":
        after = measure(_transform(invariance, X, rng), Y)
    else:
        after = measure(X, _transform(invariance, Y, rng))
    assert after == pytest.approx(before, abs=TOLERANCE)


@pytest.mark.parametrize(
    "name, invariance",
    [
        ("linear_cka", vocabulary.INVERTIBLE_LINEAR),
        ("svcca", vocabulary.INVERTIBLE_LINEAR),
        ("gulp", vocabulary.INVERTIBLE_LINEAR),
        ("linear_predictivity", vocabulary.INVERTIBLE_LINEAR),
        ("pwcca", vocabulary.ORTHOGONAL),
        ("procrustes", vocabulary.INVERTIBLE_LINEAR),
        ("mutual_knn", vocabulary.TRANSLATION),
        ("rsa", vocabulary.TRANSLATION),
        ("rsa", vocabulary.ORTHOGONAL),
    ],
)
def test_undeclared_invariance_really_fails(name, invariance):
    """The declarations are honest both ways: these transformations do change the value."""
    measure = rep.MEASURES[name]
    assert invariance not in measure.invariances
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 4)) * np.array([4.0, 2.0, 1.0, 0.5])
    Y = X @ rng.standard_normal((4, 4)) + rng.standard_normal((40, 4))
    if invariance == vocabulary.INVERTIBLE_LINEAR:
        changed = X @ np.array([[3.0, 1, 0, 0], [0, 0.2, 0, 0], [0, 0, 1, 2], [0, 0, 0, 0.5]])
    else:
        changed = _transform(invariance, X, rng)
    assert abs(measure(changed, Y) - measure(X, Y)) > 1e-4


SYMMETRIC = [name for name, measure in rep.MEASURES.items() if measure.symmetric]


@pytest.mark.parametrize("name", SYMMETRIC)
@given(seed=SEEDS)
def test_symmetric_measures_are_symmetric(name, seed):
    X, Y = _pair(seed)
    measure = rep.MEASURES[name]
    assert measure(X, Y) == pytest.approx(measure(Y, X), abs=1e-9)


def test_pwcca_is_not_symmetric():
    assert not rep.MEASURES["pwcca"].symmetric
    rng = np.random.default_rng(1)
    X = rng.standard_normal((60, 5)) * np.array([5.0, 3.0, 1.0, 0.5, 0.1])
    Y = X @ rng.standard_normal((5, 5)) + rng.standard_normal((60, 5))
    assert abs(rep.pwcca(X, Y) - rep.pwcca(Y, X)) > 1e-3
    # The weights come from the layer with fewer neurons, whichever argument it is.
    Z = Y[:, :3]
    assert rep.pwcca(X, Z) == pytest.approx(rep.pwcca(Z, X), abs=1e-12)


@pytest.mark.parametrize("name", list(rep.MEASURES))
@given(seed=SEEDS)
def test_self_similarity(name, seed):
    """measure(X, X) is the most-similar value, exactly when the measure declares so; an
    estimator that shrinks (ridge) still rates X vs X above X vs unrelated features."""
    X, _ = _pair(seed)
    measure = rep.MEASURES[name]
    perfect = 1.0 if measure.larger_is_more_similar else 0.0
    if measure.exact_on_identical:
        assert measure(X, X) == pytest.approx(perfect, abs=TOLERANCE)
    else:
        _, unrelated = _pair(seed, related=False)
        itself = measure.oriented(measure(X, X))
        assert measure.oriented(measure(X, unrelated)) < itself <= measure.oriented(perfect)


@pytest.mark.parametrize("name", list(rep.MEASURES))
@given(seed=SEEDS, related=st.booleans())
def test_values_lie_within_declared_bounds(name, seed, related):
    X, Y = _pair(seed, related)
    measure = rep.MEASURES[name]
    low, high = measure.bounds
    value = measure(X, Y)
    assert isinstance(value, float)
    assert low <= value <= high


@given(seed=SEEDS, alpha=st.sampled_from([0.0, 0.5, 1.0]))
def test_angular_shape_satisfies_the_triangle_inequality(seed, alpha):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(15, 25))
    X, Y, Z = (rng.standard_normal((n, int(rng.integers(2, 5)))) for _ in range(3))
    Y = Y + X[:, :1] * rng.normal()
    Z = Z + Y[:, :1] * rng.normal()

    def distance(A, B):
        return rep.angular_shape(A, B, alpha=alpha)

    assert distance(X, Z) <= distance(X, Y) + distance(Y, Z) + 1e-9
    assert distance(X, Y) <= distance(X, Z) + distance(Z, Y) + 1e-9


@given(seed=SEEDS, ridge=st.sampled_from([0.0, 1e-2, 1.0]))
def test_gulp_satisfies_the_triangle_inequality(seed, ridge):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(15, 25))
    X, Y, Z = (rng.standard_normal((n, int(rng.integers(2, 5)))) for _ in range(3))
    Y = Y + X[:, :1] * rng.normal()

    def distance(A, B):
        return rep.gulp(A, B, ridge=ridge)

    assert distance(X, Z) <= distance(X, Y) + distance(Y, Z) + 1e-9
    assert distance(X, Y) <= distance(X, Z) + distance(Z, Y) + 1e-9


@given(seed=SEEDS)
def test_procrustes_metric_satisfies_the_triangle_inequality(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(8, 20))
    X, Y, Z = (rng.standard_normal((n, int(rng.integers(2, 6)))) for _ in range(3))
    Y = Y + X[:, :1]

    def distance(A, B):
        return np.sqrt(rep.procrustes(A, B))

    assert distance(X, Z) <= distance(X, Y) + distance(Y, Z) + 1e-9
    assert distance(X, Y) <= distance(X, Z) + distance(Z, Y) + 1e-9
