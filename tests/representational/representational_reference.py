"""Direct float64 implementations of each representational measure's definition, for tests.

Written from the papers, independently of ``simfunc.representational``: explicit centring
matrices, Song et al.'s unbiased HSIC formula written out, SVD orthonormal bases for CCA,
scipy for distances and Spearman, brute-force neighbour sets. Slow and simple on purpose.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import orthogonal_procrustes
from scipy.spatial.distance import pdist
from scipy.stats import spearmanr


def as64(X) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    return X.reshape(X.shape[0], -1)


def centring_matrix(n: int) -> np.ndarray:
    return np.eye(n) - np.ones((n, n)) / n


def centred(X) -> np.ndarray:
    X = as64(X)
    return centring_matrix(X.shape[0]) @ X


def hsic_biased(K: np.ndarray, L: np.ndarray) -> float:
    n = K.shape[0]
    H = centring_matrix(n)
    return float(np.trace(K @ H @ L @ H)) / (n - 1) ** 2


def hsic_unbiased(K: np.ndarray, L: np.ndarray) -> float:
    """Song et al. (2012), eq. 5, written out."""
    n = K.shape[0]
    Kt, Lt = K.copy(), L.copy()
    np.fill_diagonal(Kt, 0.0)
    np.fill_diagonal(Lt, 0.0)
    one = np.ones(n)
    term1 = np.trace(Kt @ Lt)
    term2 = (one @ Kt @ one) * (one @ Lt @ one) / ((n - 1) * (n - 2))
    term3 = 2.0 / (n - 2) * (one @ Kt @ Lt @ one)
    return float((term1 + term2 - term3) / (n * (n - 3)))


def cka_from_grams(K: np.ndarray, L: np.ndarray, debiased: bool) -> float:
    hsic = hsic_unbiased if debiased else hsic_biased
    return hsic(K, L) / np.sqrt(hsic(K, K) * hsic(L, L))


def linear_cka(X, Y, debiased: bool = False) -> float:
    # Centre the features first (H X) so the large-mean tests stay exact; every HSIC
    # estimator here is translation invariant, so this changes nothing but rounding.
    Xc, Yc = centred(X), centred(Y)
    return cka_from_grams(Xc @ Xc.T, Yc @ Yc.T, debiased)


def rbf_gram(X, threshold: float) -> np.ndarray:
    """Kornblith et al.'s gram_rbf: median over the full n × n squared-distance matrix."""
    Xc = centred(X)
    sq = np.sum(Xc**2, axis=1)
    distances = np.maximum(sq[:, None] + sq[None, :] - 2 * Xc @ Xc.T, 0.0)
    np.fill_diagonal(distances, 0.0)
    return np.exp(-distances / (2 * threshold**2 * np.median(distances)))


def rbf_cka(X, Y, threshold: float = 1.0, debiased: bool = False) -> float:
    return cka_from_grams(rbf_gram(X, threshold), rbf_gram(Y, threshold), debiased)


def orthonormal_basis(X, rtol: float = 1e-9) -> np.ndarray:
    """Left singular vectors of the centred matrix spanning its column space."""
    U, s, _ = np.linalg.svd(centred(X), full_matrices=False)
    return U[:, s > rtol * s[0]]


def canonical_correlations(X, Y) -> np.ndarray:
    return np.linalg.svd(orthonormal_basis(X).T @ orthonormal_basis(Y), compute_uv=False)


def cca(X, Y) -> float:
    return float(np.mean(canonical_correlations(X, Y) ** 2))


def mean_cca(X, Y) -> float:
    return float(np.mean(canonical_correlations(X, Y)))


def svcca(X, Y, variance: float = 0.99) -> float:
    reduced = []
    for Z in (X, Y):
        U, s, _ = np.linalg.svd(centred(Z), full_matrices=False)
        explained = np.cumsum(s**2) / np.sum(s**2)
        k = int(np.argmax(explained >= variance)) + 1 if explained[-1] >= variance else len(s)
        reduced.append(U[:, :k] * s[:k])
    return mean_cca(*reduced)


