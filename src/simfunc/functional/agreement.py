"""Agreement of the top-1 predictions of two models."""

from __future__ import annotations

from typing import Any

import numpy as np

from simfunc.functional._inputs import as_output_pair, check_reduction, per_example

__all__ = ["disagreement"]


def _argmax_differs(p_chunk: np.ndarray, q_chunk: np.ndarray) -> np.ndarray:
    return (p_chunk.argmax(axis=1) != q_chunk.argmax(axis=1)).astype(np.float64)


def disagreement(
    P: Any, Q: Any, from_logits: bool = False, reduction: str = "mean"
) -> float | np.ndarray:
    """Fraction of examples on which the two models predict different classes.

    Per example, ``d_i = 1[argmax_c P_ic != argmax_c Q_ic]`` (1.0 or 0.0); the mean is the
    disagreement rate in [0, 1]. A tie for the largest score resolves to the first (lowest)
    class index, as ``numpy.argmax`` does. Softmax is strictly increasing, so with
    ``from_logits=True`` the argmax of the logits is used directly.

    Reference: the prediction disagreement of e.g. Fort, Hu and Lakshminarayanan, "Deep
    ensembles: a loss landscape perspective", 2019.

    Invariances: the same permutation of the classes applied to P and Q, exactly when each
    row's largest score is unique (a tie is resolved by class index, which a permutation
    changes).

    Args:
        P, Q: (examples, classes) probabilities or, with ``from_logits=True``, logits;
            numpy or torch on any device. Validated like ``jsd``'s inputs.
        from_logits: P and Q hold logits.
        reduction: ``"mean"`` (Python float) or ``"none"`` (float64 array of 0.0 / 1.0).

    Raises:
        InputError: bad shapes, non-finite values, invalid probabilities or reduction.
    """
    reduction = check_reduction(reduction)
    P, Q = as_output_pair(P, Q, from_logits)
    return per_example(P, Q, _argmax_differs, reduction)
