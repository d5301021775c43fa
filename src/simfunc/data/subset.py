"""Deterministic, seeded, class-stratified subsets."""

from __future__ import annotations

import numpy as np

from simfunc.errors import InputError

__all__ = ["stratified_subset"]


def stratified_subset(labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Indices (sorted ascending) of ``size`` examples drawn class by class.

    Each class (label value; -1 for unlabelled counts as one class) gets
    ``floor(size * n_c / n)`` examples, and the remaining ones go to the classes with the
    largest fractional parts (ties broken by a seeded shuffle), so class proportions are kept
    to within one example. Within a class the examples are a seeded random choice without
    replacement. The same labels, size and seed always give the same indices.
    """
    labels = np.asarray(labels)
    total = len(labels)
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise InputError(f"subset must be a positive integer, got {size!r}")
    if size > total:
        raise InputError(f"subset={size} is larger than the {total} examples available")
    rng = np.random.default_rng(seed)
    values, counts = np.unique(labels, return_counts=True)
    exact = size * counts / total
    quota = np.floor(exact).astype(np.int64)
    remaining = size - int(quota.sum())
    if remaining:
        shuffle = rng.permutation(len(values))
        fractions = (exact - quota)[shuffle]
        order = shuffle[np.argsort(-fractions, kind="stable")]
        quota[order[:remaining]] += 1
    chosen = []
    for value, take in zip(values, quota):
        members = np.flatnonzero(labels == value)
        chosen.append(rng.choice(members, size=int(take), replace=False))
    return np.sort(np.concatenate(chosen))
