"""Divergences between the output distributions of two models: Jensen–Shannon and KL."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from simfunc.functional._inputs import (
    as_output_pair,
    check_base,
    check_reduction,
    log_softmax,
    normalised,
    per_example,
)

__all__ = ["jsd", "kl"]

_LN2 = math.log(2.0)


def _sum_p_log_p_over_m(p: np.ndarray, total: np.ndarray) -> np.ndarray:
    """Per row, sum_c p_c log(p_c / m_c) with m = total / 2 = (p + q) / 2 and 0 log 0 = 0.

    Written as p log(2 p / total): total >= p > 0 wherever p > 0, even for subnormal
    values, where halving p + q first could round m to 0.
    """
    if p.min() > 0:
        ratio = p / total
    else:
        ratio = np.divide(p, total, out=np.full_like(p, 0.5), where=p > 0)  # 0 log 0 = 0
    ratio *= 2.0
    np.log(ratio, out=ratio)
    return np.einsum("ij,ij->i", p, ratio)


def _jsd_nats(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """JSD in nats of float64 probability rows."""
    total = p + q
    divergence = _sum_p_log_p_over_m(p, total)
    divergence += _sum_p_log_p_over_m(q, total)
    divergence *= 0.5
    return divergence


def _jsd_nats_from_probabilities(p_chunk: np.ndarray, q_chunk: np.ndarray) -> np.ndarray:
    return _jsd_nats(normalised(p_chunk), normalised(q_chunk))


def _jsd_nats_from_logits(p_chunk: np.ndarray, q_chunk: np.ndarray) -> np.ndarray:
    # exp of a float64 log-softmax; where it underflows to 0 the true term p log(p/m) is
    # below 1e-300, so the 0 log 0 = 0 convention loses nothing.
    return _jsd_nats(np.exp(log_softmax(p_chunk)), np.exp(log_softmax(q_chunk)))


def jsd(
    P: Any,
    Q: Any,
    base: float = 2.0,
    from_logits: bool = False,
    reduction: str = "mean",
) -> float | np.ndarray:
    """Jensen–Shannon divergence between the output distributions P and Q, per example.

    ``JSD(p, q) = ½ KL(p ‖ m) + ½ KL(q ‖ m)`` with ``m = ½ (p + q)`` and ``KL(p ‖ m) =
    Σ_c p_c log(p_c / m_c)``, logarithms in ``base``, and ``0 · log 0 = 0``. With base 2
    it lies in [0, 1]: 0 for identical rows, exactly 1 for rows with disjoint support
    (e.g. two different one-hot rows). It is symmetric, finite even where one
    distribution has zeros, and its square root is a metric.

    Reference: J. Lin, "Divergence measures based on the Shannon entropy", IEEE Trans.
    Inf. Theory 37(1), 1991.

    Invariances: the same permutation of the classes applied to P and Q.

    Args:
        P, Q: (examples, classes) arrays, numpy or torch on any device: probabilities (rows
            non-negative and summing to 1 within 1e-6; each row is renormalised to sum
            exactly 1 in float64), or logits with ``from_logits=True``, turned into
            probabilities by a numerically stable float64 log-softmax.
        base: logarithm base, > 0 and != 1 (2: bits, ``math.e``: nats).
        from_logits: P and Q hold logits (unnormalised log-probabilities).
        reduction: ``"mean"`` returns the mean over examples as a Python float; ``"none"``
            returns the per-example float64 array of length n.

    Raises:
        InputError: bad shapes, non-finite values, invalid probabilities, base or reduction.
    """
    reduction = check_reduction(reduction)
    base = check_base(base)
    P, Q = as_output_pair(P, Q, from_logits)
    scale = math.log(base)
    nats = _jsd_nats_from_logits if from_logits else _jsd_nats_from_probabilities

    def kernel(p_chunk: np.ndarray, q_chunk: np.ndarray) -> np.ndarray:
        divergence = nats(p_chunk, q_chunk)
        np.clip(divergence, 0.0, _LN2, out=divergence)  # rounding must not leave [0, ln 2]
        divergence /= scale
        return divergence

    return per_example(P, Q, kernel, reduction)


def _kl_nats_from_probabilities(p_chunk: np.ndarray, q_chunk: np.ndarray) -> np.ndarray:
    p = normalised(p_chunk)
    q = normalised(q_chunk)
    counted = p > 0  # 0 log(0 / q) = 0
    missing_support = counted & (q == 0)
    unbounded_rows = missing_support.any(axis=1)
    if unbounded_rows.any():
        counted &= ~missing_support
    ratio = np.divide(p, q, out=np.ones_like(p), where=counted)
    np.log(ratio, out=ratio)
    divergence = np.einsum("ij,ij->i", p, ratio)
    divergence[unbounded_rows] = np.inf  # p > 0 where q = 0: KL is +inf, never NaN
    return divergence


def _kl_nats_from_logits(p_chunk: np.ndarray, q_chunk: np.ndarray) -> np.ndarray:
    log_p = log_softmax(p_chunk)
    log_q = log_softmax(q_chunk)
    return np.einsum("ij,ij->i", np.exp(log_p), log_p - log_q)


def kl(
    P: Any,
    Q: Any,
    base: float = math.e,
    from_logits: bool = False,
    reduction: str = "mean",
) -> float | np.ndarray:
    """Kullback–Leibler divergence KL(P ‖ Q) between output distributions, per example.

    ``KL(p ‖ q) = Σ_c p_c log(p_c / q_c)``, natural logarithm by default (nats), with
    ``0 · log(0 / q) = 0``. It is >= 0, 0 only for identical rows, and **not symmetric**.
    Where Q has a zero in a class where P is positive the divergence is ``+inf`` (and so is
    the mean over examples); it is never NaN. Logits (``from_logits=True``) give strictly
    positive probabilities, so the result is then always finite.

    Reference: S. Kullback and R. A. Leibler, "On information and sufficiency", Ann. Math.
    Statist. 22(1), 1951.

    Invariances: the same permutation of the classes applied to P and Q.

    Args:
        P, Q: (examples, classes) probabilities (rows renormalised to sum exactly 1 in
            float64), or logits with ``from_logits=True`` (float64 log-softmax).
        base: logarithm base, > 0 and != 1; ``math.e`` (default) gives nats, 2 gives bits.
        from_logits: P and Q hold logits.
        reduction: ``"mean"`` (Python float) or ``"none"`` (float64 array of length n).

    Raises:
        InputError: bad shapes, non-finite values, invalid probabilities, base or reduction.
    """
    reduction = check_reduction(reduction)
    base = check_base(base)
    P, Q = as_output_pair(P, Q, from_logits)
    scale = math.log(base)
    nats = _kl_nats_from_logits if from_logits else _kl_nats_from_probabilities

    def kernel(p_chunk: np.ndarray, q_chunk: np.ndarray) -> np.ndarray:
        divergence = nats(p_chunk, q_chunk)
        np.maximum(divergence, 0.0, out=divergence)  # rounding must not make it negative
        divergence /= scale
        return divergence

    return per_example(P, Q, kernel, reduction)
