"""Rank agreement between the output vectors of two models: the thesis's rank coefficient."""

from __future__ import annotations

from typing import Any

import numpy as np

from simfunc.functional._inputs import as_output_pair, check_reduction, per_example
from simfunc.ranking import centred_average_ranks, row_correlation

__all__ = ["spearman", "BOTH_CONSTANT", "ONE_CONSTANT"]

# A constant row ranks every class equal. Two constant rows agree that all classes tie;
# a constant row against a non-constant one expresses no rank association at all.
BOTH_CONSTANT = 1.0
ONE_CONSTANT = 0.0


def _rank_correlation(p_chunk: np.ndarray, q_chunk: np.ndarray) -> np.ndarray:
    # Ranking needs comparisons only, so each chunk is ranked in its stored dtype (exact);
    # the correlation of the ranks is computed in float64.
    return row_correlation(
        centred_average_ranks(p_chunk),
        centred_average_ranks(q_chunk),
        both_constant=BOTH_CONSTANT,
        one_constant=ONE_CONSTANT,
    )


def spearman(
    P: Any, Q: Any, from_logits: bool = False, reduction: str = "mean"
) -> float | np.ndarray:
    """Spearman rank correlation between the two output vectors of each example.

    For example i, ``ρ_i = corr(rank(P_i), rank(Q_i))``: the Pearson correlation of the
    average ranks of the k class scores (tied scores share their average rank), equal to
    ``scipy.stats.spearmanr(P[i], Q[i])``. The mean over examples is the "rank coefficient"
    of Yellapragada (2020). It lies in [-1, 1], is 1 when both rows order the classes the
    same way, and is symmetric.

    A constant row ranks all classes equal and has no rank correlation: by definition the
    value is ``BOTH_CONSTANT = 1`` when both rows of an example are constant (they agree
    that all classes tie) and ``ONE_CONSTANT = 0`` when exactly one is. It is never NaN.

    Softmax is strictly increasing, so with ``from_logits=True`` the logits are ranked
    directly (exactly; a float64 softmax could only add rounding ties).

    Reference: C. Spearman, "The proof and measurement of association between two things",
    Am. J. Psychol. 15(1), 1904; the rank coefficient of outputs: S. Yellapragada, "Are the
    proposed similarity metrics also a measure of functional similarity?", NYU, 2020.

    Invariances: the same permutation of the classes applied to P and Q; also any strictly
    increasing map of the scores of either input.

    Args:
        P, Q: (examples, classes) probabilities or, with ``from_logits=True``, logits;
            numpy or torch on any device. Validated like ``jsd``'s inputs.
        from_logits: P and Q hold logits.
        reduction: ``"mean"`` (Python float) or ``"none"`` (float64 array of length n).

    Raises:
        InputError: bad shapes, non-finite values, invalid probabilities or reduction.
    """
    reduction = check_reduction(reduction)
    P, Q = as_output_pair(P, Q, from_logits)
    return per_example(P, Q, _rank_correlation, reduction)
