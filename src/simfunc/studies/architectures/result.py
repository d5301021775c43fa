"""The architectures study's typed result: what its analysis computes, and what its prose,
scorecard rows and tests read. ``summary.json`` is its JSON form
(:func:`~simfunc.studies.serialise.to_json`; the framework adds ``"schema"``)."""

from __future__ import annotations

from dataclasses import dataclass

from simfunc.studies.relation import Relation

__all__ = ["ArchitecturesResult", "UntrainedPairs"]


@dataclass(frozen=True)
class UntrainedPairs:
    """The pairs of untrained networks: their mean JSD, the range of their CKA, and the trained
    pairs' mean JSD to set it beside (None without trained pairs)."""

    mean_jsd: float
    cka_range: tuple[float, float]
    mean_jsd_trained: float | None


@dataclass(frozen=True)
class ArchitecturesResult:
    """Everything the architectures analysis computes.

    n_pairs, n_untrained_pairs: pairs of distinct trained / untrained networks.
    spearman_cka_vs_jsd, spearman_cka_vs_rank: the headline relations of JSD and of the rank
    coefficient to linear CKA over the trained pairs (network-level). untrained: the untrained
    pairs' series (None when the run has none). models: each trained network's test accuracy.
    """

    n_pairs: int
    n_untrained_pairs: int
    spearman_cka_vs_jsd: Relation
    spearman_cka_vs_rank: Relation
    untrained: UntrainedPairs | None
    models: dict[str, float | None]

    def relation(self, output: str) -> Relation:
        """The headline relation of ``output`` ("jsd" or "spearman") to CKA."""
        return {"jsd": self.spearman_cka_vs_jsd, "spearman": self.spearman_cka_vs_rank}[output]
