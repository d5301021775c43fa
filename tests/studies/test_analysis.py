"""The studies' analysis functions on constructed inputs whose answer is known."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pytest

from simfunc import InputError
from simfunc.studies.common import (all_pairs, discordant_fraction, relation_interval,
                                    relation_summary, slug)
from simfunc.studies.cross_dataset import group_means
from simfunc.studies.dataset_bias.jobs import confusion_shares, error_kinds
from simfunc.studies.relation import Relation
from simfunc.studies.serialise import from_json, to_json


def test_a_perfectly_monotone_relation_gives_rho_minus_one_and_no_violations():
    cka = np.linspace(0.2, 0.95, 12)
    jsd = 1.0 - cka**2  # strictly decreasing in CKA
    relation = relation_summary(cka, jsd, expected_sign=-1, n_permutations=2000, n_resamples=500)
    # points that are not pairs of networks: pair-level inference, and no interval that decides
    assert relation.inference == "pair-level" and relation.n == 12
    assert relation.rho == pytest.approx(-1.0)
    assert relation.pair_p_value < 0.01
    assert relation.discordant_fraction == 0.0
    assert relation.pair_ci[1] == pytest.approx(-1.0)
    assert relation.p_value is None and relation.ci is None
    assert relation_interval(relation)[0] is None


def test_a_relation_over_pairs_of_networks_has_network_level_p_and_interval():
    """Pairs of networks: the Relation's p and interval are network-level (relabelling and
    redrawing networks), the pair-level ones beside them; its JSON form is plain values."""
    rng = np.random.default_rng(0)
    names = [f"n{i}" for i in range(6)]
    a, b = zip(*[(names[i], names[j]) for i, j in all_pairs(6)])
    cka = rng.uniform(size=15)
    jsd = -cka + rng.normal(scale=0.1, size=15)
    relation = relation_summary(cka, jsd, -1, 500, 500, networks=(a, b))
    assert relation.inference == "network-level" and relation.network_level
    assert (relation.n, relation.n_networks, relation.statistic) == (15, 6, "pooled")
    assert relation.rho < -0.8 and relation.p_value is not None
    low, high = relation.ci
    assert low <= relation.rho <= high and relation_interval(relation) == ((low, high), None)
    assert relation.pair_ci is not None and relation.pair_p_value <= relation.p_value
    assert to_json(relation)["ci"] == [low, high] and to_json(relation)["expected_sign"] == -1


def test_reversed_relation_is_all_violations():
    x = np.arange(6.0)
    assert discordant_fraction(x, x, expected_sign=-1) == 1.0
    assert discordant_fraction(x, -x, expected_sign=-1) == 0.0
    # one swapped neighbour among 6 points breaks exactly 1 of the 15 pairs
    y = -x.copy()
    y[[2, 3]] = y[[3, 2]]
    assert discordant_fraction(x, y, expected_sign=-1) == pytest.approx(1 / 15)


def test_ties_in_y_count_half_and_constant_x_is_an_error():
    assert discordant_fraction([0.0, 1.0], [1.0, 1.0], expected_sign=-1) == 0.5
    with pytest.raises(InputError, match="constant"):
        discordant_fraction([1.0, 1.0, 1.0], [0.0, 1.0, 2.0], expected_sign=-1)


def test_relation_summary_reports_undefined_instead_of_nan():
    relation = relation_summary([0.1, 0.2, 0.3, 0.4], [0.5, 0.5, 0.5, 0.5], -1, 100, 100)
    assert relation.rho is None and "constant" in relation.undefined
    ci, why = relation_interval(relation)
    assert ci is None and "constant" in why


def test_error_kinds_separate_network_and_test_set_mistakes():
    test_sets = ["a", "a", "b", "b"]
    networks = ["n1", "n2", "n1", "n2"]
    # rows: held-out examples; column s: the set example i of set s was assigned to
    predicted = np.array([[2, 1, 2, 3],   # (a, n1) as (b, n1): same network
                          [0, 0, 2, 0],   # (a, n2) as (a, n1): same test set; (b, n2) as
                                          # (a, n1): neither
                          [0, 1, 0, 3],   # (b, n1) as (a, n1): same network
                          [0, 1, 2, 3]])  # no mistake
    kinds = error_kinds(predicted, test_sets, networks)
    assert kinds["errors"].tolist() == [1, 2, 1, 0]
    assert kinds["same_network"].tolist() == [1, 0, 1, 0]
    assert kinds["same_test_set"].tolist() == [0, 1, 0, 0]
    assert kinds["neither"].tolist() == [0, 1, 0, 0]
    shares = confusion_shares(kinds)
    assert shares == {"errors": 4.0, "same_network": 0.5, "same_test_set": 0.25,
                      "neither": 0.25}
    assert confusion_shares(error_kinds(np.tile(np.arange(4), (3, 1)), test_sets, networks)
                            ) == {"errors": 0.0, "same_network": 0.0, "same_test_set": 0.0,
                                  "neither": 0.0}


def test_group_means_of_a_block_matrix():
    roles = ["A", "A", "B", "B", "untrained"]
    matrix = np.array([
        [1.0, 0.9, 0.3, 0.3, 0.1],
        [0.9, 1.0, 0.3, 0.3, 0.1],
        [0.3, 0.3, 1.0, 0.8, 0.2],
        [0.3, 0.3, 0.8, 1.0, 0.2],
        [0.1, 0.1, 0.2, 0.2, 1.0],
    ])
    means = group_means(matrix, roles)
    assert means.within_A == pytest.approx(0.9)
    assert means.within_B == pytest.approx(0.8)
    assert means.within_training_set == pytest.approx(0.85)
    assert means.across_training_sets == pytest.approx(0.3)
    assert means.trained_vs_untrained == pytest.approx(0.15)
    assert means.within_untrained is None  # a single untrained network has no pair


def test_small_helpers():
    assert all_pairs(3) == [(0, 1), (0, 2), (1, 2)]
    assert slug("digits[0-4] / hi") == "digits-0-4-hi"


def test_the_linear_svm_is_one_vs_rest_and_separates_shifted_clusters():
    import numpy as np
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.svm import LinearSVC

    from simfunc.studies.dataset_bias.jobs import KERNEL_SVM_LIMIT, linear_svm

    assert isinstance(linear_svm(100, 0.1, 0), OneVsRestClassifier)
    assert isinstance(linear_svm(KERNEL_SVM_LIMIT + 1, 0.1, 0), LinearSVC)
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=3.0, size=(4, 20))
    X = np.concatenate([c + rng.normal(size=(30, 20)) for c in centres])
    y = np.repeat(np.arange(4), 30)
    for n_train in (len(X), KERNEL_SVM_LIMIT + 1):
        assert linear_svm(n_train, 0.1, 0).fit(X, y).score(X, y) > 0.95


@dataclass(frozen=True)
class Part:
    name: str
    interval: tuple[float, float] | None


@dataclass(frozen=True)
class Whole:
    relation: Relation
    parts: tuple[Part, ...]
    by_name: dict[str, float | None]
    count: int
    flag: bool


def test_a_result_reads_back_from_its_json_and_a_wrong_shape_is_refused():
    """summary.json is the typed result's serialisation: from_json(to_json(r)) == r, NaN
    written as null; a value of the wrong shape names where it is."""
    whole = Whole(
        relation=relation_summary(np.arange(8.0), np.arange(8.0) ** 2, 1, 100, 100),
        parts=(Part("a", (0.1, 0.2)), Part("b", None)), by_name={"x": 1.0, "y": None},
        count=3, flag=True)
    written = to_json(whole)
    assert written["parts"][0]["interval"] == [0.1, 0.2] and written["relation"]["rho"] == 1.0
    assert from_json(Whole, written) == whole
    assert to_json(Part("nan", (float("nan"), 1.0)))["interval"] == [None, 1.0]
    for where, change in (("Whole.count", {"count": "3"}), ("parts[1].interval", {
            "parts": [{"name": "a", "interval": None}, {"name": "b", "interval": [1.0]}]}),
            ("no field 'extra'", {"extra": 1}), ("by_name.x", {"by_name": {"x": "one"}})):
        with pytest.raises(InputError, match=re.escape(where.removeprefix("Whole."))):
            from_json(Whole, {**written, **change}, "Whole")
