"""Representational measures against published values and direct implementations of their
definitions (``representational_reference``), on several shapes and awkward inputs."""

from __future__ import annotations

import numpy as np
import pytest
import representational_reference as ref

from simfunc import representational as rep


@pytest.fixture
def kornblith_demo():
    """The data of Kornblith et al.'s CKA demo notebook."""
    np.random.seed(1337)
    X = np.random.randn(100, 10)
    Y = np.random.randn(100, 10) + X
    return X, Y


def test_published_values_of_kornblith_demo(kornblith_demo):
    X, Y = kornblith_demo
    assert rep.linear_cka(X, Y) == pytest.approx(0.5576132566, abs=1e-9)
    assert rep.linear_cka(X, Y, debiased=True) == pytest.approx(0.5134564895, abs=1e-9)
    assert rep.rbf_cka(X, Y, threshold=0.5) == pytest.approx(0.6548311823, abs=1e-9)
    # Centred R²_CCA (the demo prints 0.54312 because it does not centre).
    assert rep.cca(X, Y) == pytest.approx(0.5453963322, abs=1e-9)


def test_rbf_median_includes_the_diagonal_zeros(kornblith_demo):
    """The published RBF value needs the median over all n² squared distances; the median over
    the distinct pairs alone gives a visibly different number."""
    X, Y = kornblith_demo

    def gram_offdiagonal_median(Z):
        sq = np.sum(Z**2, 1)
        distances = sq[:, None] + sq[None, :] - 2 * Z @ Z.T
        median = np.median(distances[np.triu_indices(len(Z), 1)])
        return np.exp(-distances / (2 * 0.5**2 * median))

    other = ref.cka_from_grams(gram_offdiagonal_median(X), gram_offdiagonal_median(Y), False)
    assert abs(other - 0.6548311823) > 1e-4
    assert rep.rbf_cka(X, Y, threshold=0.5) == pytest.approx(ref.rbf_cka(X, Y, 0.5), abs=1e-12)


def _related(n: int, p: int, q: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)) * rng.uniform(0.5, 2.0, size=p)
    Y = X @ rng.standard_normal((p, q)) / np.sqrt(p) + 0.8 * rng.standard_normal((n, q))
    return X, Y


def _with_dead_and_collinear(X: np.ndarray) -> np.ndarray:
    """A constant (dead-ReLU) column and a column that is the sum of two others."""
    X = X.copy()
    X[:, 1] = 3.0
    X[:, -1] = X[:, 0] + X[:, 2]
    return X


def _float32_large_mean(X: np.ndarray) -> np.ndarray:
    return (X + 1e4).astype(np.float32)


SHAPES = [(60, 5, 8), (40, 6, 6), (12, 30, 25), (15, 4, 40)]  # n > p; p = q; n < p, q; p ≠ q
VARIANTS = ["plain", "dead_and_collinear", "float32_large_mean"]
ANY_SHAPE_MEASURES = ["linear_cka", "debiased_cka", "rbf_cka", "procrustes", "angular_shape",
                      "mutual_knn", "rsa", "rsa_euclidean", "gulp",
                      "linear_predictivity"]  # fmt: skip
CCA_MEASURES = ["cca", "mean_cca", "svcca", "pwcca"]


def _data(shape, variant, seed=0):
    X, Y = _related(*shape, seed=seed)
    if variant == "dead_and_collinear":
        X, Y = _with_dead_and_collinear(X), _with_dead_and_collinear(Y)
    elif variant == "float32_large_mean":
        X, Y = _float32_large_mean(X), _float32_large_mean(Y)
    return X, Y


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", ANY_SHAPE_MEASURES)
def test_measure_matches_direct_definition(name, shape, variant):
    X, Y = _data(shape, variant)
    if name == "mutual_knn":
        k = min(5, shape[0] - 1)
        assert rep.mutual_knn(X, Y, k=k) == pytest.approx(ref.mutual_knn(X, Y, k), abs=1e-12)
        return
    expected = ref.REFERENCES[name](X, Y)
    tolerance = 1e-7 if name == "angular_shape" else 1e-9  # arccos near 0 is ill-conditioned
    assert rep.MEASURES[name](X, Y) == pytest.approx(expected, abs=tolerance)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("shape", [(60, 5, 8), (40, 6, 6), (50, 12, 3)])
