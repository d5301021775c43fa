"""Statistics that relate two paired sequences, e.g. CKA and JSD over model pairs.

    spearman(x, y), kendall(x, y)            rank correlations (equal scipy.stats')
    permutation_pvalue(x, y, statistic=...)  seeded Monte Carlo permutation test
    bootstrap_ci(x, y, statistic=...)        seeded percentile bootstrap over pairs
    linear_fit(x, y) -> (slope, intercept)   least squares
    relate(x, y) -> Relation                 all of the above in one call

Inputs are finite one-dimensional sequences (lists, numpy, torch) of equal length >= 3;
anything else raises ``simfunc.InputError`` naming the argument.
"""

from __future__ import annotations

from simfunc.stats.correlation import kendall, spearman
from simfunc.stats.regression import linear_fit
from simfunc.stats.relation import Relation, relate
from simfunc.stats.resampling import bootstrap_ci, permutation_pvalue

__all__ = [
    "Relation",
    "bootstrap_ci",
    "kendall",
    "linear_fit",
    "permutation_pvalue",
    "relate",
    "spearman",
]
