"""Representational similarity analysis (Kriegeskorte, Mur & Bandettini 2008, Frontiers in
Systems Neuroscience, "Representational similarity analysis — connecting the branches of
systems neuroscience").

Each representation is summarised by its representational dissimilarity matrix (RDM): the
dissimilarity of every pair of examples. Two representations are compared by the Spearman
rank correlation of the upper triangles of their RDMs. The ranked, standardised upper
triangle depends on one representation only, so it is computed once per representation.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simfunc.errors import InputError
from simfunc.validation import check_choice

from ._grouped import (
    GroupedMatrix,
    RowGroups,
    average_ranks,
    grouped_inner,
    grouping_pays,
    model_groups,
)
from ._linalg import inner
from ._prepared import Pair, PreparedFeatures, prepare_pair, require_examples
from ._xp import namespace, rankdata, unique_rows, upper_triangle

__all__ = ["rsa", "compare_rsa", "DISTANCES"]

DISTANCES = ("correlation", "euclidean")
MIN_EXAMPLES = 3  # two dissimilarities at least, or a rank correlation is undefined


def rsa(X: Any, Y: Any, distance: str = "correlation") -> float:
    """Spearman correlation between the two representations' dissimilarity matrices.

    ``distance="correlation"``: ``d_ij = 1 − pearson(x_i, x_j)``, the correlation across
    features of two examples' feature vectors (each example's vector centred over its own
    features). ``distance="euclidean"``: ``d_ij = ‖x_i − x_j‖`` (computed from the Gram
    matrix of the examples shifted by the first one). Exactly repeated examples tie exactly
    (the RDM is built on the distinct examples); other near-ties are resolved by float64
    rounding. Then ``spearman(upper(D_X), upper(D_Y))`` over the n(n−1)/2 pairs i < j, ties
    ranked by their average rank (as ``scipy.stats.spearmanr``).

    Repeated examples (visited states): when a model has at most half as many distinct rows
    as examples, its ranks are computed on its k distinct rows, each distinct pair weighted
    by c_a c_b and the c_a(c_a − 1)/2 zero-dissimilarity pairs inside each group counted
    once (a weighted average ranking of k(k−1)/2 + 1 values), and two such models are
    correlated on their joint groups of identical rows. The value is that of the expanded
    n(n−1)/2 computation (to rounding, ~1e-14), at about (k/n)² of its cost (``_grouped``).

    Args:
        X, Y: (n, p) and (n, q) features of the same examples, n >= 3.
        distance: "correlation" (needs p, q >= 3 and no example with a constant feature
            vector) or "euclidean".

    Returns a value in [−1, 1]. Invariances: "correlation": isotropic scaling, feature
    permutations; "euclidean": translation, isotropic scaling, orthogonal transforms,
    permutations.
    """
    distance = check_choice(distance, "distance", DISTANCES)
    return compare_rsa(prepare_pair(X, Y), distance=distance)


def compare_rsa(pair: Pair, distance: str = "correlation") -> float:
    distance = check_choice(distance, "distance", DISTANCES)
    require_examples(pair, MIN_EXAMPLES, "RSA")
    form_x, form_y = _ranked_rdm(pair.x, distance), _ranked_rdm(pair.y, distance)
    if isinstance(form_x, GroupedMatrix) and isinstance(form_y, GroupedMatrix):
        # Σ_{i<j} = half the sum over i ≠ j, on the pair's joint groups of identical rows
        value = 0.5 * grouped_inner(form_x, form_y)
    else:
        value = inner(_standardised_ranks(pair.x, distance), _standardised_ranks(pair.y, distance))
    return float(np.clip(value, -1.0, 1.0))


def _ranked_rdm(model: PreparedFeatures, distance: str) -> np.ndarray | GroupedMatrix:
    """The model's standardised ranks: the n(n−1)/2 vector, or, when its rows repeat enough,
    the k × k matrix on its distinct rows (see ``_grouped``)."""
    return model.cached(("rsa_form", distance), lambda m: _rank_rdm(m, distance))


def _standardised_ranks(model: PreparedFeatures, distance: str) -> np.ndarray:
    """The n(n−1)/2 vector of standardised ranks (expanded from the grouped form if need be)."""
    form = _ranked_rdm(model, distance)
    if not isinstance(form, GroupedMatrix):
        return form
    return model.cached(("rsa_ranks", distance), lambda m: upper_triangle(form.expanded()))


def _check_correlation_distance(model: PreparedFeatures) -> None:
    data = model.data
    if data.shape[1] < 3:
        raise InputError(
            f"{model.name} has {data.shape[1]} feature(s): the correlation distance needs at "
            "least 3 (with 2, every correlation between examples is ±1 and the ranks would be "
            "rounding noise); use distance='euclidean'"
        )
    constant = (data == data[:, :1]).all(axis=1)
    count = int(constant.sum())
    if count:
        raise InputError(
            f"{model.name}: {count} example(s), the first example "
            f"{int((constant * 1).argmax())}, have the same value in every feature, so their correlation "
            "distance to other examples is undefined; use distance='euclidean'"
        )


def _correlation_rdm(data: np.ndarray) -> np.ndarray:
    xp = namespace(data)
    rows = data - data.mean(axis=1, keepdims=True)
    rows /= xp.sqrt(xp.einsum("ij,ij->i", rows, rows))[:, None]
    dissimilarity = rows @ rows.T
    dissimilarity *= -1.0
    dissimilarity += 1.0
    return dissimilarity


def _euclidean_rdm(data: np.ndarray) -> np.ndarray:
    xp = namespace(data)
    # Shifted by the first example rather than the mean: as accurate against a large common
    # offset, and exact on integer-valued features, whose equal distances then tie exactly.
    shifted = data - data[:1]
    gram = shifted @ shifted.T
    sq_norms = xp.diagonal(gram)
    # r_i + r_j first, then − 2 g_ij: every step is symmetric in (i, j), so the matrix is
    # exactly symmetric and equal distances stay exactly equal.
    distances = sq_norms[:, None] + sq_norms[None, :]
    distances -= 2.0 * gram
    xp.maximum(distances, 0.0, out=distances)
    return xp.sqrt(distances, out=distances)


def _rank_rdm(model: PreparedFeatures, distance: str) -> np.ndarray | GroupedMatrix:
    if distance == "correlation":
        _check_correlation_distance(model)
    # Exactly repeated examples must tie exactly (distance 0 between them, equal distances to
    # the others), not by rounding luck: the RDM is built on the distinct rows and expanded --
    # or, when they are few enough, ranked on them with multiplicities (``_grouped_ranks``).
    if model.is_tensor:
        distinct, inverse = unique_rows(model.data)
    else:
        groups = model_groups(model)
        distinct, inverse = model.data[groups.first], groups.inverse
    repeated = distinct.shape[0] < model.n
    rows = distinct if repeated else model.data
    rdm = _correlation_rdm(rows) if distance == "correlation" else _euclidean_rdm(rows)
    namespace(rdm).fill_diagonal(rdm, 0.0)
    if repeated and not model.is_tensor and grouping_pays(groups.k, groups.n):
        return _grouped_ranks(rdm, groups, model.name, distance)
    if repeated:
        rdm = rdm[inverse[:, None], inverse[None, :]]
    upper = upper_triangle(rdm)  # row-major i < j, the same order for every model
    del rdm
    ranks = rankdata(upper)
    ranks -= ranks.mean()
    norm = float(inner(ranks, ranks)) ** 0.5
    if not norm > 0.0:
        _all_equal(model.name, upper.shape[0], distance)
    return ranks / norm


def _all_equal(name: str, count: int, distance: str) -> None:
    raise InputError(
        f"{name}: all {count} pairwise {distance} dissimilarities are equal, so their rank "
        "correlation with another RDM is undefined"
    )


def _grouped_ranks(rdm: np.ndarray, groups: RowGroups, name: str, distance: str) -> GroupedMatrix:
    """The standardised ranks of the n(n−1)/2 dissimilarities, held on the k distinct rows.

    The pairs i < j are, for each two groups a < b, c_a c_b pairs of dissimilarity
    ``rdm[a, b]`` and, inside each group, c_a(c_a − 1)/2 pairs of dissimilarity 0: their
    average ranks come from one weighted ranking of k(k−1)/2 + 1 values (``average_ranks``),
    equal to those of the expanded vector. The mean rank is (N + 1)/2 for N = n(n−1)/2.
    """
    k, n = groups.k, groups.n
    counts = groups.counts
    upper = ~np.tri(k, dtype=bool)  # the entries a < b, row by row
    values = np.concatenate(([0.0], rdm[upper]))
    weights = np.concatenate(([int((counts * (counts - 1)).sum() // 2)],
                              np.outer(counts, counts)[upper]))
    ranks = average_ranks(values, weights)
    pairs = n * (n - 1) // 2
    ranks -= (pairs + 1) / 2.0
    norm = float(np.dot(weights * ranks, ranks)) ** 0.5
    if not norm > 0.0:
        _all_equal(name, pairs, distance)
    ranks /= norm
    matrix = np.zeros((k, k))
    matrix[upper] = ranks[1:]
    matrix += matrix.T
    np.fill_diagonal(matrix, ranks[0])
    return GroupedMatrix(groups, matrix, zero_diagonal=True)
