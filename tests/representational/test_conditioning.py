"""The CCA family stays exact on ill-conditioned features (issue 14, part 1).

Property tests: every CCA-family measure keeps the invariances it declares when the features
are pushed through invertible maps of condition 1e2 to 1e6, or have units scaled down to 1e-6,
to 1e-9. The covariance route alone loses about eps·κ² here (up to ~1e-4 for these maps); the
per-input switch to a QR/SVD basis (``_basis``) is what keeps the values exact. Also: the rule
that picks the route, and values against an SVD-basis reference on ill-conditioned data.
"""

from __future__ import annotations

import numpy as np
import pytest
import representational_reference as ref
from hypothesis import given
from hypothesis import strategies as st

from simfunc import representational as rep
from simfunc.representational._basis import ACCURACY
from simfunc.representational._linalg import EPS
from simfunc.representational._prepared import PreparedFeatures

SEEDS = st.integers(min_value=0, max_value=2**32 - 1)
CONDITION_EXPONENTS = st.floats(min_value=2.0, max_value=6.0)  # maps of condition 1e2 .. 1e6
SCALE_EXPONENTS = st.floats(min_value=0.0, max_value=6.0)  # unit scalings 1 .. 1e-6
TOLERANCE = 1e-9


def _orthogonal(rng: np.random.Generator, width: int) -> np.ndarray:
    Q, R = np.linalg.qr(rng.standard_normal((width, width)))
    return Q * np.sign(np.diag(R))


