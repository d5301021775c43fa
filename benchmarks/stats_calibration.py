"""Calibration and speed of the network-level statistics (simfunc.stats.relate_networks).

1. Calibration. Data sets of n networks with a random "network effect" on every pair:
   x_ab = u_a + u_b + noise * e_ab and y_ab = v_a + v_b + noise * f_ab (u, v, e, f standard
   normal, corr(u, v) = r). Under the null (r = 0) x and y are independent, yet pairs that
   share a network share its effect. For n = 6, 10, 14 it prints

   * the false-positive rate at alpha = 0.05 of the pair-level permutation test
     (``stats.permutation_pvalue`` over the n(n-1)/2 pairs) and of the Mantel test
     (``stats.network_permutation_pvalue``), and how often each 95% bootstrap interval
     (pairs redrawn vs networks redrawn) misses 0;
   * with r = 0.6, where a random pair's (x, y) is bivariate normal with correlation
     2 r / (2 + noise^2) and so Spearman rho_true = (6 / pi) asin(that / 2), how often each
     95% interval covers rho_true, its mean width, and how often each test rejects.

   Each rate is over ``--datasets`` data sets; its binomial standard error is printed.

2. Speed. The Mantel p-value of 14 networks with 10,000 relabellings against a loop that
   relabels the matrix and calls scipy.stats.spearmanr once per relabelling (the same draws:
   the p-values must be equal), and the network bootstrap against a loop that rebuilds each
   resample's pairs; the ratio is printed.

Run:  PYTHONPATH=src python benchmarks/stats_calibration.py            (about 10 min)
      PYTHONPATH=src python benchmarks/stats_calibration.py --quick    (seconds)
"""

from __future__ import annotations

import argparse
import sys
import time
from itertools import combinations
from pathlib import Path

import numpy as np
import scipy.stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from simfunc import stats  # noqa: E402
from simfunc.stats import network  # noqa: E402
from simfunc.stats.network_design import pair_design  # noqa: E402


def network_effect_matrices(n: int, rng: np.random.Generator, r: float, noise: float):
    u = rng.normal(size=n)
    v = r * u + np.sqrt(1 - r * r) * rng.normal(size=n)
    e = np.triu(rng.normal(size=(n, n)), 1)
    f = np.triu(rng.normal(size=(n, n)), 1)
    x = u[:, None] + u[None, :] + noise * (e + e.T)
    y = v[:, None] + v[None, :] + noise * (f + f.T)
    return x, y


def true_rho(r: float, noise: float) -> float:
    return float(6 / np.pi * np.arcsin(r / (2 + noise**2)))


def one_dataset(x, y, seed, n_permutations, n_resamples, alpha=0.05):
    """Rejections of both tests and both 95% intervals of one data set."""
    iu = np.triu_indices(len(x), 1)
    design = pair_design(x, y)
    mantel = network.permutation_test(design, "spearman", "pooled", n_permutations, seed,
                                      "two-sided")
    pair_p = stats.permutation_pvalue(x[iu], y[iu], "spearman", n_permutations, seed)
    intervals = {}
    for level in ("pairs", "network"):
        outcome = network.bootstrap(design, "spearman", "pooled", n_resamples, seed, level=level)
        intervals[level] = outcome.interval(0.95, "spearman")
    return {"pair_reject": pair_p <= alpha, "network_reject": mantel.p <= alpha,
            "pair_ci": intervals["pairs"], "network_ci": intervals["network"]}


def calibration(sizes, datasets, n_permutations, n_resamples, noise, seed):
    print(f"Calibration: {datasets} data sets per row, {n_permutations} permutations, "
          f"{n_resamples} bootstrap resamples, noise {noise} (network effects carry "
          f"{2 / (2 + noise**2):.0%} of each pair's variance), alpha 0.05, 95% intervals")
    for r in (0.0, 0.6):
        target = true_rho(r, noise)
        title = "null (r = 0): false positives" if r == 0 else (
            f"r = {r}: rho_true = {target:.3f}")
        print(f"\n{title}")
        print("| networks | pairs | reject: pair perm. | reject: Mantel | CI covers: pairs "
              "| CI covers: networks | width: pairs | width: networks | s |")
        print("|---|---|---|---|---|---|---|---|---|")
        for n in sizes:
            rng = np.random.default_rng(seed + n)
            start = time.perf_counter()
            rows = [one_dataset(*network_effect_matrices(n, rng, r, noise), seed + d,
                                n_permutations, n_resamples) for d in range(datasets)]
            elapsed = time.perf_counter() - start

            def rate(key):
                values = np.array([row[key] for row in rows], dtype=float)
                return f"{values.mean():.3f} ± {values.std() / np.sqrt(datasets):.3f}"

            def covers(key):
                hits = np.array([lo <= target <= hi for lo, hi in (row[key] for row in rows)])
                return f"{hits.mean():.3f} ± {hits.std() / np.sqrt(datasets):.3f}"

            def width(key):
                return f"{np.mean([hi - lo for lo, hi in (row[key] for row in rows)]):.3f}"

            print(f"| {n} | {n * (n - 1) // 2} | {rate('pair_reject')} | "
                  f"{rate('network_reject')} | {covers('pair_ci')} | {covers('network_ci')} | "
                  f"{width('pair_ci')} | {width('network_ci')} | {elapsed:.0f} |", flush=True)