@pytest.mark.parametrize("name", CCA_MEASURES)
def test_cca_measure_matches_svd_basis_definition(name, shape, variant):
    X, Y = _data(shape, variant)
    expected = ref.REFERENCES[name](X, Y)
    assert rep.MEASURES[name](X, Y) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("variant", VARIANTS)
def test_canonical_correlations_drop_dead_and_collinear_directions(variant):
    X, Y = _data((60, 6, 9), variant)
    rho = rep.canonical_correlations(X, Y)
    expected = ref.canonical_correlations(X, Y)
    dropped = 2 if variant == "dead_and_collinear" else 0
    assert rho.shape == (6 - dropped,) == expected.shape
    assert np.all(np.diff(rho) <= 0)
    np.testing.assert_allclose(rho, expected, atol=1e-9)


def test_svcca_keeps_the_fewest_directions_reaching_the_variance():
    rng = np.random.default_rng(5)
    scales = np.array([10.0, 5.0, 1.0, 0.1, 0.01])
    X = rng.standard_normal((80, 5)) * scales
    Y = X @ rng.standard_normal((5, 5)) + rng.standard_normal((80, 5))
    for variance in (0.5, 0.8, 0.99, 0.9999, 1.0):
        assert rep.svcca(X, Y, variance=variance) == pytest.approx(
            ref.svcca(X, Y, variance), abs=1e-9
        )
    # With a low threshold only the dominant direction of X survives, so the result differs.
    assert rep.svcca(X, Y, variance=0.5) != pytest.approx(rep.svcca(X, Y, variance=1.0), abs=1e-3)


def test_cca_measures_on_wide_but_low_rank_features():
    """p, q > n with low rank: CCA is informative and runs on the compact (QR) factors."""
    rng = np.random.default_rng(6)
    latent = rng.standard_normal((30, 6))
    X = latent[:, :4] @ rng.standard_normal((4, 50))
    Y = latent @ rng.standard_normal((6, 60)) + 0.0
    Y[:, :6] += 0.3 * rng.standard_normal((30, 6))
    assert rep.canonical_correlations(X, Y).shape == (4,)
    for name in CCA_MEASURES + ["procrustes", "linear_cka"]:
        assert rep.MEASURES[name](X, Y) == pytest.approx(ref.REFERENCES[name](X, Y), abs=1e-9)


@pytest.mark.parametrize("alpha", [0.0, 1e-3, 0.01, 0.1, 0.3, 0.5, 0.9, 1.0])
@pytest.mark.parametrize("shape", [(50, 4, 4), (50, 3, 7), (200, 6, 5)])
def test_angular_shape_partial_whitening_matches_netreps_definition(alpha, shape):
    """Every α, against netrep's partial whitening computed in the test from its definition:
    ``X (α I + (1 − α)(XcᵀXc)^{-1/2})`` on centred, unnormalised features."""
    X, Y = _related(*shape, seed=9)
    expected = ref.angular_shape(X, Y, alpha)
    assert rep.angular_shape(X, Y, alpha=alpha) == pytest.approx(expected, abs=1e-9)


def test_angular_shape_alpha_matters_only_near_zero():
    """The convention's oddity (documented): weights ασ_k + (1 − α) with σ_k ~ sqrt(n), so
    α = 0.5 is already close to α = 1 while α = 0.01 is still close to α = 0. The issue's
    complaint: the old convention put α = 0.5 near full whitening."""
    X, Y = _related(1000, 6, 6, seed=21)
    Y[:, :3] *= 0.05  # uneven spectrum: whitening changes the answer
    theta = {alpha: rep.angular_shape(X, Y, alpha=alpha) for alpha in (0.0, 1e-3, 0.5, 1.0)}
    assert abs(theta[0.0] - theta[1.0]) > 0.1
    assert abs(theta[0.5] - theta[1.0]) < 0.1 * abs(theta[0.0] - theta[1.0])
    assert abs(theta[1e-3] - theta[0.0]) < 0.1 * abs(theta[0.0] - theta[1.0])


def test_angular_shape_is_scale_invariant_only_at_the_ends():
    X, Y = _related(100, 4, 5, seed=22)
    for alpha in (0.0, 1.0):
        assert rep.angular_shape(10 * X, Y, alpha=alpha) == pytest.approx(
            rep.angular_shape(X, Y, alpha=alpha), abs=1e-9)  # fmt: skip
    assert abs(rep.angular_shape(10 * X, Y, alpha=0.05) - rep.angular_shape(X, Y, alpha=0.05)) > 1e-4


