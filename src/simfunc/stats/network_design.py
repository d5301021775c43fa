"""The pairs of networks a network-level test works on, read and checked once.

A *pair design* is what ``relate_networks`` and the network-level tests need to know about
the data: the networks (units), the compared pairs with their two values x and y, the block
each pair belongs to (a separate pair matrix, e.g. one MiniGrid cell), and three groupings of
the networks that say what may be exchanged or resampled:

* ``strata``: the permutation test exchanges networks only within a stratum;
* ``clusters``: the bootstrap redraws whole clusters (e.g. the checkpoints of one training run);
* ``bootstrap_strata``: the bootstrap redraws clusters within each of these strata.

It is read from two symmetric square matrices (numpy/torch arrays or labelled pandas
DataFrames) or from a long-form list of pairs ``(a, b, x, y)``, and put in a canonical order:
networks sorted by label, pairs sorted by (block, first network, second network). The result
does not depend on the order of the rows or of the matrices' labels.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Hashable, Sequence

import numpy as np
import pandas as pd

from simfunc.errors import InputError
from simfunc.stats._inputs import as_paired, check_not_constant
from simfunc.validation import to_numpy

__all__ = ["MIN_NETWORKS", "PairDesign", "pair_design"]

# With 3 networks there are 3 pairs and 6 relabellings: no test can reach p < 0.05, and a
# network bootstrap draws one or two distinct networks most of the time.
MIN_NETWORKS = 4
# Off-diagonal entries x[i, j] and x[j, i] that differ by more than this are not one pair's value.
_SYMMETRY_RTOL = 1e-9
_SYMMETRY_ATOL = 1e-12
_SHOWN = 5  # labels quoted in an error message
# Entries of the dense pair lookup table (128 MiB of int64); larger designs search sorted codes.
_MAX_TABLE = 1 << 24


@dataclass(frozen=True, eq=False)
class PairDesign:
    """Pairs of networks with two values each, in canonical order (see the module docstring).

    Attributes:
        labels: the network labels, sorted; network ``i`` is ``labels[i]``.
        first, second: (m,) indices of each pair's two networks, ``first < second``.
        x, y: (m,) float64 values of each pair.
        block: (m,) block index of each pair; pairs are sorted by (block, first, second).
        block_labels: the block labels, sorted (``(None,)`` for a single block).
        strata: (n,) permutation stratum of each network.
        clusters: (n,) bootstrap cluster of each network.
        cluster_strata: (number of clusters,) bootstrap stratum of each cluster.
        complete: True when every within-stratum relabelling maps the set of compared pairs
            of every block onto itself (the permutation test is then exact).
    """

    labels: tuple[Hashable, ...]
    first: np.ndarray
    second: np.ndarray
    x: np.ndarray
    y: np.ndarray
    block: np.ndarray
    block_labels: tuple[Hashable, ...]
    strata: np.ndarray
    clusters: np.ndarray
    cluster_strata: np.ndarray
    complete: bool

    @property
    def n_networks(self) -> int:
        return len(self.labels)

    @property
    def n_pairs(self) -> int:
        return int(self.x.size)

    @property
    def n_blocks(self) -> int:
        return len(self.block_labels)

    def block_slices(self) -> list[slice]:
        """The slice of pairs of each block (pairs are sorted by block)."""
        bounds = np.searchsorted(self.block, np.arange(self.n_blocks + 1))
        return [slice(int(lo), int(hi)) for lo, hi in zip(bounds[:-1], bounds[1:])]

    @cached_property
    def pair_table(self) -> np.ndarray | None:
        """Flat lookup ``(block * n + i) * n + j`` -> index of pair {i, j} in that block, -1
        where it was not compared; None when it would be too large (then codes are searched)."""
        n = self.n_networks
        size = self.n_blocks * n * n
        if size > _MAX_TABLE:
            return None
        table = np.full(size, -1, dtype=np.int64)
        pairs = np.arange(self.n_pairs)
        table[(self.block * n + self.first) * n + self.second] = pairs
        table[(self.block * n + self.second) * n + self.first] = pairs
        return table

    def pair_codes(self, first: np.ndarray, second: np.ndarray, block: np.ndarray) -> np.ndarray:
        """An integer per (block, first, second) with first < second, increasing in that order."""
        n = self.n_networks
        return (block.astype(np.int64) * n + first) * n + second

    def check_defined(self, combine: str) -> None:
        """Raise InputError unless the observed statistic is defined: at least 3 pairs and
        neither x nor y constant, over all pairs (``"pooled"``) or in every block (``"mean"``)."""
        scopes = [slice(0, self.n_pairs)] if combine == "pooled" else self.block_slices()
        for index, scope in enumerate(scopes):
            where = "" if combine == "pooled" else f" in block {self.block_labels[index]!r}"
            count = scope.stop - scope.start
            if count < 3:
                raise InputError(
                    f"x and y have {count} pair(s){where}: a rank correlation needs at least 3"
                )
            check_not_constant(self.x[scope], f"x{where}", "the correlation is undefined")
            check_not_constant(self.y[scope], f"y{where}", "the correlation is undefined")


# ----------------------------------------------------------------------------- reading


def pair_design(
    x: Any,
    y: Any,
    a: Any = None,
    b: Any = None,
    *,
    blocks: Any = None,
    strata: Any = None,
    clusters: Any = None,
    bootstrap_strata: Any = None,
) -> PairDesign:
    """Read and check the pairs (see ``relate_networks`` for the arguments).

    Raises:
        InputError: naming the argument, for anything that is not a valid design.
    """
    if (a is None) != (b is None):
        raise InputError("a and b must be given together (the two networks of each pair)")
    if a is None:
        if blocks is not None:
            raise InputError(
                "blocks needs the long form (a, b with one x and one y per pair): two "
                "matrices are one block"
            )
        labels, first, second, x_values, y_values, row_labels = _from_matrices(x, y)
        block = np.zeros(first.size, dtype=np.int64)
        block_labels: tuple[Hashable, ...] = (None,)
    else:
        labels, first, second, x_values, y_values, block, block_labels = _from_pairs(
            x, y, a, b, blocks
        )
        row_labels = None
    n = len(labels)
    if n < MIN_NETWORKS:
        raise InputError(
            f"x and y compare {n} networks: network-level inference needs at least "
            f"{MIN_NETWORKS}"
        )
    strata_codes = _grouping(strata, "strata", labels, row_labels, alone=False)
    cluster_codes = _grouping(clusters, "clusters", labels, row_labels, alone=True)
    cluster_strata = _cluster_strata(
        _grouping(bootstrap_strata, "bootstrap_strata", labels, row_labels, alone=False),
        cluster_codes,
    )
    return PairDesign(
        labels=labels,
        first=first,
        second=second,
        x=x_values,
        y=y_values,
        block=block,
        block_labels=block_labels,
        strata=strata_codes,
        clusters=cluster_codes,
        cluster_strata=cluster_strata,
        complete=_closed_under_strata(first, second, block, strata_codes),
    )


def _canonical(label: Any, name: str) -> Hashable:
    """A label as a plain Python value (numpy scalars unwrapped), or InputError."""
    if isinstance(label, np.generic):
        label = label.item()
    if label is None or (isinstance(label, float) and np.isnan(label)):
        raise InputError(f"{name} holds a missing label ({label!r}): every network needs one")
    try:
        hash(label)
    except TypeError:
        raise InputError(f"{name} holds an unhashable label {label!r}") from None
    return label


def _sort_key(label: Hashable) -> tuple[str, Any]:
    return (type(label).__name__, label)


def _sorted_labels(labels: Sequence[Hashable]) -> tuple[Hashable, ...]:
    try:
        return tuple(sorted(set(labels), key=_sort_key))
    except TypeError:  # labels of one type that do not compare
        return tuple(sorted(set(labels), key=lambda v: (type(v).__name__, repr(v))))


def _as_labels(values: Any, name: str, length: int | None = None) -> list[Hashable]:
    problem = values is None or isinstance(values, (str, bytes, Mapping)) or (
        isinstance(values, (np.ndarray, pd.DataFrame)) and values.ndim != 1)
    if not problem:
        try:
            items = list(values)
        except TypeError:
            problem = True
    if problem:
        raise InputError(f"{name} must be a one-dimensional sequence of labels, got {values!r}")
    out = [_canonical(value, name) for value in items]
    if length is not None and len(out) != length:
        raise InputError(f"{name} has {len(out)} labels but x has {length} values: one per pair")
    return out


def _square(value: Any, name: str) -> tuple[np.ndarray, list[Hashable] | None]:
    """A square float64 matrix and its labels (None for an unlabelled array)."""
    labels = None
    if isinstance(value, pd.DataFrame):
        index = [_canonical(v, f"{name}.index") for v in value.index]
        columns = [_canonical(v, f"{name}.columns") for v in value.columns]
        if len(set(index)) != len(index):
            raise InputError(f"{name}.index has repeated labels: each network once")
        if set(columns) != set(index) or len(columns) != len(index):
            raise InputError(
                f"{name}'s columns and index name different networks: a similarity matrix "
                "has the same networks, once each, on both axes"
            )
        value = value.loc[:, list(value.index)]
        labels = index
    array = to_numpy(value, name)
    if array.ndim != 2 or array.shape[0] != array.shape[1]:
        raise InputError(
            f"{name} has shape {array.shape}: expected a square (networks, networks) matrix, "
            "or pass the long form with a= and b="
        )
    array = array.astype(np.float64)
    n = array.shape[0]
    off_diagonal = ~np.eye(n, dtype=bool)
    if not np.all(np.isfinite(array[off_diagonal])):
        bad = np.argwhere(~np.isfinite(array) & off_diagonal)[0]
        raise InputError(
            f"{name} has a missing or infinite value off the diagonal, the first at "
            f"{tuple(int(i) for i in bad)}: a matrix must hold every pair; for designs where "
            "not every pair is compared pass the long form (a=, b=) with the compared pairs"
        )
    upper = np.triu_indices(n, k=1)
    asymmetric = ~np.isclose(
        array[upper], array.T[upper], rtol=_SYMMETRY_RTOL, atol=_SYMMETRY_ATOL
    )
    if asymmetric.any():
        k = int(np.flatnonzero(asymmetric)[0])
        i, j = int(upper[0][k]), int(upper[1][k])
        where = (labels[i], labels[j]) if labels is not None else (i, j)
        raise InputError(
            f"{name} is not symmetric: {name}[{where[0]!r}, {where[1]!r}] = {array[i, j]:.6g} "
            f"but {name}[{where[1]!r}, {where[0]!r}] = {array[j, i]:.6g}; symmetrise an "
            "asymmetric measure first (e.g. (M + M.T) / 2)"
        )
    return array, labels


def _from_matrices(x: Any, y: Any):
    x_matrix, x_labels = _square(x, "x")
    y_matrix, y_labels = _square(y, "y")
    if x_matrix.shape != y_matrix.shape:
        raise InputError(
            f"x has shape {x_matrix.shape} but y has {y_matrix.shape}: both matrices must "
            "compare the same networks"
        )
    n = x_matrix.shape[0]
    if x_labels is not None and y_labels is not None:
        if set(x_labels) != set(y_labels):
            only_x = [v for v in x_labels if v not in set(y_labels)][:_SHOWN]
            only_y = [v for v in y_labels if v not in set(x_labels)][:_SHOWN]
            raise InputError(
                f"x and y label different networks: only in x {only_x}, only in y {only_y}"
            )
        position = {label: i for i, label in enumerate(y_labels)}
        order = [position[label] for label in x_labels]
        y_matrix = y_matrix[np.ix_(order, order)]
    row_labels = x_labels or y_labels or list(range(n))
    labels = _sorted_labels(row_labels)
    row_of = {label: row for row, label in enumerate(row_labels)}
    source = np.array([row_of[label] for label in labels])  # canonical order -> matrix row
    first, second = np.triu_indices(n, k=1)
    x_values = x_matrix[source[first], source[second]]
    y_values = y_matrix[source[first], source[second]]
    return labels, first.astype(np.int64), second.astype(np.int64), x_values, y_values, row_labels


def _from_pairs(x: Any, y: Any, a: Any, b: Any, blocks: Any):
    x_values, y_values = as_paired(x, y)
    m = x_values.size
    a_labels = _as_labels(a, "a", m)
    b_labels = _as_labels(b, "b", m)
    for row, (left, right) in enumerate(zip(a_labels, b_labels)):
        if left == right:
            raise InputError(
                f"a and b name the same network {left!r} in pair {row}: a network is not "
                "compared with itself"
            )
    labels = _sorted_labels(a_labels + b_labels)
    rank = {label: i for i, label in enumerate(labels)}
    i = np.array([rank[v] for v in a_labels], dtype=np.int64)
    j = np.array([rank[v] for v in b_labels], dtype=np.int64)
    first, second = np.minimum(i, j), np.maximum(i, j)
    if blocks is None:
        block = np.zeros(m, dtype=np.int64)
        block_labels: tuple[Hashable, ...] = (None,)
    else:
        block_values = _as_labels(blocks, "blocks", m)
        block_labels = _sorted_labels(block_values)
        block_rank = {label: k for k, label in enumerate(block_labels)}
        block = np.array([block_rank[v] for v in block_values], dtype=np.int64)
    n = len(labels)
    codes = (block * n + first) * n + second
    order = np.argsort(codes, kind="stable")
    codes = codes[order]
    repeated = np.flatnonzero(codes[1:] == codes[:-1])
    if repeated.size:
        k = order[repeated[0] + 1]  # the later of the two rows
        where = "" if blocks is None else f" in block {block_labels[block[k]]!r}"
        raise InputError(
            f"the pair ({a_labels[k]!r}, {b_labels[k]!r}) appears more than once{where}: "
            "give each pair once per block (e.g. pass blocks= for one matrix per test set)"
        )
    return (labels, first[order], second[order], x_values[order], y_values[order],
            block[order], block_labels)


def _grouping(
    mapping: Any,
    name: str,
    labels: tuple[Hashable, ...],
    row_labels: list[Hashable] | None,
    alone: bool,
) -> np.ndarray:
    """Group index (0, 1, ...) of each network; when ``mapping`` is None, each network in a
    group of its own (``alone``) or all in one group.

    ``mapping`` is a Mapping or pandas Series from network label to group label; for matrix
    input also a sequence aligned with the matrix rows.
    """
    n = len(labels)
    if mapping is None:
        return np.arange(n, dtype=np.int64) if alone else np.zeros(n, dtype=np.int64)
    if isinstance(mapping, pd.Series):
        mapping = {_canonical(k, f"{name} index"): v for k, v in mapping.items()}
    elif not isinstance(mapping, Mapping):
        if row_labels is None:
            raise InputError(
                f"{name} must map each network label to its group (a dict or pandas Series), "
                f"got {type(mapping).__name__}"
            )
        values = _as_labels(mapping, name)
        if len(values) != len(row_labels):
            raise InputError(
                f"{name} has {len(values)} entries but the matrices have {len(row_labels)} "
                "rows: one group per network, in the rows' order"
            )
        mapping = dict(zip(row_labels, values))
    else:
        mapping = {_canonical(k, f"{name} key"): v for k, v in mapping.items()}
    missing = [label for label in labels if label not in mapping]
    if missing:
        raise InputError(
            f"{name} has no group for {len(missing)} network(s), e.g. {missing[:_SHOWN]}"
        )
    groups = [_canonical(mapping[label], name) for label in labels]
    order = _sorted_labels(groups)
    code = {group: k for k, group in enumerate(order)}
    return np.array([code[group] for group in groups], dtype=np.int64)


def _cluster_strata(network_strata: np.ndarray, clusters: np.ndarray) -> np.ndarray:
    """The bootstrap stratum of each cluster; every cluster must lie within one stratum."""
    n_clusters = int(clusters.max()) + 1
    out = np.full(n_clusters, -1, dtype=np.int64)
    for cluster in range(n_clusters):
        found = np.unique(network_strata[clusters == cluster])
        if found.size != 1:
            raise InputError(
                "bootstrap_strata splits a cluster: every cluster is redrawn whole, so all its "
                "networks must be in the same bootstrap stratum"
            )
        out[cluster] = found[0]
    return out


def _closed_under_strata(
    first: np.ndarray, second: np.ndarray, block: np.ndarray, strata: np.ndarray
) -> bool:
    """True when, in every block and for every two strata s <= t, either every pair of
    distinct networks with one in s and one in t was compared or none was: then every
    within-stratum relabelling maps the compared pairs onto themselves."""
    sizes = np.bincount(strata)
    s = strata[first]
    t = strata[second]
    low, high = np.minimum(s, t), np.maximum(s, t)
    frame = pd.DataFrame({"block": block, "low": low, "high": high})
    counts = frame.groupby(["block", "low", "high"]).size().reset_index(name="count")
    n_low = sizes[counts["low"].to_numpy()]
    n_high = sizes[counts["high"].to_numpy()]
    same = counts["low"].to_numpy() == counts["high"].to_numpy()
    possible = np.where(same, n_low * (n_low - 1) // 2, n_low * n_high)
    return bool(np.all(counts["count"].to_numpy() == possible))
