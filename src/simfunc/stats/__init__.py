"""Statistics that relate two paired sequences, e.g. CKA and JSD over model pairs.

    spearman(x, y), kendall(x, y)            rank correlations (equal scipy.stats')
    permutation_pvalue(x, y, statistic=...)  seeded Monte Carlo permutation test, sequential
                                             (stops once 100 draws are as extreme: Besag &
                                             Clifford 1991, simfunc.stats.sequential)
    bootstrap_ci(x, y, statistic=...)        seeded percentile bootstrap over pairs
    linear_fit(x, y) -> (slope, intercept)   least squares
    relate(x, y) -> Relation                 all of the above in one call

Inputs are finite one-dimensional sequences (lists, numpy, torch) of equal length >= 3;
anything else raises ``simfunc.InputError`` naming the argument
(``as_ranked_pair(x, y)`` applies exactly these checks and returns float64 arrays).

When x and y are values of *pairs of networks*, pairs that share a network are not
independent and the pair-level p-values and intervals above are too small and too narrow.
The network-level forms treat networks as the units (``simfunc.stats.network``):

    relate_networks(X, Y) -> NetworkRelation          two symmetric matrices, or
    relate_networks(x, y, a=..., b=...)               one value per pair (a[k], b[k])
    network_permutation_pvalue(...)                   Mantel test: relabel networks
    network_bootstrap_ci(...)                         bootstrap over networks, self-pairs out
    network_group_contrast(v, a, b, groups) -> GroupContrast   mean within groups - across,
                                                      Mantel p and network-bootstrap CI

    ratio_bootstrap_ci(numerators, denominators)      sum/sum, resampling independent units
    constant_reason(values)                           why a side cannot enter a correlation

When the units are clusters of points (a training run's checkpoints), ``group_slopes``
compares the least-squares slope of y on x between groups with a bootstrap over clusters:

    group_slopes(x, y, groups=..., clusters=...) -> GroupSlopes
"""

from __future__ import annotations

from simfunc.stats._inputs import as_ranked_pair
from simfunc.stats.correlation import kendall, spearman
from simfunc.stats.degenerate import constant_reason
from simfunc.stats.group_slopes import GroupSlopes, group_slopes
from simfunc.stats.network import network_bootstrap_ci, network_permutation_pvalue
from simfunc.stats.network_contrast import GroupContrast, network_group_contrast
from simfunc.stats.network_relation import NetworkRelation, relate_networks
from simfunc.stats.ratio import ratio_bootstrap_ci
from simfunc.stats.regression import linear_fit
from simfunc.stats.relation import Relation, relate
from simfunc.stats.resampling import bootstrap_ci, permutation_pvalue

__all__ = [
    "GroupContrast",
    "GroupSlopes",
    "NetworkRelation",
    "Relation",
    "as_ranked_pair",
    "bootstrap_ci",
    "constant_reason",
    "group_slopes",
    "kendall",
    "linear_fit",
    "network_bootstrap_ci",
    "network_group_contrast",
    "network_permutation_pvalue",
    "permutation_pvalue",
    "ratio_bootstrap_ci",
    "relate",
    "relate_networks",
    "spearman",
]