def test_angular_shape_limits_relate_to_procrustes_and_cca():
    X, Y = _related(50, 4, 6, seed=10)
    theta = rep.angular_shape(X, Y, alpha=1.0)
    assert rep.procrustes(X, Y) == pytest.approx(2 - 2 * np.cos(theta), abs=1e-12)
    rho = ref.canonical_correlations(X, Y)
    cosine = rho.sum() / np.sqrt(4 * 6)
    assert np.cos(rep.angular_shape(X, Y, alpha=0.0)) == pytest.approx(cosine, abs=1e-9)


def test_pwcca_weights_differ_from_plain_mean():
    """PWCCA really weights: unequal canonical directions give a value unlike mean CCA."""
    X, Y = _related(80, 4, 6, seed=11)
    assert rep.pwcca(X, Y) == pytest.approx(ref.pwcca(X, Y), abs=1e-9)
    assert abs(rep.pwcca(X, Y) - rep.mean_cca(X, Y)) > 1e-3


def _orthonormal_centred(n: int, width: int, seed: int) -> np.ndarray:
    """``width`` centred, exactly orthonormal columns of length n (float64)."""
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(ref.centred(rng.standard_normal((n, width))))
    return Q


def _pwcca_thin(X, Y) -> float:
    """The rule simfunc used before issue 23: only min(rank X, rank Y) canonical directions
    (a thin SVD), so the fewer-neuron side's unmatched directions are dropped."""
    X, Y = ref.as64(X), ref.as64(Y)
    small, large = (X, Y) if X.shape[1] <= Y.shape[1] else (Y, X)
    Qs, Ql = ref.orthonormal_basis(small), ref.orthonormal_basis(large)
    A, rho, _ = np.linalg.svd(Qs.T @ Ql, full_matrices=False)
    weights = np.abs(ref.centred(small).T @ (Qs @ A)).sum(axis=0)
    return float(weights @ rho / weights.sum())


def test_pwcca_counts_an_unmatched_unit_with_correlation_zero_by_hand():
    """Morcos et al.'s rule on a case solvable by hand. Y = [3u, v] (2 neurons, the side with
    fewer neurons), X = [u, 2u, −u] (3 neurons, rank 1), u ⟂ v centred unit vectors. Y's
    canonical variates are u (ρ = 1, weight |⟨u, 3u⟩| + |⟨u, v⟩| = 3) and v, which has no
    partner in X (ρ = 0, weight 1): PWCCA = (3·1 + 1·0) / (3 + 1) = 0.75. Keeping only
    min(rank) = 1 direction would give 1."""
    basis = _orthonormal_centred(50, 2, seed=30)
    u, v = basis[:, 0], basis[:, 1]
    X = np.c_[u, 2 * u, -u] + 5.0
    Y = np.c_[3 * u, v] - 1.0
    assert rep.pwcca(X, Y) == pytest.approx(0.75, abs=1e-12)
    assert ref.pwcca(X, Y) == pytest.approx(0.75, abs=1e-12)
    assert _pwcca_thin(X, Y) == pytest.approx(1.0, abs=1e-12)
    # Weights from Y also when Y comes first (X on a tie only).
    assert rep.pwcca(Y, X) == pytest.approx(0.75, abs=1e-12)


@pytest.mark.parametrize("seed", [31, 32, 33])
def test_pwcca_rank_deficient_cases_match_the_reference_rule(seed):
    """Constructed rank-deficient cases with distinct correlations (so every canonical
    direction is unique): X has 5 neurons of rank 2, Y 3 neurons of rank 3; Y has a direction
    with no partner in X. simfunc equals the float64 SVD reference of Morcos et al.'s rule
    and differs from the thin rule, which would drop that direction."""
    rng = np.random.default_rng(seed)
    n = 400
    z = rng.standard_normal((n, 3))
    a = z[:, 0] + 0.3 * rng.standard_normal(n)
    b = z[:, 1] + 1.5 * rng.standard_normal(n)
    X = np.c_[a, b, a + b, a - 2 * b, 3 * a] + 2.0
    Y = z @ rng.standard_normal((3, 3)) + 0.1 * rng.standard_normal((n, 3))
    expected = ref.pwcca(X, Y)
    assert rep.pwcca(X, Y) == pytest.approx(expected, abs=1e-9)
    assert abs(expected - _pwcca_thin(X, Y)) > 1e-2
    # The other order takes its weights from the same (fewer-neuron) side: Y.
    assert rep.pwcca(Y, X) == pytest.approx(ref.pwcca(Y, X), abs=1e-9)


