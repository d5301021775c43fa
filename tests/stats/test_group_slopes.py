"""``stats.group_slopes``: per-group least-squares slopes with a bootstrap over clusters."""

from __future__ import annotations

import numpy as np
import pytest

from simfunc import InputError, stats


def runs(seed: int, slopes=(-1.0, -2.0), per_group: int = 6, points: int = 8,
         slope_spread: float = 0.3, noise: float = 0.05):
    """Points of training-run-like clusters: each cluster (run) has its own slope around its
    group's, so points within a cluster are dependent."""
    rng = np.random.default_rng(seed)
    x, y, groups, clusters = [], [], [], []
    for g, slope in enumerate(slopes):
        for r in range(per_group):
            run_slope = slope + slope_spread * rng.normal()
            xs = np.sort(rng.uniform(0.0, 1.0, points))
            x += list(xs)
            y += list(run_slope * xs + rng.normal() * 0.02 + noise * rng.normal(size=points))
            groups += [f"arch{g}"] * points
            clusters += [f"arch{g}-run{r}"] * points
    return np.array(x), np.array(y), groups, clusters


def reference_intervals(x, y, groups, clusters, n_resamples, seed, confidence=0.95):
    """The same bootstrap, one resample at a time: clusters drawn per group (as documented),
    each drawn cluster's points repeated, the slope from numpy.polyfit."""
    order = list(dict.fromkeys(groups))
    cluster_order = list(dict.fromkeys(clusters))
    members = {g: [c for c in cluster_order if groups[clusters.index(c)] == g] for g in order}
    rng = np.random.default_rng(seed)
    draws = {g: rng.integers(0, len(members[g]), size=(n_resamples, len(members[g])))
             for g in order}
    clusters = np.array(clusters)
    slopes = {g: [] for g in order}
    for r in range(n_resamples):
        for g in order:
            picked = [members[g][k] for k in draws[g][r]]
            index = np.concatenate([np.flatnonzero(clusters == c) for c in picked])
            slopes[g].append(np.polyfit(x[index], y[index], 1)[0])
    tail = (1 - confidence) / 2
    out = {g: tuple(np.quantile(slopes[g], [tail, 1 - tail])) for g in order}
    difference = np.array(slopes[order[1]]) - np.array(slopes[order[0]])
    return out, tuple(np.quantile(difference, [tail, 1 - tail]))


def test_slopes_are_least_squares_and_intervals_match_a_resample_by_resample_reference():
    x, y, groups, clusters = runs(0)
    result = stats.group_slopes(x, y, groups=groups, clusters=clusters, n_resamples=300, seed=4)
    expected, difference = reference_intervals(x, y, groups, clusters, 300, 4)
    mask = np.array(groups) == "arch0"
    assert [s.group for s in result.slopes] == ["arch0", "arch1"]
    assert result.slopes[0].slope == pytest.approx(np.polyfit(x[mask], y[mask], 1)[0], abs=1e-12)
    assert result.slopes[1].n_points == 48 and result.slopes[1].n_clusters == 6
    for item in result.slopes:
        assert item.ci == pytest.approx(expected[item.group], abs=1e-10)
    (diff,) = result.differences
    assert (diff.group, diff.reference) == ("arch1", "arch0")
    assert diff.difference == pytest.approx(result.slopes[1].slope - result.slopes[0].slope)
    assert diff.ci == pytest.approx(difference, abs=1e-10)
    assert result.to_dict()["differences"][0]["ci"] == list(diff.ci)


def test_clusters_not_points_are_the_units():
    """Runs with their own slopes (30 checkpoints each): redrawing single points (each its own
    cluster) gives a far narrower interval than redrawing runs, the honest unit (1.9-2.8 times
    narrower over seeds 1-7)."""
    x, y, groups, clusters = runs(1, points=30)
    honest = stats.group_slopes(x, y, groups=groups, clusters=clusters, n_resamples=500)
    naive = stats.group_slopes(x, y, groups=groups, clusters=range(len(x)), n_resamples=500)
    for by_run, by_point in zip(honest.slopes, naive.slopes):
        assert np.diff(by_run.ci)[0] > 1.5 * np.diff(by_point.ci)[0]


def test_a_real_difference_is_found_and_no_difference_is_mostly_covered():
    different = stats.group_slopes(*runs(2, slopes=(-1.0, -2.5))[:2],
                                   groups=runs(2)[2], clusters=runs(2)[3], n_resamples=500)
    low, high = different.differences[0].ci
    assert high < 0  # arch1's slope is steeper
    covered = 0
    for seed in range(30):
        x, y, groups, clusters = runs(100 + seed, slopes=(-1.5, -1.5))
        low, high = stats.group_slopes(x, y, groups=groups, clusters=clusters,
                                       n_resamples=300, seed=seed).differences[0].ci
        covered += low <= 0 <= high
    assert covered >= 24  # 28 of 30 here; nominal 95%, six clusters a group make it narrow


def test_strata_keep_each_cells_clusters():
    """With one cluster per (group, stratum) cell every resample redraws the same data."""
    x, y, groups, clusters = runs(3, per_group=3)
    result = stats.group_slopes(x, y, groups=groups, clusters=clusters, strata=clusters,
                                n_resamples=50)
    for item in result.slopes:
        assert item.ci == pytest.approx((item.slope, item.slope), abs=1e-12)
    assert any("only 3 clusters" in note for note in result.notes)


def test_bad_input_is_named():
    x, y, groups, clusters = runs(4)
    with pytest.raises(InputError, match="more than one group"):
        stats.group_slopes(x, y, groups=groups, clusters=["one"] * len(x))
    with pytest.raises(InputError, match="clusters has 3 labels"):
        stats.group_slopes(x, y, groups=groups, clusters=clusters[:3])
    with pytest.raises(InputError, match="group 'arch0'.*constant"):
        stats.group_slopes(np.where(np.array(groups) == "arch0", 0.5, x), y, groups=groups,
                           clusters=clusters)
    with pytest.raises(InputError, match="more than one stratum"):
        stats.group_slopes(x, y, groups=groups, clusters=clusters, strata=range(len(x)))
    with pytest.raises(InputError, match="n_resamples"):
        stats.group_slopes(x, y, groups=groups, clusters=clusters, n_resamples=0)
