"""The dataset-bias study's typed result: what its analysis computes, and what its prose,
scorecard rows and tests read. ``summary.json`` is its JSON form
(:func:`~simfunc.studies.serialise.to_json`; the framework adds ``"schema"``)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Confusions", "DatasetBiasResult"]


@dataclass(frozen=True)
class Confusions:
    """Where the SVM's mistakes go, as shares of all its mistakes (0 each when it made none):
    to the same network on another test set, to the same test set through another network, or
    to neither."""

    same_network: float
    same_test_set: float
    neither: float


@dataclass(frozen=True)
class DatasetBiasResult:
    """Everything the dataset-bias analysis computes.

    svm_accuracy (with its bootstrap interval over held-out rows, None when undefined) and
    chance (1 / the number of representation sets); confusions (where the mistakes go) with
    the interval of the same-network share; n_errors: the mistakes; other_network_rate: the
    share of held-out vectors assigned to another network, with its interval;
    representation_sets: their labels (test set _ network); features: the feature dimension;
    n_test_per_set: held-out rows per set.
    """

    svm_accuracy: float
    svm_accuracy_ci: tuple[float, float] | None
    chance: float
    confusions: Confusions
    same_network_share_ci: tuple[float, float] | None
    n_errors: int
    other_network_rate: float
    other_network_rate_ci: tuple[float, float] | None
    representation_sets: tuple[str, ...]
    features: int
    n_test_per_set: int