@pytest.mark.parametrize("shape", [(120, 4, 6), (200, 7, 7), (300, 9, 5)])
def test_pwcca_on_generic_full_rank_data_both_rules_agree(shape):
    n, p, q = shape
    X, Y = _related(n, p, q, seed=34 + p)
    expected = ref.pwcca(X, Y)
    assert expected == pytest.approx(_pwcca_thin(X, Y), abs=1e-12)
    assert rep.pwcca(X, Y) == pytest.approx(expected, abs=1e-9)


def test_pwcca_issue_23_example_is_no_longer_one():
    """The issue's example: X = [z, z1 + z2, z1 − z2] (4 neurons, rank 2), Y = [z, e]
    (3 neurons, rank 3). Two correlations are 1 (equal, so their directions are determined
    only up to a rotation) and e's direction has none: its weight ≈ ‖e‖ against two weights
    between ‖z_i‖ and √2‖z_i‖, so PWCCA lies between about 2/3 and 2√2/(2√2 + 1) ≈ 0.739
    (sim_metric reports 0.72); the thin rule gave 1.0."""
    rng = np.random.default_rng(0)
    z = rng.standard_normal((1000, 2))
    e = rng.standard_normal((1000, 1))
    X = np.c_[z, z[:, 0] + z[:, 1], z[:, 0] - z[:, 1]]
    Y = np.c_[z, e]
    value = rep.pwcca(X, Y)
    assert 0.62 < value < 0.76
    assert _pwcca_thin(X, Y) == pytest.approx(1.0, abs=1e-9)


def test_rsa_uses_correlation_distance_by_default():
    X, Y = _related(30, 5, 5, seed=12)
    assert rep.rsa(X, Y) == pytest.approx(ref.rsa(X, Y, "correlation"), abs=1e-12)
    assert rep.rsa(X, Y) != pytest.approx(ref.rsa(X, Y, "euclidean"), abs=1e-6)


def test_debiased_cka_matches_song_formula_on_uncentred_grams():
    """The unbiased estimator needs no centring: Song's formula on the raw linear Grams (small
    means, so no rounding issue) agrees with the centred feature-space computation."""
    X, Y = _related(25, 4, 7, seed=13)
    X, Y = X + 0.5, Y - 0.25
    raw = ref.cka_from_grams(X @ X.T, Y @ Y.T, debiased=True)
    assert rep.linear_cka(X, Y, debiased=True) == pytest.approx(raw, abs=1e-10)


@pytest.mark.parametrize("threshold", [0.3, 1.0, 2.0])
def test_rbf_cka_debiased_and_thresholds(threshold):
    X, Y = _related(30, 5, 3, seed=14)
    for debiased in (False, True):
        expected = ref.rbf_cka(X, Y, threshold, debiased)
        value = rep.rbf_cka(X, Y, threshold=threshold, debiased=debiased)
        assert value == pytest.approx(expected, abs=1e-10)


def test_mutual_knn_on_larger_data_crosses_row_blocks(monkeypatch):
    import simfunc.representational.neighbors as neighbors

    monkeypatch.setattr(neighbors, "_BLOCK_ELEMENTS", 7 * 120)  # 7 rows per block
    X, Y = _related(120, 6, 4, seed=15)
    assert rep.mutual_knn(X, Y, k=7) == pytest.approx(ref.mutual_knn(X, Y, 7), abs=1e-12)


@pytest.mark.parametrize("distance", ["correlation", "euclidean"])
def test_rsa_repeated_examples_tie_exactly(distance):
    """Repeated examples (same image twice, saturated units) must tie exactly, as in exact
    arithmetic, not be ordered by rounding noise."""
    from scipy.spatial.distance import pdist
    from scipy.stats import spearmanr

    X, Y = _related(30, 6, 5, seed=16)
    X = X[[0, 1, 2, 3, 4, 5, 0, 1, 0, 6, 7, 8, 2, 9, 10, 11, 12, 12, 13, 14]]
    Y = Y[:20]
    expected = spearmanr(np.round(pdist(X, distance), 12), np.round(pdist(Y, distance), 12))
    assert rep.rsa(X, Y, distance=distance) == pytest.approx(expected.statistic, abs=1e-12)