def pwcca(X, Y) -> float:
    X, Y = as64(X), as64(Y)
    small, large = (X, Y) if X.shape[1] <= Y.shape[1] else (Y, X)
    Qs, Ql = orthonormal_basis(small), orthonormal_basis(large)
    # Morcos et al.'s rule: every canonical direction of the side with fewer neurons (the full
    # SVD), those without a partner in the other side's column space with correlation 0.
    A, rho, _ = np.linalg.svd(Qs.T @ Ql, full_matrices=True)
    rho = np.concatenate([rho, np.zeros(A.shape[1] - rho.shape[0])])
    variates = Qs @ A  # unit-norm canonical variates of the smaller layer
    weights = np.abs(centred(small).T @ variates).sum(axis=0)
    return float(weights @ rho / weights.sum())


def unit(X) -> np.ndarray:
    Xc = centred(X)
    return Xc / np.linalg.norm(Xc)


def pad(X: np.ndarray, width: int) -> np.ndarray:
    return np.hstack([X, np.zeros((X.shape[0], width - X.shape[1]))])


def procrustes(X, Y) -> float:
    """min over orthogonal R of ‖X̂ − ŶR‖_F², after zero-padding to equal widths."""
    Xn, Yn = unit(X), unit(Y)
    width = max(Xn.shape[1], Yn.shape[1])
    Xn, Yn = pad(Xn, width), pad(Yn, width)
    R, _ = orthogonal_procrustes(Yn, Xn)
    return float(np.linalg.norm(Xn - Yn @ R) ** 2)


def partial_whiten(X: np.ndarray, alpha: float) -> np.ndarray:
    """Williams et al.'s partial whitening as netrep's ``whiten`` defines it, for a centred,
    full-column-rank X: ``X (α I + (1 − α) (XᵀX)^{-1/2})`` with the unnormalised ``XᵀX``."""
    if alpha == 1.0:
        return X
    lam, V = np.linalg.eigh(X.T @ X)
    d = alpha + (1 - alpha) / np.sqrt(lam)
    return X @ (V * d) @ V.T


def angular_shape(X, Y, alpha: float = 1.0) -> float:
    """netrep's LinearMetric(alpha, center_columns=True, zero_pad=True) angular score: centre,
    zero-pad, partially whiten, rotate Y onto X, angle between the two."""
    Xa, Ya = partial_whiten(centred(X), alpha), partial_whiten(centred(Y), alpha)
    width = max(Xa.shape[1], Ya.shape[1])
    Xa, Ya = pad(Xa, width), pad(Ya, width)
    R, _ = orthogonal_procrustes(Ya, Xa)  # best rotation of Y onto X
    cosine = np.sum(Xa * (Ya @ R)) / (np.linalg.norm(Xa) * np.linalg.norm(Ya))
    return float(np.arccos(np.clip(cosine, -1.0, 1.0)))


def neighbour_sets(X, k: int) -> list[set[int]]:
    X = as64(X)
    unit_rows = X / np.linalg.norm(X, axis=1, keepdims=True)
    similarity = unit_rows @ unit_rows.T
    sets = []
    for i in range(X.shape[0]):
        order = [j for j in np.argsort(-similarity[i], kind="stable") if j != i]
        sets.append(set(order[:k]))
    return sets


def mutual_knn(X, Y, k: int = 10) -> float:
    sets_x, sets_y = neighbour_sets(X, k), neighbour_sets(Y, k)
    return float(np.mean([len(a & b) / k for a, b in zip(sets_x, sets_y)]))


def rsa(X, Y, distance: str = "correlation") -> float:
    return float(spearmanr(pdist(as64(X), distance), pdist(as64(Y), distance)).statistic)


def unit_total_variance(X) -> np.ndarray:
    """Centred and scaled so that tr(XᵀX / n) = 1, as GULP's reference code normalises."""
    Xc = centred(X)
    return Xc * np.sqrt(Xc.shape[0]) / np.linalg.norm(Xc)


