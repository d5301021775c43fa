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
    features). ``distance="euclidean"``: ``d_ij = ‖x_i − x_j‖`` (computed from the centred
    Gram matrix). Exactly repeated examples tie exactly (the RDM is built on the distinct
    examples); other near-ties are resolved by float64 rounding. Then
    ``spearman(upper(D_X), upper(D_Y))`` over the n(n−1)/2 pairs i < j, ties
    ranked by their average rank (as ``scipy.stats.spearmanr``).

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
    ranks_x = _standardised_ranks(pair.x, distance)
    ranks_y = _standardised_ranks(pair.y, distance)
    return float(np.clip(inner(ranks_x, ranks_y), -1.0, 1.0))


def _standardised_ranks(model: PreparedFeatures, distance: str) -> np.ndarray:
    return model.cached(("rsa_ranks", distance), lambda m: _rank_rdm(m, distance))


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
    centred = data - data.mean(axis=0)
    gram = centred @ centred.T
    sq_norms = xp.diagonal(gram)
    # r_i + r_j first, then − 2 g_ij: every step is symmetric in (i, j), so the matrix is
    # exactly symmetric and equal distances stay exactly equal.
    distances = sq_norms[:, None] + sq_norms[None, :]
    distances -= 2.0 * gram
    xp.maximum(distances, 0.0, out=distances)
    return xp.sqrt(distances, out=distances)


def _rank_rdm(model: PreparedFeatures, distance: str) -> np.ndarray:
    if distance == "correlation":
        _check_correlation_distance(model)
    # Exactly repeated examples must tie exactly (distance 0 between them, equal distances to
    # the others), not by rounding luck: the RDM is built on the distinct rows and expanded.
    distinct, inverse = unique_rows(model.data)
    repeated = distinct.shape[0] < model.n
    rows = distinct if repeated else model.data  # unique rows are sorted: keep the order
    rdm = _correlation_rdm(rows) if distance == "correlation" else _euclidean_rdm(rows)
    namespace(rdm).fill_diagonal(rdm, 0.0)
    if repeated:
        rdm = rdm[inverse[:, None], inverse[None, :]]
    upper = upper_triangle(rdm)  # row-major i < j, the same order for every model
    del rdm
    ranks = rankdata(upper)
    ranks -= ranks.mean()
    norm = float(inner(ranks, ranks)) ** 0.5
    if not norm > 0.0:
        raise InputError(
            f"{model.name}: all {upper.shape[0]} pairwise {distance} dissimilarities are equal, so "
            "their rank correlation with another RDM is undefined"
        )
    return ranks / norm
