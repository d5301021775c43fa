"""The cross-dataset study's typed result: what its analysis computes, and what its prose,
scorecard rows and tests read. ``summary.json`` is its JSON form
(:func:`~simfunc.studies.serialise.to_json`; the framework adds ``"schema"``)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

__all__ = ["CrossDatasetResult", "GroupMeans", "LayerResult", "TestSetResult",
           "TrainingSetContrast"]


@dataclass(frozen=True)
class GroupMeans:
    """Mean CKA of each kind of pair of networks (None where there is no such pair)."""

    within_A: float | None
    within_B: float | None
    within_training_set: float | None
    across_training_sets: float | None
    within_untrained: float | None
    trained_vs_untrained: float | None


@dataclass(frozen=True)
class TrainingSetContrast:
    """Mean CKA within training sets minus across them over the trained networks' pairs, with
    a one-sided Mantel p-value and a network-bootstrap interval
    (:class:`simfunc.stats.GroupContrast`'s fields: see it) — or, in ``undefined``, why there
    is none (then the other fields are None)."""

    within: float | None = None
    across: float | None = None
    difference: float | None = None
    p: float | None = None
    ci: tuple[float, float] | None = None
    alternative: str | None = None
    exact: bool | None = None
    n_relabellings: int | None = None
    smallest_p: float | None = None
    n_networks: int | None = None
    n_within: int | None = None
    n_across: int | None = None
    n_blocks: int | None = None
    n_resamples_used: int | None = None
    seed: int | None = None
    confidence: float | None = None
    n_permutations: int | None = None
    n_resamples: int | None = None
    notes: tuple[str, ...] = ()
    undefined: str | None = None

    @classmethod
    def of(cls, contrast: Any) -> TrainingSetContrast:
        """From a :class:`simfunc.stats.GroupContrast`."""
        values = {f.name: getattr(contrast, f.name) for f in fields(cls) if f.name != "undefined"}
        ci = values["ci"]
        values["ci"] = None if ci is None else (float(ci[0]), float(ci[1]))
        values["notes"] = tuple(values["notes"])
        return cls(**values)


@dataclass(frozen=True)
class TestSetResult:
    """One test set: its data set, the mean CKA of each kind of pair and the contrast."""

    __test__ = False  # not a pytest class

    dataset: str
    means: GroupMeans
    contrast: TrainingSetContrast


@dataclass(frozen=True)
class LayerResult:
    """One compared layer: each test set (A, B, C) and the contrast with every test set
    pooled (one block each)."""

    test_sets: dict[str, TestSetResult]
    pooled: TrainingSetContrast


@dataclass(frozen=True)
class CrossDatasetResult:
    """Everything the cross-dataset analysis computes.

    models: the networks in display order. layer: the headline layer (the first of the
    settings' layers). test_sets, pooled: the headline layer's (as in ``by_layer[layer]``).
    by_layer: every compared layer. same_training_set_more_similar_on_every_test_set: whether
    the headline difference is above 0 on every test set (a point reading, no interval).
    """

    models: tuple[str, ...]
    layer: str
    test_sets: dict[str, TestSetResult]
    pooled: TrainingSetContrast
    by_layer: dict[str, LayerResult]
    same_training_set_more_similar_on_every_test_set: bool
