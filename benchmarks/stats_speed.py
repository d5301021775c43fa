"""The leaderboard's statistics, before and after issue 22, on the same data in one run.

    python benchmarks/stats_speed.py [--runs DIR] [--repeat 1]

``--runs DIR``: a folder of study run directories (``simfunc reproduce --out DIR`` leaves
them); the leaderboard is then computed over their pairs, exactly as ``simfunc reproduce``
does. Without it, a synthetic leaderboard-sized problem (12 networks, 66 pairs; 60 relations).

*Before* is the statistics as they were: every Monte Carlo permutation test draws all 10,000
permutations (``stop_after=None``) in batches of the full size (as before; with several
strata or blocks a batch's draws depend on its size) and every pair-level bootstrap resample
is ranked by sorting it (the reference below, the code that ``bootstrap_distribution`` ran). *After* is
the current code: Besag and Clifford's sequential test (``stop_after=100``) and Spearman
bootstrap resamples from pair counts. Prints both times, their ratio, and how far the
results moved: bootstrap intervals (same resamples: only rounding may differ) and p-values
(the sequential ones carry about 10 % relative Monte Carlo error where they stop early; none
below 0.01 may change).
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

import simfunc.stats as stats
import simfunc.stats.network as network
import simfunc.stats.resampling as resampling
from simfunc import leaderboard
from simfunc.stats.correlation import spearman_rows


def sorted_bootstrap_distribution(x, y, statistic, n_resamples, seed):
    """The pair bootstrap as it was: index the resampled pairs, rank every resample."""
    n = x.shape[0]
    rng = np.random.default_rng(seed)
    values = np.empty(n_resamples, dtype=np.float64)
    done = 0
    for size in resampling._batches(n_resamples, n):
        indices = rng.integers(0, n, size=(size, n))
        values[done : done + size] = resampling._ROW_STATISTICS[statistic](x[indices],
                                                                          y[indices])
        done += size
    return values


@contextlib.contextmanager
def before() -> Iterator[None]:
    """The statistics as they were before issue 22, swapped in for the block."""
    saved = (stats.permutation_pvalue, stats.network_permutation_pvalue,
             resampling.bootstrap_distribution, network.permutation_test)
    schedules = (resampling.batch_schedule, network.batch_schedule)
    full_test = network.permutation_test

    def fixed_batches(total, cap, stop_after=None):  # the batches as they were: all of cap
        for start in range(0, total, max(1, cap)):
            yield min(max(1, cap), total - start)

    def permutation_pvalue(*args, **kwargs):
        return saved[0](*args, **{**kwargs, "stop_after": None})

    def network_permutation_pvalue(*args, **kwargs):
        return saved[1](*args, **{**kwargs, "stop_after": None})

    def permutation_test(*args, **kwargs):
        return full_test(*args, **{**kwargs, "stop_after": None})

    stats.permutation_pvalue = permutation_pvalue
    stats.network_permutation_pvalue = network_permutation_pvalue
    resampling.bootstrap_distribution = sorted_bootstrap_distribution
    network.permutation_test = permutation_test
    resampling.batch_schedule = network.batch_schedule = fixed_batches
    try:
        yield
    finally:
        (stats.permutation_pvalue, stats.network_permutation_pvalue,
         resampling.bootstrap_distribution, network.permutation_test) = saved
        resampling.batch_schedule, network.batch_schedule = schedules


def synthetic_pairs() -> pd.DataFrame:
    """12 networks, every pair: 10 measures and 6 output measures with a network effect."""
    rng = np.random.default_rng(0)
    n = 12
    a, b = np.triu_indices(n, 1)
    effect = rng.normal(size=n)
    frame = pd.DataFrame({"study": "synthetic", "group": "synthetic",
                          "model_a": [f"m{i}" for i in a], "model_b": [f"m{j}" for j in b],
                          "test_set": "t"})
    from simfunc import functional, representational

    shared = effect[a] + effect[b]
    for k, name in enumerate(list(representational.MEASURES)[:10]):
        frame[name] = (k % 3) * 0.3 * shared + rng.normal(size=a.size)
    for k, name in enumerate(functional.OUTPUT_MEASURES):
        frame[name] = 0.5 * shared + rng.normal(size=a.size)
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=None)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    if args.runs is not None:
        run_dirs = sorted(p.parent for p in args.runs.glob("*/results.sqlite"))
        pairs, _ = leaderboard.collect_pairs(run_dirs)
        measures = None
        source = f"the pairs of {len(run_dirs)} study runs in {args.runs}"
    else:
        pairs = synthetic_pairs()
        from simfunc import representational

        measures = list(representational.MEASURES)[:10]
        source = "synthetic pairs (12 networks)"
    print(f"leaderboard over {source}: {len(pairs)} pairs")

    def board() -> tuple[float, float, pd.DataFrame]:
        """Best wall and CPU seconds (CPU: what a shared machine's load does not inflate)."""
        best, best_cpu, result = float("inf"), float("inf"), None
        for _ in range(args.repeat):
            started, started_cpu = time.perf_counter(), time.process_time()
            result = leaderboard.leaderboard(pairs, measures=measures)
            best = min(best, time.perf_counter() - started)
            best_cpu = min(best_cpu, time.process_time() - started_cpu)
        return best, best_cpu, result

    with before():
        old_seconds, old_cpu, old = board()
    new_seconds, new_cpu, new = board()
    print(f"before (10,000 draws each, sorted resamples): {old_seconds:8.2f} s wall "
          f"{old_cpu:8.2f} s CPU")
    print(f"after  (sequential tests, counted resamples): {new_seconds:8.2f} s wall "
          f"{new_cpu:8.2f} s CPU")
    print(f"ratio before / after: {old_seconds / new_seconds:.1f}x wall, "
          f"{old_cpu / new_cpu:.1f}x CPU over {len(new)} relations")

    for column in ("ci_low", "ci_high", "pair_ci_low", "pair_ci_high"):
        moved = np.nanmax(np.abs(new[column].to_numpy(float) - old[column].to_numpy(float)))
        print(f"  {column}: largest change {moved:.1e}")
    for column in ("p_value", "pair_p_value"):
        p_old, p_new = old[column].to_numpy(float), new[column].to_numpy(float)
        both = ~np.isnan(p_old) & ~np.isnan(p_new)
        small = both & (p_old < 0.01)
        relative = np.abs(p_new[both] / p_old[both] - 1)
        print(f"  {column}: identical where p < 0.01: "
              f"{int(np.sum(p_new[small] == p_old[small]))}/{int(small.sum())}; "
              f"relative change elsewhere median {np.median(relative):.3f}, "
              f"largest {relative.max():.3f}; "
              f"'.2g' text changed in {int(np.sum(pd.Series(p_old[both]).map('{:.2g}'.format) != pd.Series(p_new[both]).map('{:.2g}'.format)))} of {int(both.sum())}")


def rank_speed() -> None:
    """``simfunc.ranking.average_ranks`` against scipy's ``rankdata(axis=1)`` (same values)."""
    import scipy.stats

    from simfunc.ranking import average_ranks

    rng = np.random.default_rng(1)
    for rows, k, tied in ((10_000, 10, False), (10_000, 66, False), (10_000, 66, True)):
        values = rng.normal(size=(rows, k))
        if tied:
            values = np.round(values)
        timings = []
        for function in (average_ranks, lambda v: scipy.stats.rankdata(v, axis=1)):
            best = float("inf")
            for _ in range(3):
                started = time.perf_counter()
                function(values)
                best = min(best, time.perf_counter() - started)
            timings.append(best)
        assert np.array_equal(average_ranks(values), scipy.stats.rankdata(values, axis=1))
        print(f"average_ranks ({rows} x {k}{', ties' if tied else ''}): {timings[0] * 1e3:.1f} ms, "
              f"scipy rankdata {timings[1] * 1e3:.1f} ms: {timings[1] / timings[0]:.1f}x")


if __name__ == "__main__":
    main()
    rank_speed()
