"""Within-group against across-group contrast with networks as the units, and the ratio
bootstrap: each against a loop that enumerates or rebuilds every case."""

from __future__ import annotations

from itertools import combinations, permutations

import numpy as np
import pytest

from simfunc import InputError, stats
from simfunc.stats import network


def grouped_pairs(sizes, rng, effect=0.3, blocks=("t",)):
    """Pairs of networks in groups g0, g1, ... (``sizes`` networks each): value = effect if
    same group, plus a per-network offset and noise, in every block."""
    labels = [f"g{g}n{k}" for g, size in enumerate(sizes) for k in range(size)]
    group = {label: label.split("n")[0] for label in labels}
    offset = {label: rng.normal(scale=0.2) for label in labels}
    rows = [(i, j, block, effect * (group[i] == group[j]) + offset[i] + offset[j]
             + rng.normal(scale=0.1))
            for block in blocks for i, j in combinations(labels, 2)]
    a, b, block, value = (list(column) for column in zip(*rows))
    return labels, group, a, b, block, np.array(value)


def difference(a, b, value, group):
    same = np.array([group[i] == group[j] for i, j in zip(a, b)])
    return value[same].mean() - value[~same].mean()


@pytest.mark.parametrize("sizes, blocks", [((3, 3), ("t",)), ((3, 2), ("t", "u")),
                                           ((2, 2, 2), ("t",))])
@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_mantel_p_of_the_difference_is_the_exact_enumeration(sizes, blocks, alternative):
    """Every relabelling of the networks (the same in every block), the difference of means
    recomputed on each: the exact p, and the share that reproduce the data is smallest_p."""
    labels, group, a, b, block, value = grouped_pairs(sizes, np.random.default_rng(4),
                                                      blocks=blocks)
    got = stats.network_group_contrast(value, a, b, group, blocks=block,
                                       alternative=alternative)
    observed = difference(a, b, value, group)
    lookup = {(bl, frozenset((i, j))): v for i, j, bl, v in zip(a, b, block, value)}
    null = []
    for image in permutations(labels):
        rename = dict(zip(labels, image))
        moved = np.array([lookup[bl, frozenset((rename[i], rename[j]))]
                          for i, j, bl in zip(a, b, block)])
        null.append(difference(a, b, moved, group))
    null = np.array(null)
    extreme = {"two-sided": np.abs(null) >= abs(observed) - 1e-12,
               "greater": null >= observed - 1e-12,
               "less": null <= observed + 1e-12}[alternative]
    assert got.exact and got.n_relabellings == len(null)
    assert got.p == pytest.approx(extreme.mean(), abs=1e-12)
    assert got.difference == pytest.approx(observed, abs=1e-12)
    assert got.smallest_p == pytest.approx(np.mean(np.abs(null - observed) < 1e-12))
    assert got.n_within + got.n_across == len(value)


def test_smallest_p_for_two_groups_of_three_and_of_four():
    rng = np.random.default_rng(0)
    for sizes, smallest in (((3, 3), 0.1), ((4, 4), 1 / 35)):
        _, group, a, b, _, value = grouped_pairs(sizes, rng, effect=2.0)
        got = stats.network_group_contrast(value, a, b, group, alternative="greater",
                                           n_permutations=50_000)
        assert got.smallest_p == pytest.approx(smallest)
        assert got.p == pytest.approx(smallest)  # a strong effect: only the group swaps tie