def naive_mantel(x, y, n_permutations, seed):
    """One relabelling at a time: relabel y, take its upper triangle, scipy's rho."""
    iu = np.triu_indices(len(x), 1)
    rng = np.random.default_rng(seed)
    observed = scipy.stats.spearmanr(x[iu], y[iu]).statistic
    extreme = 0
    for _ in range(n_permutations):
        p = rng.permutation(len(x))
        value = scipy.stats.spearmanr(x[iu], y[np.ix_(p, p)][iu]).statistic
        extreme += abs(value) >= abs(observed) - 1e-12
    return (1 + extreme) / (1 + n_permutations)


def naive_bootstrap(x, y, n_resamples, seed):
    """One resample at a time: draw networks, list the pairs of distinct draws, scipy's rho."""
    n = len(x)
    rng = np.random.default_rng(seed)
    values = []
    for draw in rng.integers(0, n, size=(n_resamples, n)):
        pairs = [(draw[k], draw[l]) for k, l in combinations(range(n), 2) if draw[k] != draw[l]]
        xs = np.array([x[i, j] for i, j in pairs])
        ys = np.array([y[i, j] for i, j in pairs])
        if np.ptp(xs) > 0 and np.ptp(ys) > 0:
            values.append(scipy.stats.spearmanr(xs, ys).statistic)
    return tuple(np.quantile(values, [0.025, 0.975]))


def best_time(call, repeats):
    best, result = np.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        result = call()
        best = min(best, time.perf_counter() - start)
    return best, result


def speed(n, n_permutations, n_resamples, repeats):
    x, y = network_effect_matrices(n, np.random.default_rng(1), r=0.3, noise=1.0)
    print(f"\nSpeed: {n} networks ({n * (n - 1) // 2} pairs), best of {repeats} for simfunc, "
          "one run of the loop")
    print("| procedure | simfunc s | loop s | loop / simfunc | same result |")
    print("|---|---|---|---|---|")
    ours_s, ours = best_time(
        lambda: stats.network_permutation_pvalue(x, y, n_permutations=n_permutations, seed=7),
        repeats)
    loop_s, loop = best_time(lambda: naive_mantel(x, y, n_permutations, 7), 1)
    print(f"| Mantel p, {n_permutations:,} relabellings | {ours_s:.3f} | {loop_s:.2f} | "
          f"{loop_s / ours_s:.0f}× | {ours == loop} (p = {ours:.4f}) |")
    original = network._BATCH_ELEMENTS
    network._BATCH_ELEMENTS = 1 << 30  # one batch: the loop's draws (same stream)
    try:
        ours_s, ours = best_time(
            lambda: stats.network_bootstrap_ci(x, y, n_resamples=n_resamples, seed=7), repeats)
    finally:
        network._BATCH_ELEMENTS = original
    loop_s, loop = best_time(lambda: naive_bootstrap(x, y, n_resamples, 7), 1)
    same = bool(np.allclose(ours, loop, rtol=0, atol=1e-12))
    print(f"| network bootstrap CI, {n_resamples:,} resamples | {ours_s:.3f} | {loop_s:.2f} | "
          f"{loop_s / ours_s:.0f}× | {same} |")
    for name in ("kendall", "pearson"):
        seconds, _ = best_time(lambda: stats.network_permutation_pvalue(
            x, y, statistic=name, n_permutations=n_permutations, seed=7), repeats)
        print(f"| Mantel p ({name}), {n_permutations:,} relabellings | {seconds:.3f} | | | |")
    seconds, _ = best_time(lambda: stats.relate_networks(x, y), repeats)
    print(f"| relate_networks (all of it, 10,000 + 10,000) | {seconds:.3f} | | | |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke sizes (seconds)")
    parser.add_argument("--datasets", type=int, default=500)
    parser.add_argument("--permutations", type=int, default=999)
    parser.add_argument("--resamples", type=int, default=999)
    parser.add_argument("--noise", type=float, default=1.0)
    parser.add_argument("--networks", type=int, nargs="+", default=[6, 10, 14])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.quick:
        args.datasets, args.permutations, args.resamples = 20, 99, 99
    calibration(args.networks, args.datasets, args.permutations, args.resamples, args.noise,
                args.seed)
    speed(14, 10_000 if not args.quick else 1_000, 2_000 if not args.quick else 200,
          3 if not args.quick else 1)


if __name__ == "__main__":
    main()
