"""``relate_networks``: a study's "rho, p, CI, slope" with networks, not pairs, as the units."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from simfunc.errors import InputError
from simfunc.stats._inputs import check_confidence, check_count, check_seed
from simfunc.stats.network import (
    bootstrap,
    check_combine,
    check_relabellable,
    observed_statistic,
    permutation_test,
)
from simfunc.stats.network_design import pair_design
from simfunc.stats.regression import linear_fit

__all__ = ["NetworkRelation", "relate_networks"]


@dataclass(frozen=True)
class NetworkRelation:
    """How y relates to x over the pairs of a set of networks, with network-level inference.

    Attributes:
        n_networks, n_pairs, n_blocks: the design's size.
        combine: ``"pooled"`` (one correlation over every pair) or ``"mean"`` (mean over
            blocks of the correlation within each block).
        spearman: Spearman's rho (pooled, or the mean over blocks).
        spearman_p: **network-level** two-sided Mantel permutation p-value of rho (networks
            relabelled within strata), or None when the design is too sparse (see notes).
        spearman_ci: **network-level** percentile bootstrap interval of rho (networks or
            clusters redrawn, self-pairs left out), or None when too few resamples have a
            defined rho (see notes).
        kendall: Kendall's tau-b (pooled, or the mean over blocks).
        kendall_p: **network-level** two-sided Mantel permutation p-value of tau-b, or None.
        pair_spearman_p, pair_kendall_p, pair_spearman_ci: the same at the **pair level**,
            treating the pairs as independent (y shuffled over / pairs redrawn within each
            block). Pairs that share networks are not independent, so these are too small /
            too narrow; they are kept for comparison with earlier results. For one block
            they equal ``stats.relate``'s ``spearman_p``, ``kendall_p``, ``spearman_ci``.
        slope, intercept: least-squares line y ~ slope x + intercept over all pairs.
        permutation: ``"exact"`` (every admissible relabelling enumerated) or
            ``"monte carlo"``; ``n_relabellings`` how many relabellings the network-level
            p-values used (Monte Carlo ones stop early once 100 are at least as extreme:
            Besag and Clifford's sequential rule, ``simfunc.stats.sequential``).
        design: ``"complete"`` (relabellings map the compared pairs onto themselves: the
            test is exact) or ``"partial"`` (evaluated over the pairs whose image was
            compared: approximate).
        n_resamples_used: network bootstrap resamples with a defined rho.
        confidence, n_permutations, n_resamples, seed: the settings that produced it.
        notes: why a value is None, or what to keep in mind when reading it.
    """

    n_networks: int
    n_pairs: int
    n_blocks: int
    combine: str
    spearman: float
    spearman_p: float | None
    spearman_ci: tuple[float, float] | None
    kendall: float
    kendall_p: float | None
    pair_spearman_p: float
    pair_spearman_ci: tuple[float, float] | None
    pair_kendall_p: float | None
    slope: float
    intercept: float
    permutation: str
    n_relabellings: int
    design: str
    n_resamples_used: int
    confidence: float
    n_permutations: int
    n_resamples: int
    seed: int | None
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (intervals and notes as lists)."""
        values = asdict(self)
        for key in ("spearman_ci", "pair_spearman_ci"):
            values[key] = None if values[key] is None else list(values[key])
        values["notes"] = list(self.notes)
        return values


def relate_networks(
    x: Any,
    y: Any,
    *,
    a: Any = None,
    b: Any = None,
    blocks: Any = None,
    combine: str = "pooled",
    strata: Any = None,
    clusters: Any = None,
    bootstrap_strata: Any = None,
    n_permutations: int = 10_000,
    n_resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int | None = 0,
    kendall_tests: bool = True,
) -> NetworkRelation:
    """Spearman's rho and Kendall's tau-b of y against x over pairs of networks, with
    network-level p-values (Mantel permutation test) and interval (network bootstrap), the
    pair-level ones beside them, and the least-squares slope.

    Every network appears in many pairs, so pairs are not independent; here the networks
    are the units (see ``simfunc.stats.network`` for both procedures, their formulas and
    references). All randomness comes from ``seed``.

    Inputs, either:

    * ``relate_networks(X, Y)``: two symmetric square matrices over the same networks
      (numpy/torch arrays in the same order, or pandas DataFrames labelled by network,
      aligned by label, e.g. from ``representational.pairwise``); every off-diagonal entry is
      a compared pair, the diagonal is ignored; or
    * ``relate_networks(x, y, a=model_a, b=model_b)``: the long form, one value of x and y
      per compared pair of networks ``a[k]``, ``b[k]`` (any hashable labels; order within a
      pair does not matter). Only the listed pairs were compared (missing pairs are allowed,
      see "partial" designs in ``simfunc.stats.network``); ``blocks`` (one label per pair)
      splits them into several pair matrices over shared networks, e.g. one per test set.

    Designs (each a mapping network label -> group, a dict or pandas Series; for matrices
    also a sequence in row order):

    * ``strata``: the permutation test relabels networks only within a group. Use it when
      pairs exist only within groups (e.g. agents compared only with agents trained on the
      same grid size), so every relabelling keeps the set of compared pairs.
    * ``clusters``: the bootstrap redraws a group whole (e.g. checkpoints of one training
      run: runs, not checkpoints, are the independent units). Default: each network alone.
    * ``bootstrap_strata``: the bootstrap redraws clusters within a group, keeping each
      group's number of clusters (a fixed design factor). Default: no grouping.
    * ``combine="mean"``: the statistic is the mean over blocks of the correlation within
      each block (e.g. the thesis's mean over MiniGrid cells).

    For example, MiniGrid cells (pairs within training grid size, on several test rooms):
    ``relate_networks(cka, jsd, a=..., b=..., blocks=cell, combine="mean",
    strata=train_size_of, bootstrap_strata=train_size_of)``; checkpoints against their final
    model, one block per run: ``blocks=run_of_pair, combine="mean", strata=(run, role) of
    each model, clusters=run_of_model``.

    Args:
        n_permutations: random relabellings (and pair shuffles) per p-value; when the
            admissible relabellings are no more than this, all are enumerated (exact p).
        n_resamples: bootstrap resamples per interval.
        confidence: coverage of the intervals, strictly between 0 and 1.
        seed: non-negative integer, or None for a fresh, irreproducible stream.
        kendall_tests: False skips Kendall's two permutation tests (``kendall_p`` and
            ``pair_kendall_p`` None; tau itself is still given). Every test draws from its own
            stream of ``seed``, so the Spearman numbers are the same either way.

    Raises:
        InputError: naming the argument: matrices not square, not symmetric, with NaN off
            the diagonal, of different sizes or labelling different networks; long-form
            sequences of different lengths, with NaN, a network paired with itself, or a
            pair listed twice in a block; fewer than 4 networks; fewer than 3 pairs or a
            constant x or y (in any block, for ``"mean"``); groupings that miss a network or
            split a cluster across bootstrap strata; strata that admit no relabelling; bad
            options.
    """
    combine = check_combine(combine)
    n_permutations = check_count(n_permutations, "n_permutations")
    n_resamples = check_count(n_resamples, "n_resamples")
    confidence = check_confidence(confidence)
    seed = check_seed(seed)
    design = pair_design(x, y, a, b, blocks=blocks, strata=strata, clusters=clusters,
                         bootstrap_strata=bootstrap_strata)
    design.check_defined(combine)
    check_relabellable(design)
    notes: list[str] = []
    if not design.complete:
        notes.append(
            "partial design: some relabellings send compared pairs onto pairs that were not "
            "compared; those are evaluated over the pairs compared in both, so the network-"
            "level p-values are approximate (strata under which the compared pairs are "
            "complete make them exact)"
        )

    def network_p(statistic: str):
        try:
            return permutation_test(design, statistic, combine, n_permutations, seed,
                                    "two-sided")
        except InputError as error:
            notes.append(f"no network-level {statistic} p-value: {error}")
            return None

    spearman_test = network_p("spearman")
    kendall_test = network_p("kendall") if kendall_tests else None
    network_bootstrap = bootstrap(design, "spearman", combine, n_resamples, seed)
    try:
        spearman_ci = network_bootstrap.interval(confidence, "spearman")
    except InputError as error:
        spearman_ci = None
        notes.append(f"no network-level interval: {error}")
    else:
        dropped = n_resamples - network_bootstrap.defined.size
        if dropped:
            notes.append(
                f"{dropped} of {n_resamples} network bootstrap resamples drew too few distinct "
                "networks for a defined rho (in some block) and were left out: the interval "
                "is conditional on the others"
            )
    pair_bootstrap = bootstrap(design, "spearman", combine, n_resamples, seed, level="pairs")
    try:
        pair_ci = pair_bootstrap.interval(confidence, "spearman")
    except InputError as error:
        pair_ci = None
        notes.append(f"no pair-level interval: {error}")
    slope, intercept = linear_fit(design.x, design.y)
    exact = spearman_test is not None and spearman_test.exact
    return NetworkRelation(
        n_networks=design.n_networks,
        n_pairs=design.n_pairs,
        n_blocks=design.n_blocks,
        combine=combine,
        spearman=observed_statistic(design, "spearman", combine),
        spearman_p=None if spearman_test is None else spearman_test.p,
        spearman_ci=spearman_ci,
        kendall=observed_statistic(design, "kendall", combine),
        kendall_p=None if kendall_test is None else kendall_test.p,
        pair_spearman_p=permutation_test(design, "spearman", combine, n_permutations, seed,
                                         "two-sided", level="pairs").p,
        pair_spearman_ci=pair_ci,
        pair_kendall_p=(permutation_test(design, "kendall", combine, n_permutations, seed,
                                         "two-sided", level="pairs").p
                        if kendall_tests else None),
        slope=slope,
        intercept=intercept,
        permutation="exact" if exact else "monte carlo",
        n_relabellings=0 if spearman_test is None else spearman_test.n_permutations,
        design="complete" if design.complete else "partial",
        n_resamples_used=int(network_bootstrap.defined.size),
        confidence=confidence,
        n_permutations=n_permutations,
        n_resamples=n_resamples,
        seed=seed,
        notes=tuple(notes),
    )
