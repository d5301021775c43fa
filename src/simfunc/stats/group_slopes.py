"""``group_slopes``: does the slope of y on x depend on the group? Clusters, not points, as units.

Points (x_i, y_i) fall into groups (e.g. the architecture of a training run) and, within a
group, into clusters (the training run itself: a run's checkpoints are one unit, not many).
For each group g the least-squares slope over all its points,

    b_g = Σ_i∈g (x_i - x̄_g)(y_i - ȳ_g) / Σ_i∈g (x_i - x̄_g)²,

and for every group after the first its difference from the first, b_g - b_first.

**Cluster bootstrap** (Davison & Hinkley 1997, §3.8; Field & Welsh 2007 for the cluster
bootstrap of a regression). The points within a cluster are not independent (a training
run's checkpoints share its initialisation and its trajectory), so each resample redraws
*clusters*: within each group (and, with ``strata``, within each stratum of the group: a
fixed design factor such as the learning rate), as many clusters as it has, uniformly with
replacement; a cluster drawn k times contributes its points with weight k. The slopes and
differences are recomputed by weighted least squares on every resample, and the percentile
interval (Efron & Tibshirani 1993, ch. 13) of each is reported. The groups are redrawn
independently of each other, so the interval of a difference accounts for both groups'
spread. A resample whose drawn points of a group have a constant x has no slope for it; such
resamples are left out of that group's intervals (counted in ``notes``), and with more than
half of them left out there is no interval.

With few clusters per group (2 seeds × a few learning rates) every such interval is rough: a
percentile bootstrap of k units is too narrow by about a factor sqrt((k - 1) / k) and has only
a handful of distinct resamples when k is 2 or 3. It is the honest unit all the same; the
number of clusters is reported beside each interval.

References:
    A. C. Davison, D. V. Hinkley, "Bootstrap Methods and their Application", Cambridge
    University Press, 1997. C. A. Field, A. H. Welsh, "Bootstrapping clustered data", J. R.
    Stat. Soc. B 69(3), 2007. B. Efron, R. Tibshirani, "An Introduction to the Bootstrap",
    1993.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Hashable, Sequence

import numpy as np

from simfunc.errors import InputError
from simfunc.stats._inputs import as_paired, check_confidence, check_count, check_seed
from simfunc.stats.regression import linear_fit
from simfunc.stats.resampling import MIN_DEFINED_FRACTION, row_counts

__all__ = ["GroupSlope", "SlopeDifference", "GroupSlopes", "group_slopes"]

# Weighted x variance at or below this fraction of the group's observed one counts as constant.
_CONSTANT = 1e-12
# Point weights per batch of resamples: about 2 MiB of float64.
_BATCH_ELEMENTS = 1 << 18


@dataclass(frozen=True)
class GroupSlope:
    """One group's least-squares slope of y on x, with its cluster-bootstrap interval."""

    group: Hashable
    slope: float
    intercept: float
    ci: tuple[float, float] | None  # None when too few resamples define it (see notes)
    n_points: int
    n_clusters: int


@dataclass(frozen=True)
class SlopeDifference:
    """``slope(group) - slope(reference)`` with its cluster-bootstrap interval."""

    group: Hashable
    reference: Hashable
    difference: float
    ci: tuple[float, float] | None


