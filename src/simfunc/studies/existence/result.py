"""The existence study's typed result: what its analysis computes, and what its prose,
scorecard rows and tests read. ``summary.json`` is its JSON form
(:func:`~simfunc.studies.serialise.to_json`; the framework adds ``"schema"``)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ControlRow", "ExistenceResult", "SweepRow"]


@dataclass(frozen=True)
class SweepRow:
    """Net1 against Net2 (flipped labels) at one d_ratio: the kept dimensions, linear CKA and
    R²_CCA of the base features (before masking) and of the masked ones, the output measures
    (JSD in bits, the rank coefficient, disagreement) and each net's test accuracy (Net2's
    against the flipped labels). None where a measure was not recorded."""

    d_ratio: float
    kept: int
    cka_base: float | None
    cca_base: float | None
    cka_masked: float | None
    cca_masked: float | None
    jsd: float | None
    rank: float | None
    disagreement: float | None
    accuracy_net1: float | None
    accuracy_net2: float | None


@dataclass(frozen=True)
class ControlRow:
    """Net1 against the control net (true labels through Net2's mask) at one d_ratio: the same
    measures, and the control's accuracy."""

    d_ratio: float
    cka_base: float | None
    cca_base: float | None
    cka_masked: float | None
    cca_masked: float | None
    jsd: float | None
    rank: float | None
    disagreement: float | None
    accuracy_control: float | None


@dataclass(frozen=True)
class ExistenceResult:
    """Everything the existence analysis computes: the base network's test accuracy, the input
    size (pixels per side) and feature dimension, and the sweep (Net1 vs Net2, and Net1 vs the
    control) in d_ratio order."""

    base_accuracy: float | None
    input_size: int | None
    feature_dim: int | None
    rows: tuple[SweepRow, ...]
    controls: tuple[ControlRow, ...]
