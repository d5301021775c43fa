"""Network-level inference for a relation between two pairwise similarity structures.

When x and y are measured on *pairs* of networks (x = CKA of networks a and b, y = JSD of
their outputs), every network appears in many pairs. A network that is unusual shifts x (and
y) on all of its pairs at once, so the pairs are not independent: a permutation test that
shuffles pairs, or a bootstrap that redraws pairs, treats n(n - 1)/2 dependent values as
independent and gives p-values that are too small and intervals that are too narrow. The
independent units are the networks, and these procedures resample networks.

**Mantel permutation test** (Mantel 1967; used for representational similarity analysis by
Kriegeskorte et al. 2008 and Nili et al. 2014). Under the null hypothesis the y-values are
exchangeable over network labels independently of x: relabelling the networks of y by a
permutation pi gives ``y'_ab = y_{pi(a) pi(b)}``, and the statistic T (Spearman's rho,
Kendall's tau-b or Pearson's r over the pairs) is recomputed. With ``B`` random relabellings,

    p = (1 + #{b : |T_b| >= |T_obs|}) / (1 + B)          (two-sided; Phipson & Smyth 2010)

and when the number N of admissible relabellings is at most ``n_permutations`` all N are
enumerated (the identity among them) and ``p = #{pi : |T_pi| >= |T_obs|} / N`` exactly. A
relabelling moves whole rows and columns of the y matrix, so the dependence of pairs that
share a network is kept intact in every permuted copy; only the link between x and y is
broken. The test is exact (its size is at most alpha) whenever the networks are exchangeable.

**Network bootstrap** (the "bootstrap over conditions" of Nili et al. 2014; a cluster
bootstrap, Davison & Hinkley 1997, ch. 3 on hierarchical data). Draw n networks with
replacement, rebuild every pair of two *different draws* whose networks were compared, and
compute the statistic over those pairs. A network drawn k_a times and one drawn k_b times give
their pair k_a * k_b times (the statistic of a resample is that of the observed pairs with
integer weights w_ab = k_a k_b); the pair of a network with its own copy (a self-pair, which
was never measured) is left out. The percentile
interval of the statistic over the resamples is the confidence interval (Efron & Tibshirani
1993, ch. 13). This is written as integer weights on the observed pairs, never materialised.

Known behaviour: the network bootstrap errs on the wide side. A resample repeats some networks
and misses others (about 37%), and the pairs among repeated networks are repeated too, which
inflates the spread of the resampled statistic; Schütt et al. (2023, eLife 12:e82566) report
the same for bootstrapping stimuli in RSA. Under x_ab = u_a + u_b + e, y_ab = v_a + v_b + f the
95% interval covers the true rho about 99% of the time with 6 networks and 97-98% with 10-14
(BENCHMARKS.md, ``benchmarks/stats_calibration.py``), where the pair bootstrap covers 72-89%.
The interval is the plain percentile interval: BCa corrects bias and skewness, not this
inflation, so it is not offered. With very few networks many resamples draw too few distinct
networks for a correlation; they are left out (counted in ``relate_networks``' notes).

**Designs.** ``strata`` restricts the relabellings to permutations within groups of networks
(e.g. agents trained on one grid size are compared only with each other); ``blocks`` holds
several pair matrices over shared networks (e.g. the same agents on several test rooms),
related with one relabelling applied to every block; ``combine="mean"`` averages the
per-block statistics instead of pooling the pairs. ``clusters`` makes the bootstrap redraw
groups of networks whole (e.g. all checkpoints of one training run: the runs are the
independent units), and ``bootstrap_strata`` redraws clusters within groups (a fixed design
factor, such as the grid size, is kept fixed). A block whose pairs all lie within one cluster
is copied with that cluster (it counts k times in the mean when the cluster is drawn k times,
and not at all when it is not drawn); any other block is kept and its pairs rebuilt from the
drawn networks. Pairs between two copies of one cluster are left out, as self-pairs are.

**Missing pairs.** When not every pair is compared, a relabelling may send a compared pair
onto one that was not. If every within-stratum relabelling maps the compared pairs of each
block onto themselves (every pair compared, or every pair within each stratum, or every pair
between two strata) the design is *complete* and the test is exact. Otherwise it is
*partial*: each relabelling is evaluated over the pairs whose image was compared too, which
is an approximation; pass ``strata`` that make the design complete when the design allows it.

References:
    N. Mantel, "The detection of disease clustering and a generalized regression approach",
    Cancer Research 27(2), 1967. N. Kriegeskorte, M. Mur, P. Bandettini, "Representational
    similarity analysis - connecting the branches of systems neuroscience", Front. Syst.
    Neurosci. 2:4, 2008. H. Nili et al., "A toolbox for representational similarity
    analysis", PLoS Comput. Biol. 10(4):e1003553, 2014. B. Phipson, G. K. Smyth, "Permutation
    p-values should never be zero", Stat. Appl. Genet. Mol. Biol. 9(1), 2010. B. Efron,
    R. Tibshirani, "An Introduction to the Bootstrap", 1993. A. C. Davison, D. V. Hinkley,
    "Bootstrap Methods and their Application", 1997. H. H. Schütt, A. D. Kipnis,
    J. Diedrichsen, N. Kriegeskorte, "Statistical inference on representational geometries",
    eLife 12:e82566, 2023.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import permutations, product
from typing import Any, Iterator

import numpy as np

from simfunc.errors import InputError
from simfunc.stats._inputs import (
    check_alternative,
    check_confidence,
    check_count,
    check_seed,
)
from simfunc.stats.network_design import PairDesign, pair_design
from simfunc.stats.resampled_correlation import NETWORK_STATISTICS, correlation_rows
from simfunc.stats.resampling import MIN_DEFINED_FRACTION, row_counts
from simfunc.stats.sequential import (
    DEFAULT_STOP_AFTER,
    batch_schedule,
    check_stop_after,
    extreme_indicator,
    sequential_count,
)
from simfunc.validation import check_choice

__all__ = [
    "COMBINES",
    "NETWORK_STATISTICS",
    "network_bootstrap_ci",
    "network_permutation_pvalue",
]

COMBINES = ("pooled", "mean")
LEVELS = ("network", "pairs")
# Pair values per batch of rows: about 2 MiB of float64 per (rows, pairs) array.
_BATCH_ELEMENTS = 1 << 18


def _batch_rows(total: int, width: int) -> Iterator[int]:
    step = max(1, _BATCH_ELEMENTS // max(1, width))
    for start in range(0, total, step):
        yield min(step, total - start)


# ----------------------------------------------------------------------- the statistic


def design_statistics(
    design: PairDesign,
    statistic: str,
    combine: str,
    index: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    block_weights: np.ndarray | None = None,
) -> np.ndarray:
    """The statistic of each row of re-pairings ``index`` / pair weights ``weights``.

    ``"pooled"``: one correlation over all pairs. ``"mean"``: the correlation within each
    block, averaged over blocks with ``block_weights`` (rows, blocks) (default 1 each; a
    block of weight 0 is absent from that row). A row where a present block, or the pool,
    has no defined correlation gets NaN. Re-pairings never leave a block.
    """
    if combine == "pooled":
        return correlation_rows(design.x, design.y, statistic, index, weights)
    per_block = []
    for scope in design.block_slices():
        local_index = None
        if index is not None:
            local_index = index[:, scope]
            local_index = np.where(local_index >= 0, local_index - scope.start, -1)
        local_weights = None if weights is None else weights[:, scope]
        per_block.append(
            correlation_rows(design.x[scope], design.y[scope], statistic, local_index,
                             local_weights)
        )
    values = np.stack(np.broadcast_arrays(*per_block), axis=1)  # (rows, blocks)
    if block_weights is None:
        return values.mean(axis=1)
    present = block_weights > 0
    undefined = np.any(present & np.isnan(values), axis=1)
    total = block_weights.sum(axis=1)
    summed = np.einsum("rb,rb->r", block_weights, np.where(present, values, 0.0))
    out = np.full(values.shape[0], np.nan)
    np.divide(summed, total, out=out, where=(total > 0) & ~undefined)
    return out


def observed_statistic(design: PairDesign, statistic: str, combine: str) -> float:
    """The statistic on the data, by the same arithmetic as its permuted copies."""
    identity = np.arange(design.n_pairs)[None, :]
    return float(design_statistics(design, statistic, combine, index=identity)[0])


# ------------------------------------------------------------------------ permutations


@dataclass(frozen=True)
class PermutationOutcome:
    """A permutation test's p-value and how it was obtained."""

    statistic: float
    p: float
    exact: bool  # every admissible relabelling enumerated
    n_permutations: int  # relabellings (or re-pairings) with a defined statistic