@dataclass(frozen=True)
class GroupSlopes:
    """What :func:`group_slopes` returns (see the module docstring)."""

    slopes: tuple[GroupSlope, ...]
    differences: tuple[SlopeDifference, ...]
    confidence: float
    n_resamples: int
    seed: int | None
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (groups as strings, intervals as lists)."""

        def plain(item: Any) -> dict[str, Any]:
            values = asdict(item)
            for key in ("group", "reference"):
                if key in values:
                    values[key] = str(values[key])
            values["ci"] = None if values["ci"] is None else list(values["ci"])
            return values

        return {"slopes": [plain(s) for s in self.slopes],
                "differences": [plain(d) for d in self.differences],
                "confidence": self.confidence, "n_resamples": self.n_resamples,
                "seed": self.seed, "notes": list(self.notes)}


def _labels(values: Any, name: str, length: int) -> list[Hashable]:
    labels = list(values)
    if len(labels) != length:
        raise InputError(f"{name} has {len(labels)} labels but x has {length} values: one "
                         "label per point")
    for label in labels:
        try:
            hash(label)
        except TypeError:
            raise InputError(f"{name} holds an unhashable label {label!r}") from None
    return labels


def _codes(labels: Sequence[Hashable]) -> tuple[np.ndarray, list[Hashable]]:
    """Integer codes in order of first appearance, and the distinct labels in that order."""
    order = list(dict.fromkeys(labels))
    code = {label: k for k, label in enumerate(order)}
    return np.array([code[label] for label in labels], dtype=np.int64), order


def _nested(inner: np.ndarray, outer: np.ndarray, inner_name: str, outer_name: str) -> np.ndarray:
    """The outer code of each inner code; InputError when an inner group spans two outer ones."""
    out = np.full(int(inner.max()) + 1, -1, dtype=np.int64)
    for k in range(out.size):
        found = np.unique(outer[inner == k])
        if found.size != 1:
            raise InputError(f"a cluster lies in more than one {outer_name}: every cluster is "
                             f"redrawn whole, so all its points need one {outer_name}")
        out[k] = found[0]
    return out


def _weighted_slopes(x: np.ndarray, y: np.ndarray, weights: np.ndarray,
                     floor: float) -> np.ndarray:
    """Weighted least-squares slope of y on x for each row of ``weights`` (NaN where the
    weighted variance of x is at most ``floor``)."""
    total = weights.sum(axis=1)
    safe = np.where(total > 0, total, 1.0)
    mean_x = weights @ x / safe
    mean_y = weights @ y / safe
    centred = x[None, :] - mean_x[:, None]
    sxx = np.einsum("rn,rn->r", weights, centred ** 2)
    sxy = np.einsum("rn,rn->r", weights, centred * (y[None, :] - mean_y[:, None]))
    out = np.full(weights.shape[0], np.nan)
    np.divide(sxy, sxx, out=out, where=(total > 0) & (sxx > floor * np.maximum(total, 1.0)))
    return out


def _interval(values: np.ndarray, confidence: float) -> tuple[float, float] | None:
    defined = values[~np.isnan(values)]
    if defined.size < max(1, MIN_DEFINED_FRACTION * values.size):
        return None
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(defined, [tail, 1.0 - tail])
    return float(low), float(high)


def group_slopes(
    x: Any,
    y: Any,
    *,
    groups: Any,
    clusters: Any,
    strata: Any = None,
    n_resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int | None = 0,
) -> GroupSlopes:
    """The least-squares slope of y on x in each group, and each group's difference from the
    first group, with percentile intervals from a bootstrap that redraws clusters.

    Args:
        x, y: one value each per point (finite, equal lengths, at least 3).
        groups: one label per point: the groups whose slopes are compared (e.g. the
            architecture); the first group to appear is the reference of the differences.
        clusters: one label per point: the units the bootstrap redraws whole (e.g. the
            training run); every cluster lies within one group.
        strata: optional, one label per point: clusters are redrawn within each (group,
            stratum) cell, keeping each cell's number of clusters (a fixed design factor,
            e.g. the learning rate); every cluster lies within one stratum.
        n_resamples: bootstrap resamples, >= 1.
        confidence: coverage of the intervals, strictly between 0 and 1.
        seed: non-negative integer, or None for a fresh, irreproducible stream. Each batch of
            resamples draws, cell by cell in order of first appearance, an array
            ``rng.integers(0, m, size=(batch, m))`` of the cell's m clusters.

    Raises:
        InputError: bad values or options, label sequences of the wrong length, a cluster in
            two groups or strata, or a group whose x is constant (no slope).
    """
    x_values, y_values = as_paired(x, y)
    n = x_values.size
    n_resamples = check_count(n_resamples, "n_resamples")
    confidence = check_confidence(confidence)
    seed = check_seed(seed)
    group, group_order = _codes(_labels(groups, "groups", n))
    cluster, _ = _codes(_labels(clusters, "clusters", n))
    stratum = (np.zeros(n, dtype=np.int64) if strata is None
               else _codes(_labels(strata, "strata", n))[0])
    cluster_group = _nested(cluster, group, "clusters", "group")
    cell, _ = _codes(list(zip(cluster_group, _nested(cluster, stratum, "clusters", "stratum"))))

    observed = []
    for g, label in enumerate(group_order):
        mask = group == g
        if mask.sum() < 3:
            raise InputError(f"group {label!r} has {mask.sum()} points: a slope needs 3")
        try:
            slope, intercept = linear_fit(x_values[mask], y_values[mask])
        except InputError as error:
            raise InputError(f"group {label!r}: {error}") from None
        observed.append((slope, intercept, int(mask.sum()),
                         int(np.unique(cluster[mask]).size)))

    rng = np.random.default_rng(seed)
    floors = [_CONSTANT * float(np.var(x_values[group == g])) for g in range(len(group_order))]
    resampled = [[] for _ in group_order]
    step = max(1, _BATCH_ELEMENTS // n)
    for start in range(0, n_resamples, step):
        size = min(step, n_resamples - start)
        counts = np.zeros((size, cluster_group.size))
        for c in range(int(cell.max()) + 1):
            members = np.flatnonzero(cell == c)
            draws = members[rng.integers(0, members.size, size=(size, members.size))]
            counts += row_counts(draws, cluster_group.size)
        weights = counts[:, cluster]
        for g in range(len(group_order)):
            mask = group == g
            resampled[g].append(_weighted_slopes(x_values[mask], y_values[mask],
                                                 weights[:, mask], floors[g]))
    draws = [np.concatenate(parts) for parts in resampled]

    notes: list[str] = []
    slopes = []
    for g, label in enumerate(group_order):
        slope, intercept, n_points, n_clusters = observed[g]
        ci = _interval(draws[g], confidence)
        undefined = int(np.isnan(draws[g]).sum())
        if ci is None:
            notes.append(f"no interval for {label!r}: {undefined} of {n_resamples} resamples "
                         "drew only clusters with a constant x")
        elif undefined:
            notes.append(f"{undefined} of {n_resamples} resamples of {label!r} drew a constant x "
                         "and were left out of its interval")
        if n_clusters < 4:
            notes.append(f"{label!r} has only {n_clusters} clusters: its interval is rough")
        slopes.append(GroupSlope(label, slope, intercept, ci, n_points, n_clusters))
    differences = tuple(
        SlopeDifference(label, group_order[0], observed[g][0] - observed[0][0],
                        _interval(draws[g] - draws[0], confidence))
        for g, label in enumerate(group_order) if g > 0
    )
    return GroupSlopes(tuple(slopes), differences, confidence, n_resamples, seed, tuple(notes))
