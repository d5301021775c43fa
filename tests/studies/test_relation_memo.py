"""relation_summary answers a relation asked for again from memory: exactly the same numbers,
keyed by the values and every setting (a changed value or setting is computed afresh)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from simfunc import stats
from simfunc.studies import common
from simfunc.studies.common import relation_summary


def _data(seed=0, n_networks=8):
    rng = np.random.default_rng(seed)
    a, b = np.triu_indices(n_networks, k=1)
    x = rng.random(a.size)
    y = -x + 0.3 * rng.random(a.size)
    return x, y, (list(a), list(b))


@pytest.fixture
def counted(monkeypatch):
    """How many times relate_networks really ran."""
    calls = []
    real = stats.relate_networks

    def spy(*args, **kwargs):
        calls.append(kwargs.get("kendall_tests", True))
        return real(*args, **kwargs)

    monkeypatch.setattr(common.stats, "relate_networks", spy)
    common._RELATIONS.clear()
    return calls


def test_a_repeated_relation_is_not_recomputed_and_is_the_same(counted):
    x, y, networks = _data()
    first = relation_summary(x, y, -1, 200, 200, 0, networks=networks)
    again = relation_summary(x.copy(), list(y), -1, 200, 200, 0, networks=networks)
    assert len(counted) == 1
    assert again == first


@pytest.mark.parametrize("change", ["x", "seed", "permutations", "networks", "design", "sign"])
def test_any_change_of_values_or_settings_is_computed_afresh(counted, change):
    x, y, networks = _data()
    relation_summary(x, y, -1, 200, 200, 0, networks=networks)
    args = dict(x=x, y=y, expected_sign=-1, n_permutations=200, n_resamples=200, seed=0,
                networks=networks, design=None)
    if change == "x":
        args["x"] = x + np.r_[1e-9, np.zeros(x.size - 1)]
    elif change == "seed":
        args["seed"] = 1
    elif change == "permutations":
        args["n_permutations"] = 201
    elif change == "networks":
        args["networks"] = (networks[1], networks[0])
    elif change == "design":
        args["design"] = {"blocks": [k % 2 for k in range(x.size)], "combine": "mean"}
    else:
        args["expected_sign"] = 1
    relation_summary(**args)
    assert len(counted) == 2


def test_kendall_tests_asked_for_after_a_run_without_them_are_computed(counted):
    x, y, networks = _data()
    without = relation_summary(x, y, -1, 200, 200, 0, networks=networks, kendall_tests=False)
    assert without.kendall_p is None and without.pair_kendall_p is None
    with_kendall = relation_summary(x, y, -1, 200, 200, 0, networks=networks)
    assert with_kendall.kendall_p is not None and with_kendall.pair_kendall_p is not None
    # ... and a run with them serves a later request without them
    relation_summary(x, y, -1, 200, 200, 0, networks=networks, kendall_tests=False)
    assert counted == [False, True]
    # the Spearman numbers do not depend on whether Kendall's tests ran
    strip = dict(kendall_p=None, pair_kendall_p=None)
    assert dataclasses.replace(with_kendall, **strip) == without