def _pair(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Well-conditioned related features, n comfortably above p + q (CCA informative)."""
    rng = np.random.default_rng(seed)
    n, p, q = int(rng.integers(40, 80)), int(rng.integers(3, 7)), int(rng.integers(3, 7))
    X = rng.standard_normal((n, p)) + rng.normal(size=p)
    Y = X @ rng.standard_normal((p, q)) / np.sqrt(p) + 0.7 * rng.standard_normal((n, q))
    return X, Y


def _ill_conditioned_map(rng: np.random.Generator, width: int, exponent: float) -> np.ndarray:
    """An invertible map with singular values from 1 down to 10^-exponent."""
    singular = np.logspace(0.0, -exponent, width)
    return _orthogonal(rng, width) * rng.permutation(singular) @ _orthogonal(rng, width)


def _unit_scaling(rng: np.random.Generator, width: int, exponent: float) -> np.ndarray:
    """Per-unit scales: about half the units scaled by factors down to 10^-exponent."""
    scales = np.ones(width)
    chosen = rng.choice(width, size=max(1, width // 2), replace=False)
    scales[chosen] = 10.0 ** -rng.uniform(0.0, exponent, size=chosen.size)
    scales[chosen[0]] = 10.0**-exponent  # the extreme always present
    return scales


# Each CCA-family measure with the side(s) on which its declared invariance applies. PWCCA's
# weights come from the representation with fewer units, so only maps of the other side leave
# it unchanged; SVCCA with variance=1 keeps every direction and is invariant to invertible
# maps (with variance < 1 it is not, by definition).
CCA_FAMILY = [
    ("cca", {}, "either"),
    ("mean_cca", {}, "either"),
    ("svcca", {"variance": 1.0}, "either"),
    ("pwcca", {}, "wider"),
]


def _apply(kind: str, measure_name: str, options: dict, side: str, seed: int, exponent: float):
    X, Y = _pair(seed)
    if side == "wider":  # make Y the wider side, so PWCCA takes its weights from X
        X = X[:, :3]
        Y = np.hstack([Y, Y[:, :1] ** 2])
    rng = np.random.default_rng(seed + 7)
    target = "Y" if side == "wider" else ("X" if seed % 2 else "Y")
    data = Y if target == "Y" else X
    if kind == "map":
        changed = data @ _ill_conditioned_map(rng, data.shape[1], exponent)
    else:
        changed = data * _unit_scaling(rng, data.shape[1], exponent)
    measure = rep.MEASURES[measure_name]
    before = measure(X, Y, **options)
    after = measure(changed, Y, **options) if target == "X" else measure(X, changed, **options)
    return before, after


@pytest.mark.parametrize("name, options, side", CCA_FAMILY)
@given(seed=SEEDS, exponent=CONDITION_EXPONENTS)
def test_invariant_to_ill_conditioned_invertible_maps(name, options, side, seed, exponent):
    before, after = _apply("map", name, options, side, seed, exponent)
    assert after == pytest.approx(before, abs=TOLERANCE)


@pytest.mark.parametrize("name, options, side", CCA_FAMILY)
@given(seed=SEEDS, exponent=SCALE_EXPONENTS)
def test_invariant_to_per_unit_scalings_down_to_1e_minus_6(name, options, side, seed, exponent):
    before, after = _apply("scale", name, options, side, seed, exponent)
    assert after == pytest.approx(before, abs=TOLERANCE)


@given(seed=SEEDS, exponent=SCALE_EXPONENTS)
def test_svcca_on_scaled_units_is_rotation_invariant_and_matches_the_svd_definition(seed, exponent):
    """SVCCA (variance 0.99) keeps its declared orthogonal invariance on features whose units
    are scaled down to 1e-6, and equals the SVD-basis definition there."""
    X, Y = _pair(seed)
    rng = np.random.default_rng(seed + 3)
    X = X * _unit_scaling(rng, X.shape[1], exponent)
    rotated = X @ _orthogonal(rng, X.shape[1])
    value = rep.svcca(X, Y)
    assert rep.svcca(rotated, Y) == pytest.approx(value, abs=TOLERANCE)
    assert value == pytest.approx(ref.svcca(X, Y), abs=TOLERANCE)


@given(seed=SEEDS, exponent=CONDITION_EXPONENTS)
def test_angular_shape_alpha_zero_and_gulp_ridge_zero_are_invariant_too(seed, exponent):
    """The other whitening-based measures share the bases: angular shape at α = 0 and GULP at
    λ = 0 are invariant to invertible maps, ill-conditioned ones included."""
    X, Y = _pair(seed)
    changed = X @ _ill_conditioned_map(np.random.default_rng(seed + 5), X.shape[1], exponent)
    assert rep.angular_shape(changed, Y, alpha=0.0) == pytest.approx(
        rep.angular_shape(X, Y, alpha=0.0), abs=1e-8)  # fmt: skip
    assert rep.gulp(changed, Y, ridge=0.0) == pytest.approx(rep.gulp(X, Y, ridge=0.0), abs=1e-8)


def test_the_covariance_route_alone_would_break_the_invariance():
    """The data above is hard: the compact covariance + eigh computation moves R²_CCA by far
    more than the tolerance under a map of condition 1e6 (so the tests can fail)."""
    X, Y = _pair(11)
    changed = X @ _ill_conditioned_map(np.random.default_rng(3), X.shape[1], 6.0)

    def covariance_cca(A, B):
        Ac, Bc = A - A.mean(axis=0), B - B.mean(axis=0)
        wa, va = np.linalg.eigh(Ac.T @ Ac)
        wb, vb = np.linalg.eigh(Bc.T @ Bc)
        whitened = (va / np.sqrt(wa)).T @ (Ac.T @ Bc) @ (vb / np.sqrt(wb))
        return float(np.mean(np.linalg.svd(whitened, compute_uv=False) ** 2))

    assert abs(covariance_cca(changed, Y) - covariance_cca(X, Y)) > 10 * TOLERANCE
    assert rep.cca(changed, Y) == pytest.approx(rep.cca(X, Y), abs=TOLERANCE)


@pytest.mark.parametrize("exponent", [0.0, 1.0, 2.0, 3.0, 4.0, 6.0])
def test_the_route_follows_the_documented_rule(exponent):
    """Covariance route iff eps · w_max / w_min <= 1e-10 with every expected direction kept."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 6)) @ np.diag(np.logspace(0.0, -exponent, 6))
    model = PreparedFeatures(X)
    values = model.eigen.values
    accurate = model.eigen.rank == 6 and EPS * values[0] / values[-1] <= ACCURACY
    assert model.basis.method == ("covariance" if accurate else "qr-svd")
    assert (model.basis.method == "covariance") == (exponent <= 2.0)


def test_dead_units_do_not_force_the_slow_route_and_collinear_ones_do():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((100, 5))
    dead = X.copy()
    dead[:, 2] = 4.0
    assert PreparedFeatures(dead).basis.method == "covariance"
    collinear = X.copy()
    collinear[:, 4] = X[:, 0] - 2.0 * X[:, 1]
    basis = PreparedFeatures(collinear).basis
    assert basis.method == "qr-svd" and basis.rank == 4


def test_rank_cut_off_is_relative_to_the_largest_singular_value():
    """Kept: σ_k > max(n, p) · eps · σ_1. A unit scaled by 1e-9 is still a direction; one
    scaled by 1e-15 (below 100 · eps) is not."""
    rng = np.random.default_rng(2)
    X = rng.standard_normal((100, 4))
    for scale, rank in ((1e-9, 4), (1e-15, 3)):
        Z = X.copy()
        Z[:, 3] *= scale
        assert PreparedFeatures(Z).basis.rank == rank
        assert rep.canonical_correlations(Z, rng.standard_normal((100, 6))).shape == (rank,)


@pytest.mark.parametrize("name", ["cca", "mean_cca", "svcca", "pwcca"])
@pytest.mark.parametrize("exponent", [4.0, 6.0])
def test_ill_conditioned_values_match_the_svd_basis_definition(name, exponent):
    X, Y = _pair(5)
    X = X @ _ill_conditioned_map(np.random.default_rng(6), X.shape[1], exponent)
    assert rep.MEASURES[name](X, Y) == pytest.approx(ref.REFERENCES[name](X, Y), abs=TOLERANCE)
    assert rep.MEASURES[name](Y, X) == pytest.approx(ref.REFERENCES[name](Y, X), abs=TOLERANCE)


def test_wide_low_rank_features_take_the_accurate_route():
    rng = np.random.default_rng(7)
    latent = rng.standard_normal((30, 4))
    X = latent @ rng.standard_normal((4, 50)) * np.logspace(0, -5, 50)
    Y = latent[:, :3] @ rng.standard_normal((3, 40)) + 0.1 * rng.standard_normal((30, 40))[:, :1]
    assert PreparedFeatures(X).basis.method == "qr-svd"
    assert rep.cca(X, Y) == pytest.approx(ref.cca(X, Y), abs=TOLERANCE)


# --- Beyond what float64 resolves: a ConditioningWarning, never a silent change (issue 23) ---


def _mapped(exponent: float, seed: int = 0, n: int = 1000, p: int = 32, q: int = 24):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    Y = X @ rng.standard_normal((p, q)) / np.sqrt(p) + 0.7 * rng.standard_normal((n, q))
    singular = np.logspace(0.0, -exponent, p)
    A = _orthogonal(rng, p) * singular @ _orthogonal(rng, p)
    return X, X @ A, Y


@pytest.mark.parametrize("exponent", [4.0, 8.0])
def test_resolved_conditions_stay_exact_and_silent(exponent):
    """Up to condition 1e9 (the README's measured limit) values move by less than 1e-9 and
    nothing is said."""
    import warnings

    X, XA, Y = _mapped(exponent)
    with warnings.catch_warnings():
        warnings.simplefilter("error", rep.ConditioningWarning)
        for name in ("cca", "mean_cca"):
            assert rep.MEASURES[name](XA, Y) == pytest.approx(rep.MEASURES[name](X, Y), abs=1e-9)
        # PWCCA takes its weights from Y (fewer neurons): invariant to maps of X.
        assert rep.pwcca(Y, XA) == pytest.approx(rep.pwcca(Y, X), abs=1e-9)


@pytest.mark.parametrize("exponent", [10.0, 12.0])
def test_beyond_1e9_is_warned_with_rank_and_condition_number(exponent):
    X, XA, Y = _mapped(exponent)
    with pytest.warns(rep.ConditioningWarning) as caught:
        rep.cca(XA, Y)
    message = str(caught[0].message)
    assert message.startswith("X: ")
    condition = float(message.split("condition number ")[1].split(" ")[0])
    centred = XA - XA.mean(axis=0)
    equilibrated = centred / np.linalg.norm(centred, axis=0)  # units scaled to unit norm
    assert condition == pytest.approx(np.linalg.cond(equilibrated), rel=1e-2)
    assert condition > 10.0**exponent / 10
    assert "rank kept 32" in message
    assert issubclass(rep.ConditioningWarning, UserWarning)
    assert not issubclass(rep.ConditioningWarning, RuntimeWarning)


def test_directions_lost_below_the_cut_off_are_warned():
    """At condition 1e14 real directions fall below the rank cut-off and R²_CCA changes by
    about 1e-2: said, naming the argument (Y here) and the rank kept."""
    X, XA, Y = _mapped(14.0)
    with pytest.warns(rep.ConditioningWarning, match=r"^Y: .*rank kept (2\d|3[01])\b.*cut-off"):
        rep.cca(Y, XA)


def test_exactly_collinear_and_dead_units_are_not_warned():
    import warnings

    rng = np.random.default_rng(3)
    X = rng.standard_normal((200, 6))
    X = np.c_[X, X[:, 0] + X[:, 1], 2.0 * X[:, 2] - X[:, 3], np.full(200, 4.0)]
    Y = X[:, :4] @ rng.standard_normal((4, 5)) + rng.standard_normal((200, 5))
    with warnings.catch_warnings():
        warnings.simplefilter("error", rep.ConditioningWarning)
        assert PreparedFeatures(X).basis.method == "qr-svd"
        assert PreparedFeatures(X).basis.rank == 6
        rep.cca(X, Y)
        rep.pwcca(X, Y)
        rep.svcca(X, Y)


def test_per_unit_scalings_are_resolved_and_not_warned():
    """Householder QR is exact under per-unit scalings: a unit scaled by 1e-9 (σ_1/σ_4 about
    1e9) changes nothing and is not warned; the condition that counts is that of the units
    scaled to unit norm."""
    import warnings

    X, Y = _pair(11)
    Z = X.copy()
    Z[:, 0] *= 1e-9
    with warnings.catch_warnings():
        warnings.simplefilter("error", rep.ConditioningWarning)
        assert rep.cca(Z, Y) == pytest.approx(rep.cca(X, Y), abs=1e-9)
        assert PreparedFeatures(Z).basis.method == "qr-svd"