def test_network_bootstrap_equals_rebuilding_each_resample(monkeypatch):
    """Each group's networks redrawn (groups in sorted order, networks sorted within), every
    pair of two distinct draws rebuilt, the difference of means recomputed."""
    monkeypatch.setattr(network, "_BATCH_ELEMENTS", 1 << 30)  # one batch: draws as the loop's
    labels, group, a, b, block, value = grouped_pairs((3, 4), np.random.default_rng(7),
                                                      blocks=("t", "u"))
    got = stats.network_group_contrast(value, a, b, group, blocks=block, n_resamples=400,
                                       confidence=0.9, seed=5)
    rng = np.random.default_rng(5)
    members = {g: sorted(n for n in labels if group[n] == g) for g in sorted(set(group.values()))}
    drawn = {g: rng.integers(0, len(m), size=(400, len(m))) for g, m in members.items()}
    lookup = {(bl, frozenset((i, j))): v for i, j, bl, v in zip(a, b, block, value)}
    values = []
    for r in range(400):
        copies = [members[g][k] for g in members for k in drawn[g][r]]
        within, across = [], []
        for bl in ("t", "u"):
            for i, j in combinations(copies, 2):
                if i != j:
                    (within if group[i] == group[j] else across).append(lookup[bl, frozenset((i, j))])
        if within and across:
            values.append(np.mean(within) - np.mean(across))
    np.testing.assert_allclose(got.ci, np.quantile(values, [0.05, 0.95]), rtol=0, atol=1e-12)
    assert got.n_resamples_used == len(values)


def test_a_pure_group_effect_gives_a_degenerate_interval_at_the_difference():
    labels = ["a0", "a1", "a2", "b0", "b1", "b2"]
    group = {n: n[0] for n in labels}
    a, b = zip(*combinations(labels, 2))
    value = [0.9 if group[i] == group[j] else 0.4 for i, j in zip(a, b)]
    got = stats.network_group_contrast(value, a, b, group, n_resamples=300)
    assert got.difference == pytest.approx(0.5)
    assert got.ci == pytest.approx((0.5, 0.5))


@pytest.mark.parametrize("change, fragment", [
    (lambda v, a, b, g: (v, a, b, {k: x for k, x in g.items() if k != "a0"}), "a0"),
    (lambda v, a, b, g: (v, a, b, {k: "same" for k in g}), "across groups"),
    (lambda v, a, b, g: (v[1:], a[1:], b[1:], g), "every pair"),
    (lambda v, a, b, g: (v, a, b, ["a", "b"]), "groups must map"),
    (lambda v, a, b, g: (np.full(len(v), 0.5), a, b, g), "constant"),
])
def test_bad_input_raises_input_error_naming_the_problem(change, fragment):
    labels = ["a0", "a1", "a2", "b0", "b1"]
    group = {n: n[0] for n in labels}
    a, b = (list(side) for side in zip(*combinations(labels, 2)))
    value = np.random.default_rng(1).random(len(a))
    with pytest.raises(InputError, match=fragment):
        stats.network_group_contrast(*change(value, a, b, group))


def test_ratio_bootstrap_equals_resampling_units_in_a_loop():
    rng = np.random.default_rng(3)
    top = rng.integers(0, 4, size=30).astype(float)
    bottom = top + rng.integers(0, 3, size=30)
    got = stats.ratio_bootstrap_ci(top, bottom, n_resamples=500, confidence=0.9, seed=2)
    draws = np.random.default_rng(2).integers(0, 30, size=(500, 30))
    ratios = [top[d].sum() / bottom[d].sum() for d in draws if bottom[d].sum() > 0]
    np.testing.assert_allclose(got, np.quantile(ratios, [0.05, 0.95]), rtol=0, atol=1e-12)
    assert got[0] <= top.sum() / bottom.sum() <= got[1]


def test_ratio_bootstrap_rejects_what_has_no_ratio():
    with pytest.raises(InputError, match="non-negative"):
        stats.ratio_bootstrap_ci([1, 1, 1], [1, -1, 1])
    with pytest.raises(InputError, match="sum to zero"):
        stats.ratio_bootstrap_ci([0, 0, 0], [0, 0, 0])
    low, high = stats.ratio_bootstrap_ci([1, 0, 0], [2, 0, 0])  # one unit holds everything
    assert low == high == 0.5  # resamples without it have no ratio and are dropped
    with pytest.raises(InputError, match="numerators"):
        stats.ratio_bootstrap_ci([1, np.nan, 0], [1, 1, 1])