def gulp(X, Y, ridge: float = 1e-2) -> float:
    """Boix-Adsera et al. (2022), the closed form with explicit covariance matrices:
    d² = tr(Σx Ax Σx Ax) + tr(Σy Ay Σy Ay) − 2 tr(Ax Σxy Ay Σyx), A = (Σ + λI)^{-1}
    (the pseudo-inverse at λ = 0); returns d."""
    A, B = unit_total_variance(X), unit_total_variance(Y)
    n = A.shape[0]
    sxx, syy, sxy = A.T @ A / n, B.T @ B / n, A.T @ B / n

    def regularised_inverse(S):
        return np.linalg.pinv(S) if ridge == 0 else np.linalg.inv(S + ridge * np.eye(len(S)))

    ax, ay = regularised_inverse(sxx), regularised_inverse(syy)
    squared = (np.trace(sxx @ ax @ sxx @ ax) + np.trace(syy @ ay @ syy @ ay)
               - 2 * np.trace(ax @ sxy @ ay @ sxy.T))
    return float(np.sqrt(max(squared, 0.0)))


def gulp_hat_matrices(X, Y, ridge: float = 1e-2) -> float:
    """GULP as the Frobenius distance between the n × n ridge hat matrices (brute force)."""

    def hat(Z):
        Zn = unit_total_variance(Z)
        n = Zn.shape[0]
        cov = Zn.T @ Zn / n
        inverse = np.linalg.pinv(cov) if ridge == 0 else np.linalg.inv(cov + ridge * np.eye(len(cov)))
        return Zn @ inverse @ Zn.T / n

    return float(np.linalg.norm(hat(X) - hat(Y)))


def fold_of_each_example(n: int, folds: int, seed: int) -> np.ndarray:
    """The documented fold rule: a default_rng(seed) shuffle dealt round-robin."""
    order = np.random.default_rng(seed).permutation(n)
    fold = np.empty(n, dtype=int)
    fold[order] = np.arange(n) % folds
    return fold


def cross_validated_r2(S, T, folds: int = 5, ridge: float = 1e-2, seed: int = 0) -> float:
    """Pooled held-out R² of T from S, with scikit-learn's Ridge (intercept fitted) per fold,
    penalty ridge · ‖S_train − mean‖_F²."""
    from sklearn.linear_model import Ridge

    S, T = as64(S), as64(T)
    fold = fold_of_each_example(S.shape[0], folds, seed)
    residual = total = 0.0
    for f in range(folds):
        train, test = fold != f, fold == f
        penalty = ridge * np.sum((S[train] - S[train].mean(axis=0)) ** 2)
        model = Ridge(alpha=penalty, fit_intercept=True, solver="svd").fit(S[train], T[train])
        residual += np.sum((T[test] - model.predict(S[test])) ** 2)
        total += np.sum((T[test] - T[train].mean(axis=0)) ** 2)
    return float(1.0 - residual / total)


def linear_predictivity(X, Y, folds: int = 5, ridge: float = 1e-2, seed: int = 0) -> float:
    return (cross_validated_r2(X, Y, folds, ridge, seed)
            + cross_validated_r2(Y, X, folds, ridge, seed)) / 2


REFERENCES = {
    "linear_cka": linear_cka,
    "debiased_cka": lambda X, Y: linear_cka(X, Y, debiased=True),
    "rbf_cka": rbf_cka,
    "cca": cca,
    "mean_cca": mean_cca,
    "svcca": svcca,
    "pwcca": pwcca,
    "procrustes": procrustes,
    "angular_shape": angular_shape,
    "mutual_knn": mutual_knn,
    "rsa": rsa,
    "rsa_euclidean": lambda X, Y: rsa(X, Y, "euclidean"),
    "gulp": gulp,
    "linear_predictivity": linear_predictivity,
}
