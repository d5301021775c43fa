"""Mutual k-nearest-neighbour alignment (Huh, Cheung, Wang & Isola 2024, ICML, "The Platonic
Representation Hypothesis").

Each example's k nearest neighbours are found in each representation (cosine similarity of
L2-normalised rows, the example itself excluded); the score is the mean overlap of the two
neighbour sets. Neighbour sets depend on one representation only, so they are computed once
per representation (``pairwise`` reuses them), in blocks of rows with ``argpartition`` so that
memory stays bounded for large n.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simfunc.errors import InputError
from simfunc.validation import check_int

from ._prepared import Pair, PreparedFeatures, prepare_pair
from ._xp import is_tensor, namespace

__all__ = ["mutual_knn", "compare_mutual_knn", "nearest_neighbors"]

# Rows per block: the block's (rows × n) similarity matrix holds about 2**24 doubles (128 MiB).
_BLOCK_ELEMENTS = 2**24


def _check_k(k: Any, pair: Pair) -> int:
    k = check_int(k, "k", minimum=1)
    n = pair.n
    if k >= n:
        raise InputError(
            f"k must be smaller than the number of examples ({n}), got k={k}: {pair.x.name} and "
            f"{pair.y.name} have {n} example(s), and mutual k-NN with k={k} needs at least "
            f"{k + 1} (each example has only {n - 1} others to be neighbours with)"
        )
    return k


def mutual_knn(X: Any, Y: Any, k: int = 10) -> float:
    """Mutual k-NN alignment: ``(1/n) Σ_i |N_X(i) ∩ N_Y(i)| / k`` in [0, 1].

    ``N_X(i)``: the k examples j ≠ i with the largest inner product ``⟨x̂_i, x̂_j⟩`` of
    L2-normalised rows (no centring, as in Huh et al.'s ``mutual_knn``). Ties between exactly
    equal similarities are broken arbitrarily.

    Args:
        X, Y: (n, p) and (n, q) features of the same examples; no row may be all zeros.
        k: neighbours per example, 1 <= k < n.

    Invariances: isotropic scaling (indeed any per-example positive scaling), orthogonal
    transforms, feature permutations; not translation.
    """
    pair = prepare_pair(X, Y)
    return compare_mutual_knn(pair, k=k)


def nearest_neighbors(model: PreparedFeatures, k: int) -> np.ndarray:
    """(n, k) indices of each example's k nearest neighbours (unordered), cached per k."""
    return model.cached(("knn", k), lambda m: _nearest_neighbors(m, k))


def _nearest_neighbors(model: PreparedFeatures, k: int) -> np.ndarray:
    data = model.data
    if is_tensor(data):
        return _nearest_neighbors_torch(model, k)
    norms = np.sqrt(np.einsum("ij,ij->i", data, data))
    _check_no_zero_rows(model, norms)
    unit = data / norms[:, None]
    n = unit.shape[0]
    neighbours = np.empty((n, k), dtype=np.intp)
    block = max(1, _BLOCK_ELEMENTS // n)
    for start in range(0, n, block):
        stop = min(start + block, n)
        similarity = unit[start:stop] @ unit.T
        similarity[np.arange(stop - start), np.arange(start, stop)] = -np.inf  # not itself
        neighbours[start:stop] = np.argpartition(similarity, n - k, axis=1)[:, n - k :]
    return neighbours


def _check_no_zero_rows(model: PreparedFeatures, norms: Any) -> None:
    zero = norms == 0.0
    count = int(zero.sum())
    if count:
        raise InputError(
            f"{model.name} has {count} all-zero row(s), the first at example "
            f"{int((zero * 1).argmax())}: an all-zero example has no direction, so its "
            "neighbours are undefined"
        )


def _nearest_neighbors_torch(model: PreparedFeatures, k: int) -> Any:
    """The same neighbour sets computed by torch on the tensor's device (``topk``)."""
    import torch

    data = model.data
    norms = torch.sqrt(torch.einsum("ij,ij->i", data, data))
    _check_no_zero_rows(model, norms)
    unit = data / norms[:, None]
    n = unit.shape[0]
    neighbours = torch.empty((n, k), dtype=torch.long, device=unit.device)
    block = max(1, _BLOCK_ELEMENTS // n)
    for start in range(0, n, block):
        stop = min(start + block, n)
        similarity = unit[start:stop] @ unit.T
        rows = torch.arange(stop - start, device=unit.device)
        similarity[rows, rows + start] = -torch.inf  # not itself
        neighbours[start:stop] = torch.topk(similarity, k, dim=1).indices
    return neighbours


def compare_mutual_knn(pair: Pair, k: int = 10) -> float:
    k = _check_k(k, pair)
    sets_x, sets_y = nearest_neighbors(pair.x, k), nearest_neighbors(pair.y, k)
    xp = namespace(sets_x)
    both = xp.sort(xp.concatenate([sets_x, sets_y], axis=1), axis=1)
    # Each set has k distinct indices, so a repeated index is exactly a shared neighbour.
    shared = xp.count_nonzero(both[:, 1:] == both[:, :-1], axis=1)
    return float(np.clip(float(shared.sum()) / (pair.n * k), 0.0, 1.0))
