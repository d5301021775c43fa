"""The checkpoints study's typed result: what its analysis computes, and what its prose,
scorecard rows and tests read. ``summary.json`` is its JSON form
(:func:`~simfunc.studies.serialise.to_json`; the framework adds ``"schema"``)."""

from __future__ import annotations

from dataclasses import dataclass

from simfunc.studies.relation import Relation

__all__ = ["ArchitectureSlope", "CheckpointsResult", "RunResult", "SlopeDifference", "Slopes"]


@dataclass(frozen=True)
class ArchitectureSlope:
    """The least-squares slope of JSD on CKA over one architecture's checkpoints, with its
    interval from redrawing runs within each (architecture, learning rate) cell (None when too
    few resamples define it); r_squared: the share of their JSD's variance the line explains."""

    group: str
    slope: float
    intercept: float
    ci: tuple[float, float] | None
    n_points: int
    n_clusters: int
    r_squared: float


@dataclass(frozen=True)
class SlopeDifference:
    """``slope(group) − slope(reference)``, its interval redrawing runs within each
    (architecture, learning rate) cell, and beside it (``any_lr_ci``) the interval when runs
    are redrawn regardless of their learning rate."""

    group: str
    reference: str
    difference: float
    ci: tuple[float, float] | None
    any_lr_ci: tuple[float, float] | None


@dataclass(frozen=True)
class Slopes:
    """Each architecture's slope and each one's difference from the first — or, in
    ``undefined``, why there are none (then the other fields are empty)."""

    slopes: tuple[ArchitectureSlope, ...] = ()
    differences: tuple[SlopeDifference, ...] = ()
    confidence: float | None = None
    n_resamples: int | None = None
    seed: int | None = None
    notes: tuple[str, ...] = ()
    undefined: str | None = None


@dataclass(frozen=True)
class RunResult:
    """One training run: its final model's test accuracy, its untrained network's (epoch 0)
    CKA and JSD against it, the Spearman ρ within the run of each relation and the slope of
    JSD on CKA over its checkpoints (None where undefined)."""

    run: str
    arch: str
    lr: float
    final_accuracy: float | None
    n_checkpoints: int
    cka_epoch0: float | None
    jsd_epoch0: float | None
    rho_epoch_vs_cka: float | None
    rho_epoch_vs_jsd: float | None
    rho_cka_vs_jsd: float | None
    slope: float | None


@dataclass(frozen=True)
class CheckpointsResult:
    """Everything the checkpoints analysis computes.

    n_runs, n_pairs: training runs, and checkpoints compared with their run's final model.
    epoch_vs_cka, epoch_vs_jsd, cka_vs_jsd: the headline relations, each the mean over runs of
    the Spearman ρ within a run (runs redrawn). slopes: the slope of JSD on CKA per
    architecture. runs: each run's own numbers, by run name.
    """

    n_runs: int
    n_pairs: int
    epoch_vs_cka: Relation
    epoch_vs_jsd: Relation
    cka_vs_jsd: Relation
    slopes: Slopes
    runs: dict[str, RunResult]

    def relation(self, key: str) -> Relation:
        """``"epoch_vs_cka"``, ``"epoch_vs_jsd"`` or ``"cka_vs_jsd"``."""
        return {"epoch_vs_cka": self.epoch_vs_cka, "epoch_vs_jsd": self.epoch_vs_jsd,
                "cka_vs_jsd": self.cka_vs_jsd}[key]
