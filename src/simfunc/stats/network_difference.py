"""The difference of one statistic between two independent sets of networks, with a
network-bootstrap interval.

Two sets of networks (e.g. agents trained without and with a bottleneck: different networks,
trained independently), each with its own compared pairs, give one statistic each:

* ``"spearman"`` / ``"kendall"``: the rank correlation of y with x over the set's pairs
  (``combine="pooled"``), or its mean over blocks (``combine="mean"``: e.g. the mean over
  MiniGrid cells), exactly as :func:`simfunc.stats.relate_networks` computes ``spearman``;
* ``"slope_cv"``: how alike the blocks' least-squares slopes of y on x are, as the
  coefficient of variation over blocks, ``std(slopes, ddof=1) / |mean(slopes)|`` (at least two
  blocks; undefined when the mean slope is 0, and unstable near it);
* ``"slope_sd"``: the same spread on a common scale that does not divide by the mean:
  ``std(slopes * s_x / s_y, ddof=1)`` over blocks, with s_x, s_y the standard deviations of
  x and y over all the set's pairs (a standardized slope; invariant to rescaling x or y).

The quantity is ``D = T(second) - T(first)``. Its interval comes from a bootstrap that redraws
each set's networks (or clusters of networks, within bootstrap strata) independently, exactly
as the network bootstrap of :mod:`simfunc.stats.network` does for one set (pairs of two
distinct draws rebuilt, self-pairs left out, a pair counted ``k_a k_b`` times), recomputes
both statistics and takes their difference. Because the sets are independent, resampling them
independently gives the sampling distribution of the difference (Efron & Tibshirani 1993,
ch. 8, two-sample problems; the network bootstrap of Nili et al. 2014 within each sample).
A resample in which either statistic is undefined (a block left with too few distinct
networks, a constant side, a mean slope of 0) is left out; with fewer than half of them
defined there is no interval and ``notes`` says so. Like every network bootstrap the interval
errs on the wide side with few networks.

In a resample, the slope of a block is the weighted least-squares slope
``sum w (x - xbar_w)(y - ybar_w) / sum w (x - xbar_w)^2`` with the pairs' bootstrap counts as
weights (the slope of the expanded sample).

References: B. Efron, R. Tibshirani, "An Introduction to the Bootstrap", 1993. H. Nili et
al., "A toolbox for representational similarity analysis", PLoS Comput. Biol. 10(4):e1003553,
2014.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from simfunc.errors import InputError
from simfunc.stats._inputs import check_confidence, check_count, check_seed
from simfunc.stats.network import (
    _batch_rows,
    _block_clusters,
    _cluster_counts,
    check_combine,
    design_statistics,
    network_weights,
)
from simfunc.stats.network_design import PairDesign, pair_design
from simfunc.stats.resampling import MIN_DEFINED_FRACTION
from simfunc.validation import check_choice

__all__ = ["PairSample", "NetworkDifference", "DIFFERENCE_STATISTICS", "network_difference"]

DIFFERENCE_STATISTICS = ("spearman", "kendall", "slope_cv", "slope_sd")


@dataclass(frozen=True)
class PairSample:
    """One set of networks and its compared pairs, in the long form of
    :func:`simfunc.stats.relate_networks`: one x and one y per pair of networks ``a[k]``,
    ``b[k]``; ``blocks`` (one label per pair), ``clusters`` (network -> cluster redrawn whole)
    and ``bootstrap_strata`` (network -> group within which clusters are redrawn) as there."""

    x: Any
    y: Any
    a: Any
    b: Any
    blocks: Any = None
    clusters: Any = None
    bootstrap_strata: Any = None

    def design(self) -> PairDesign:
        return pair_design(self.x, self.y, self.a, self.b, blocks=self.blocks,
                           clusters=self.clusters, bootstrap_strata=self.bootstrap_strata)


@dataclass(frozen=True)
class NetworkDifference:
    """``second - first`` of one statistic, with its network-bootstrap interval.

    Attributes:
        statistic, combine: what was computed (see the module docstring).
        first, second: the statistic of each set; difference: ``second - first``.
        ci: percentile interval of the difference, or None (see notes).
        n_resamples_used: resamples in which both statistics were defined.
        confidence, n_resamples, seed: the settings that produced it.
        notes: why ``ci`` is None, or what to keep in mind when reading it.
    """

    statistic: str
    combine: str
    first: float
    second: float
    difference: float
    ci: tuple[float, float] | None
    n_resamples_used: int
    confidence: float
    n_resamples: int
    seed: int | None
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["ci"] = None if self.ci is None else list(self.ci)
        values["notes"] = list(self.notes)
        return values


def _slopes(design: PairDesign, weights: np.ndarray | None) -> np.ndarray:
    """(rows, blocks) weighted least-squares slope of y on x in each block (NaN where the
    block has no weight or no spread in x)."""
    rows = 1 if weights is None else weights.shape[0]
    out = np.full((rows, design.n_blocks), np.nan)
    for k, scope in enumerate(design.block_slices()):
        x, y = design.x[scope], design.y[scope]
        w = np.ones((rows, x.size)) if weights is None else weights[:, scope]
        total = w.sum(axis=1, keepdims=True)
        safe = np.where(total > 0, total, 1.0)
        dx = x[None, :] - (w @ x)[:, None] / safe
        dy = y[None, :] - (w @ y)[:, None] / safe
        sxx = np.einsum("rk,rk->r", w, dx * dx)
        sxy = np.einsum("rk,rk->r", w, dx * dy)
        scale = max(1.0, float(np.max(np.abs(x))) ** 2) * 1e-12
        ok = (total[:, 0] > 0) & (sxx > scale)
        out[ok, k] = sxy[ok] / sxx[ok]
    return out


def _coefficient_of_variation(slopes: np.ndarray) -> np.ndarray:
    """(rows,) std(ddof=1) / |mean| over blocks; NaN with a NaN slope, one block or mean 0."""
    if slopes.shape[1] < 2:
        return np.full(slopes.shape[0], np.nan)
    mean = slopes.mean(axis=1)
    std = slopes.std(axis=1, ddof=1)
    out = np.full(slopes.shape[0], np.nan)
    ok = np.isfinite(mean) & (np.abs(mean) > 0)
    out[ok] = std[ok] / np.abs(mean[ok])
    return out


def _standardized(design: PairDesign, weights: np.ndarray | None,
                  slopes: np.ndarray) -> np.ndarray:
    """``slopes * s_x / s_y`` with s_x, s_y the weighted standard deviations of x and y over
    every pair of each row (NaN where y has no spread)."""
    w = np.ones((slopes.shape[0], design.n_pairs)) if weights is None else weights
    total = w.sum(axis=1)
    safe = np.where(total > 0, total, 1.0)
    spread = []
    for values in (design.x, design.y):
        mean = (w @ values) / safe
        spread.append(np.sqrt(np.einsum("rk,rk->r", w, (values[None, :] - mean[:, None]) ** 2)
                              / safe))
    ratio = np.full(slopes.shape[0], np.nan)
    ok = spread[1] > 0
    ratio[ok] = spread[0][ok] / spread[1][ok]
    return slopes * ratio[:, None]


def _statistic(design: PairDesign, statistic: str, combine: str,
               weights: np.ndarray | None = None,
               block_weights: np.ndarray | None = None) -> np.ndarray:
    if statistic in ("slope_cv", "slope_sd"):
        slopes = _slopes(design, weights)
        if block_weights is not None:  # a block copied with its cluster, drawn 0 times: absent
            slopes = np.where(block_weights > 0, slopes, np.nan)
        if statistic == "slope_cv":
            return _coefficient_of_variation(slopes)
        if slopes.shape[1] < 2:
            return np.full(slopes.shape[0], np.nan)
        return _standardized(design, weights, slopes).std(axis=1, ddof=1)
    if weights is None:
        weights = np.ones((1, design.n_pairs))
    return design_statistics(design, statistic, combine, weights=weights,
                             block_weights=block_weights)


def _resampled(design: PairDesign, statistic: str, combine: str, n_resamples: int,
               rng: np.random.Generator) -> np.ndarray:
    block_clusters = _block_clusters(design)
    parts = []
    for size in _batch_rows(n_resamples, design.n_pairs):
        counts = _cluster_counts(design, size, rng)
        weights, block_weights = network_weights(design, counts, block_clusters)
        parts.append(_statistic(design, statistic, combine, weights, block_weights))
    return np.concatenate(parts)


def network_difference(first: PairSample, second: PairSample, *, statistic: str = "spearman",
                       combine: str = "mean", n_resamples: int = 10_000,
                       confidence: float = 0.95, seed: int | None = 0) -> NetworkDifference:
    """``T(second) - T(first)`` and its network-bootstrap percentile interval (see the module
    docstring for T, the bootstrap and references).

    Args:
        first, second: the two independent sets (:class:`PairSample`).
        statistic: ``"spearman"``, ``"kendall"``, ``"slope_cv"`` or ``"slope_sd"``.
        combine: for a correlation, ``"pooled"`` or ``"mean"`` (over blocks); ignored by
            the slope statistics, which are always over blocks.
        n_resamples: bootstrap resamples, >= 1. confidence: strictly between 0 and 1.
        seed: non-negative integer (the two sets draw from independent streams spawned from
            it), or None for a fresh, irreproducible stream.

    Raises:
        InputError: naming the argument: a set that is not a valid design (see
            ``relate_networks``), a statistic undefined on the data (a block with fewer than
            3 pairs or a constant side; for ``"slope_cv"`` fewer than 2 blocks or a mean slope
            of 0), bad options.
    """
    statistic = check_choice(statistic, "statistic", DIFFERENCE_STATISTICS)
    combine = check_combine(combine)
    n_resamples = check_count(n_resamples, "n_resamples")
    confidence = check_confidence(confidence)
    seed = check_seed(seed)
    designs = []
    observed = []
    for name, sample in (("first", first), ("second", second)):
        if not isinstance(sample, PairSample):
            raise InputError(f"{name} must be a PairSample, got {type(sample).__name__}")
        design = sample.design()
        design.check_defined("mean" if statistic.startswith("slope") else combine)
        value = float(_statistic(design, statistic, combine)[0])
        if not np.isfinite(value):
            raise InputError(f"{name}: the {statistic} is undefined (fewer than 2 blocks, or, "
                             "for slope_cv, a mean slope of 0)")
        designs.append(design)
        observed.append(value)
    streams = [np.random.default_rng(child) for child in np.random.SeedSequence(seed).spawn(2)]
    draws = [_resampled(design, statistic, combine, n_resamples, rng)
             for design, rng in zip(designs, streams)]
    differences = draws[1] - draws[0]
    defined = differences[np.isfinite(differences)]
    notes: list[str] = []
    ci: tuple[float, float] | None = None
    if defined.size < max(1, MIN_DEFINED_FRACTION * n_resamples):
        notes.append(f"no network-level interval: only {defined.size} of {n_resamples} "
                     f"bootstrap resamples have both {statistic}s defined (the others drew too "
                     "few distinct networks in some block); more networks are needed")
    else:
        tail = (1.0 - confidence) / 2.0
        low, high = np.quantile(defined, [tail, 1.0 - tail])
        ci = (float(low), float(high))
        if defined.size < n_resamples:
            notes.append(f"{n_resamples - defined.size} of {n_resamples} resamples had an "
                         f"undefined {statistic} and were left out: the interval is "
                         "conditional on the others")
    return NetworkDifference(
        statistic=statistic, combine=combine, first=observed[0], second=observed[1],
        difference=observed[1] - observed[0], ci=ci, n_resamples_used=int(defined.size),
        confidence=confidence, n_resamples=n_resamples, seed=seed, notes=tuple(notes))
