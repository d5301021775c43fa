"""stats.network_difference: the difference of one statistic between two independent sets of
networks, with a bootstrap that redraws each set's networks (or clusters) independently."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest

from simfunc import InputError, stats
from simfunc.stats.network_difference import PairSample, _slopes, network_difference
from simfunc.stats.network_design import pair_design


def _sample(n_networks=8, blocks=2, effect=1.0, noise=0.5, seed=0, slope_by_block=None):
    """Every pair of ``n_networks`` networks in each of ``blocks`` blocks; x and y share a
    network effect of size ``effect`` (y = -effect * x-part + noise)."""
    rng = np.random.default_rng(seed)
    u = rng.normal(size=n_networks)
    x, y, a, b, block = [], [], [], [], []
    for k in range(blocks):
        slope = 1.0 if slope_by_block is None else slope_by_block[k]
        for i, j in combinations(range(n_networks), 2):
            xi = u[i] + u[j] + noise * rng.normal()
            x.append(xi)
            y.append(-effect * slope * xi + noise * rng.normal())
            a.append(f"n{i}")
            b.append(f"n{j}")
            block.append(f"b{k}")
    return PairSample(np.array(x), np.array(y), a, b, blocks=block)


def test_each_side_is_the_statistic_relate_networks_computes():
    first, second = _sample(seed=1), _sample(seed=2, effect=0.2)
    result = network_difference(first, second, n_resamples=200, seed=0)
    for side, sample in ((result.first, first), (result.second, second)):
        expected = stats.relate_networks(sample.x, sample.y, a=sample.a, b=sample.b,
                                         blocks=sample.blocks, combine="mean",
                                         n_permutations=10, n_resamples=10).spearman
        assert side == pytest.approx(expected, abs=1e-12)
    assert result.difference == pytest.approx(result.second - result.first)


def test_slope_cv_is_the_coefficient_of_variation_of_the_blocks_slopes():
    sample = _sample(blocks=3, slope_by_block=[1.0, 2.0, 4.0], noise=0.1)
    slopes = []
    for k in range(3):
        mask = np.array(sample.blocks) == f"b{k}"
        slopes.append(np.polyfit(sample.x[mask], sample.y[mask], 1)[0])
    expected = np.std(slopes, ddof=1) / abs(np.mean(slopes))
    result = network_difference(sample, _sample(blocks=3, seed=5), statistic="slope_cv",
                                n_resamples=100, seed=0)
    assert result.first == pytest.approx(expected, rel=1e-10)


def test_slope_sd_is_the_spread_of_standardized_slopes_and_scale_free():
    sample = _sample(blocks=3, slope_by_block=[1.0, 2.0, 4.0], noise=0.1)
    blocks = np.array(sample.blocks)
    ratio = np.std(sample.x) / np.std(sample.y)
    slopes = [np.polyfit(sample.x[blocks == f"b{k}"], sample.y[blocks == f"b{k}"], 1)[0]
              for k in range(3)]
    other = _sample(blocks=3, seed=5)
    result = network_difference(sample, other, statistic="slope_sd", n_resamples=100, seed=0)
    assert result.first == pytest.approx(np.std(np.array(slopes) * ratio, ddof=1), rel=1e-10)
    scaled = PairSample(3.0 * sample.x, 0.1 * sample.y - 2.0, sample.a, sample.b,
                        blocks=sample.blocks)
    again = network_difference(scaled, other, statistic="slope_sd", n_resamples=100, seed=0)
    assert again.first == pytest.approx(result.first, rel=1e-9)
    # near a mean slope of 0 the coefficient of variation explodes, the spread does not
    flat = _sample(blocks=3, slope_by_block=[0.02, -0.02, 0.001], noise=0.1)
    cv = network_difference(flat, other, statistic="slope_cv", n_resamples=50, seed=0).first
    sd = network_difference(flat, other, statistic="slope_sd", n_resamples=50, seed=0).first
    assert cv > 10 and sd < 0.5  # measured 12.4 and 0.22


def test_a_weighted_slope_is_the_slope_of_the_expanded_sample():
    sample = _sample(n_networks=5, blocks=2, seed=3)
    design = pair_design(sample.x, sample.y, sample.a, sample.b, blocks=sample.blocks)
    weights = np.random.default_rng(0).integers(0, 4, size=(3, design.n_pairs)).astype(float)
    got = _slopes(design, weights)
    for r in range(3):
        for k, scope in enumerate(design.block_slices()):
            repeat = weights[r, scope].astype(int)
            xs = np.repeat(design.x[scope], repeat)
            ys = np.repeat(design.y[scope], repeat)
            assert got[r, k] == pytest.approx(np.polyfit(xs, ys, 1)[0], rel=1e-9)


def test_the_interval_contains_zero_for_alike_sets_and_excludes_it_for_different_ones():
    alike = network_difference(_sample(seed=1), _sample(seed=2), n_resamples=400, seed=0)
    assert alike.ci is not None and alike.ci[0] < 0 < alike.ci[1]
    different = network_difference(_sample(seed=1, noise=2.0, n_networks=10),
                                   _sample(seed=2, noise=0.05, n_networks=10),
                                   n_resamples=400, seed=0)
    assert different.difference < 0 and different.ci is not None and different.ci[1] < 0
    # seeded: the same call gives the same interval
    again = network_difference(_sample(seed=1), _sample(seed=2), n_resamples=400, seed=0)
    assert again.ci == alike.ci


def test_clusters_redrawn_whole_and_too_few_give_no_interval_with_the_reason():
    sample = _sample(n_networks=4, blocks=1)
    two_runs = PairSample(sample.x, sample.y, sample.a, sample.b,
                          clusters={"n0": "r0", "n1": "r0", "n2": "r1", "n3": "r1"})
    result = network_difference(two_runs, two_runs, n_resamples=200, seed=0)
    assert result.ci is None and result.difference == 0.0
    assert "no network-level interval" in result.notes[0]


def test_bad_input_is_named():
    sample = _sample()
    with pytest.raises(InputError, match="statistic"):
        network_difference(sample, sample, statistic="pearson_cv")
    with pytest.raises(InputError, match="second"):
        network_difference(sample, {"x": 1})
    with pytest.raises(InputError, match="n_resamples"):
        network_difference(sample, sample, n_resamples=0)
    with pytest.raises(InputError, match="undefined"):
        network_difference(_sample(blocks=1), sample, statistic="slope_cv")