def count_relabellings(design: PairDesign) -> int:
    """Admissible relabellings: the product over strata of (stratum size)!."""
    return math.prod(math.factorial(int(size)) for size in np.bincount(design.strata))


def check_relabellable(design: PairDesign) -> None:
    """Raise InputError when the strata admit no relabelling but the identity."""
    if count_relabellings(design) == 1:
        raise InputError(
            "strata put every network in a group of its own: no relabelling is admissible, "
            "so there is no permutation test"
        )


def _all_relabellings(design: PairDesign) -> np.ndarray:
    """Every within-stratum permutation, as (N, n) arrays ``pi`` (network i -> pi[i])."""
    groups = [np.flatnonzero(design.strata == s) for s in range(design.strata.max() + 1)]
    rows = []
    for choice in product(*(permutations(group) for group in groups)):
        pi = np.empty(design.n_networks, dtype=np.int64)
        for group, image in zip(groups, choice):
            pi[group] = image
        rows.append(pi)
    return np.array(rows)


def _random_relabellings(design: PairDesign, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` random within-stratum permutations (rows); strata in order, each stratum's
    networks shuffled by ``rng.permuted`` along the rows."""
    pi = np.tile(np.arange(design.n_networks), (size, 1))
    for s in range(design.strata.max() + 1):
        group = np.flatnonzero(design.strata == s)
        if group.size > 1:
            pi[:, group] = rng.permuted(np.tile(group, (size, 1)), axis=1)
    return pi


def relabelled_index(design: PairDesign, pi: np.ndarray) -> np.ndarray:
    """Row r, position k: the pair that pair k becomes when networks are relabelled by
    ``pi[r]`` (same block), or -1 where that pair was not compared."""
    a = pi[:, design.first]
    b = pi[:, design.second]
    n = design.n_networks
    table = design.pair_table
    if table is not None:  # a dense (block, network, network) -> pair lookup
        return table[(design.block * n + a) * n + b]
    wanted = design.pair_codes(np.minimum(a, b), np.maximum(a, b), design.block)
    codes = design.pair_codes(design.first, design.second, design.block)
    where = np.minimum(np.searchsorted(codes, wanted), codes.size - 1)
    return np.where(codes[where] == wanted, where, -1)


def _pair_shuffles(design: PairDesign, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` rows of pair-level re-pairings: y shuffled over the pairs within each block."""
    index = np.empty((size, design.n_pairs), dtype=np.int64)
    for scope in design.block_slices():
        pairs = np.arange(scope.start, scope.stop)
        index[:, scope] = rng.permuted(np.tile(pairs, (size, 1)), axis=1)
    return index


def permutation_test(
    design: PairDesign,
    statistic: str,
    combine: str,
    n_permutations: int,
    seed: int | None,
    alternative: str,
    level: str = "network",
    stop_after: int | None = DEFAULT_STOP_AFTER,
) -> PermutationOutcome:
    """The permutation test on a checked design (see the module docstring).

    ``level="network"`` relabels networks (Mantel); ``level="pairs"`` shuffles y over the
    pairs of each block, as if pairs were independent (anti-conservative when they share
    networks; kept for comparison). Random draws come from ``default_rng(seed)`` and stop
    early by Besag and Clifford's rule once ``stop_after`` are at least as extreme
    (:mod:`simfunc.stats.sequential`; None: never); an exact enumeration never stops early.
    """
    observed = observed_statistic(design, statistic, combine)
    rng = np.random.default_rng(seed)
    if level == "network":
        check_relabellable(design)
    exact = level == "network" and count_relabellings(design) <= n_permutations
    if exact:
        every = _all_relabellings(design)
        null_parts = []
        start = 0
        for size in _batch_rows(len(every), design.n_pairs):
            index = relabelled_index(design, every[start : start + size])
            null_parts.append(_null_rows(design, statistic, combine, index))
            start += size
        indicators = extreme_indicator(np.concatenate(null_parts), observed, alternative)
        defined = indicators[~np.isnan(indicators)]
        _check_enough_defined(defined.size, indicators.size, statistic)
        return PermutationOutcome(observed, float(defined.sum() / defined.size), True,
                                  int(defined.size))

    def batches() -> Iterator[np.ndarray]:
        cap = _BATCH_ELEMENTS // max(1, design.n_pairs)
        for size in batch_schedule(n_permutations, cap, stop_after):
            if level == "network":
                index = relabelled_index(design, _random_relabellings(design, size, rng))
            else:
                index = _pair_shuffles(design, size, rng)
            yield extreme_indicator(_null_rows(design, statistic, combine, index), observed,
                                    alternative)

    count = sequential_count(batches(), stop_after)
    _check_enough_defined(count.draws, count.attempted, statistic)
    return PermutationOutcome(observed, float(count.p), False, count.draws)


def _check_enough_defined(defined: int, attempted: int, statistic: str) -> None:
    if defined < max(1, MIN_DEFINED_FRACTION * attempted):
        raise InputError(
            f"only {defined} of {attempted} relabellings leave enough compared pairs for "
            f"a defined {statistic} correlation: the design is too sparse for a permutation "
            "test; give strata under which the compared pairs are complete"
        )


def _null_rows(design: PairDesign, statistic: str, combine: str, index: np.ndarray) -> np.ndarray:
    if np.all(index >= 0):
        return design_statistics(design, statistic, combine, index=index)
    weights = (index >= 0).astype(np.float64)
    return design_statistics(design, statistic, combine, index=index, weights=weights)


# --------------------------------------------------------------------------- bootstrap


@dataclass(frozen=True)
class BootstrapOutcome:
    """A bootstrap distribution; NaN where a resample's statistic is undefined."""

    values: np.ndarray

    @property
    def defined(self) -> np.ndarray:
        return self.values[~np.isnan(self.values)]

    def interval(self, confidence: float, statistic: str) -> tuple[float, float]:
        """Percentile interval, or InputError when fewer than half the resamples are defined."""
        defined = self.defined
        if defined.size < max(1, MIN_DEFINED_FRACTION * self.values.size):
            raise InputError(
                f"only {defined.size} of {self.values.size} bootstrap resamples have a defined "
                f"{statistic} correlation (the others drew too few distinct networks, or a "
                "constant side): too few for an interval; more networks are needed"
            )
        tail = (1.0 - confidence) / 2.0
        low, high = np.quantile(defined, [tail, 1.0 - tail])
        return float(low), float(high)


def _block_clusters(design: PairDesign) -> np.ndarray:
    """For each block, the cluster that holds all its networks, or -1 if there is none."""
    out = np.full(design.n_blocks, -1, dtype=np.int64)
    for k, scope in enumerate(design.block_slices()):
        found = np.unique(np.r_[design.clusters[design.first[scope]],
                                design.clusters[design.second[scope]]])
        if found.size == 1:
            out[k] = found[0]
    return out


def _cluster_counts(design: PairDesign, size: int, rng: np.random.Generator) -> np.ndarray:
    """(size, clusters): how often each cluster is drawn; in each bootstrap stratum in turn,
    as many clusters as it has, drawn with ``rng.integers`` (uniform, with replacement)."""
    n_clusters = design.cluster_strata.size
    counts = np.zeros((size, n_clusters), dtype=np.float64)
    for s in range(design.cluster_strata.max() + 1):
        members = np.flatnonzero(design.cluster_strata == s)
        draws = members[rng.integers(0, members.size, size=(size, members.size))]
        counts += row_counts(draws, n_clusters)
    return counts


def network_weights(
    design: PairDesign, counts: np.ndarray, block_clusters: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Pair weights and block weights of resamples that drew cluster c ``counts[:, c]`` times.

    A pair of networks in different clusters c, d is rebuilt once for every two draws of c
    and d: ``counts[c] * counts[d]`` times. A pair within one cluster c is rebuilt once per
    draw of c (``counts[c]``); a pair across two copies of one cluster (a self-pair, when
    clusters are single networks) is left out.
    """
    c_first = design.clusters[design.first]
    c_second = design.clusters[design.second]
    w_first = counts[:, c_first]
    w_second = counts[:, c_second]
    weights = np.where(c_first == c_second, w_first, w_first * w_second)
    block_weights = np.ones((counts.shape[0], design.n_blocks))
    within = block_clusters >= 0
    block_weights[:, within] = counts[:, block_clusters[within]]
    return weights, block_weights


def bootstrap(
    design: PairDesign,
    statistic: str,
    combine: str,
    n_resamples: int,
    seed: int | None,
    level: str = "network",
) -> BootstrapOutcome:
    """The bootstrap distribution on a checked design (see the module docstring).

    ``level="network"`` redraws networks (clusters); ``level="pairs"`` redraws the pairs of
    each block with replacement, as if they were independent (kept for comparison). Draws
    come from ``default_rng(seed)``; for one block the pair-level draws are those of
    ``simfunc.stats.bootstrap_ci``.
    """
    rng = np.random.default_rng(seed)
    block_clusters = _block_clusters(design)
    parts = []
    for size in _batch_rows(n_resamples, design.n_pairs):
        if level == "network":
            counts = _cluster_counts(design, size, rng)
            weights, block_weights = network_weights(design, counts, block_clusters)
        else:
            weights = np.zeros((size, design.n_pairs))
            for scope in design.block_slices():
                width = scope.stop - scope.start
                draws = rng.integers(0, width, size=(size, width))
                weights[:, scope] = row_counts(draws, width)
            block_weights = None
        parts.append(design_statistics(design, statistic, combine, weights=weights,
                                       block_weights=block_weights))
    return BootstrapOutcome(np.concatenate(parts))


# ---------------------------------------------------------------------- public functions


def check_statistic(statistic: Any) -> str:
    return check_choice(statistic, "statistic", NETWORK_STATISTICS)


def check_combine(combine: Any) -> str:
    return check_choice(combine, "combine", COMBINES)


def network_permutation_pvalue(
    x: Any,
    y: Any,
    *,
    a: Any = None,
    b: Any = None,
    blocks: Any = None,
    strata: Any = None,
    combine: str = "pooled",
    statistic: str = "spearman",
    n_permutations: int = 10_000,
    seed: int | None = 0,
    alternative: str = "two-sided",
    stop_after: int | None = DEFAULT_STOP_AFTER,
) -> float:
    """Mantel permutation p-value of the relation between two pairwise similarity structures.

    The networks of y are relabelled by random permutations (within ``strata``), the
    statistic recomputed over the pairs, and

        p = (1 + #{relabellings at least as extreme}) / (1 + n_permutations),

    unless ``stop_after`` relabellings at least as extreme come first, at relabelling L: the
    test then stops there with ``p = stop_after / L`` (Besag and Clifford's sequential rule,
    valid too; a p-value below about ``stop_after / n_permutations`` always uses every draw:
    see ``simfunc.stats.sequential``). When there are at most ``n_permutations`` admissible
    relabellings (the product of the strata's factorials: 5! = 120 for 5 networks), all of
    them are enumerated and ``p = #{at least as extreme} / N`` exactly. "At least as extreme" is ``|T| >= |T_obs|``
    for ``"two-sided"``, ``T >= T_obs`` for ``"greater"``, ``T <= T_obs`` for ``"less"``
    (within 1e-12). See ``simfunc.stats.network`` for the procedure, designs and
    references (Mantel 1967; Kriegeskorte et al. 2008; Nili et al. 2014).

    Args:
        x, y: two symmetric square matrices over the same networks (numpy or torch arrays,
            or pandas DataFrames labelled by network: aligned by label; the diagonal is
            ignored), or, with ``a`` and ``b``, one value per compared pair.
        a, b: the two networks of each pair (labels), for the long form.
        blocks: long form only: the block of each pair (one pair matrix per block, e.g. a
            test set); a relabelling applies to every block at once.
        strata: network label -> group (dict or Series; for matrices also a sequence in row
            order): networks are relabelled only within their group.
        combine: ``"pooled"`` (one correlation over every pair) or ``"mean"`` (the mean over
            blocks of the correlation within each block).
        statistic: ``"spearman"`` (rho), ``"kendall"`` (tau-b) or ``"pearson"`` (r).
        n_permutations: random relabellings, >= 1 (also the limit for exact enumeration).
        seed: non-negative integer, or None for a fresh, irreproducible stream.
        alternative: ``"two-sided"``, ``"greater"`` or ``"less"``.
        stop_after: Besag and Clifford's h, an integer >= 1, or None (draw them all).

    Raises:
        InputError: a bad design (see ``relate_networks``) or option, strata that admit no
            relabelling, or a design so sparse that most relabellings leave no correlation.
    """
    statistic = check_statistic(statistic)
    combine = check_combine(combine)
    n_permutations = check_count(n_permutations, "n_permutations")
    seed = check_seed(seed)
    alternative = check_alternative(alternative)
    stop_after = check_stop_after(stop_after)
    design = pair_design(x, y, a, b, blocks=blocks, strata=strata)
    design.check_defined(combine)
    return permutation_test(design, statistic, combine, n_permutations, seed, alternative,
                            stop_after=stop_after).p


def network_bootstrap_ci(
    x: Any,
    y: Any,
    *,
    a: Any = None,
    b: Any = None,
    blocks: Any = None,
    clusters: Any = None,
    bootstrap_strata: Any = None,
    combine: str = "pooled",
    statistic: str = "spearman",
    n_resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int | None = 0,
) -> tuple[float, float]:
    """Percentile confidence interval of the relation from a bootstrap over networks.

    Each resample draws the networks (or ``clusters`` of networks, within
    ``bootstrap_strata``) with replacement and rebuilds every compared pair of two distinct
    draws, leaving out self-pairs (a network with its own copy); the interval is the
    ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles of the statistic over the
    resamples (``numpy.quantile``, linear). Resamples without a defined statistic (too few
    distinct networks, a constant side) are dropped; if more than half are, InputError.
    With few networks the interval is conservative (a nominal 95% interval covered 97-99%
    with 6-14 networks in simulation, see BENCHMARKS.md). See ``simfunc.stats.network`` for
    the procedure and references.

    Args:
        x, y, a, b, blocks, combine, statistic, seed: as ``network_permutation_pvalue``.
        clusters: network label -> cluster: networks redrawn together (default: each alone).
        bootstrap_strata: network label -> group: clusters are redrawn within their group
            (as many as it has); every cluster must lie in one group. Default: one group.
        n_resamples: bootstrap resamples, >= 1.
        confidence: strictly between 0 and 1.

    Returns:
        ``(low, high)`` as Python floats.
    """
    statistic = check_statistic(statistic)
    combine = check_combine(combine)
    n_resamples = check_count(n_resamples, "n_resamples")
    confidence = check_confidence(confidence)
    seed = check_seed(seed)
    design = pair_design(x, y, a, b, blocks=blocks, clusters=clusters,
                         bootstrap_strata=bootstrap_strata)
    design.check_defined(combine)
    return bootstrap(design, statistic, combine, n_resamples, seed).interval(confidence,
                                                                             statistic)
