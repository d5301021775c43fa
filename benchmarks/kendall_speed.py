"""Kendall's tau-b of a batch of rows: the O(n log n) count against the paths it replaced.

    OMP_NUM_THREADS=1 python benchmarks/kendall_speed.py [--rows 2000] [--reference-rows 200]
        [--permutations 2000] [--weighted-only]

Part 1, rows per second at n = 30, 66, 200, 435, 1000 points (one run, same data):

* *counted*: ``simfunc.stats.correlation.kendall_rows`` as it is now (independent rows of x
  and y; Knight's O(n log n) count, :mod:`simfunc.stats.kendall_counts`);
* *counted, permutation form*: ``tau_b_of_codes`` with one shared x and permuted ranks of y,
  as the permutation tests call it (y's ties counted once); *ties/row*: the same, counting
  y's ties in every row;
* *scipy per row*: ``scipy.stats.kendalltau`` in a loop, the old path above 200 points;
* *sign arrays*: the old (rows, n, n) path, ``kendall_rows_from_signs``, used up to 200.

The two old paths are timed on ``--reference-rows`` rows (their rate does not depend on the
batch size) and the counted ones on ``--rows``. Printed: the counted rate over scipy's and
over the sign arrays', the permutation form's over scipy's, and the largest difference from
scipy over the reference rows.

Part 2, the crossovers at small n, microseconds per row on ``--rows`` rows: sign arrays
against the count (``KENDALL_SIGN_ARRAY_MAX_POINTS``), and the re-paired sign gather of
``simfunc.stats.resampled_correlation`` against the count's permutation form
(``KENDALL_GATHER_MAX_PAIRS``).

Part 4 (``--weighted``, run by default), weighted pairs (``correlation_rows(..., weights=...)``,
the expanded sample in which pair k counts w_k times), microseconds per row at m = 54, 200,
435 on ``--rows`` rows: *re-paired* rows with 0/1 weights (a partial design's permutation
test: the new O(m log m) weighted count against the old (rows, m, m) sign arrays,
``_kendall_weighted_signs``, both on all rows) and *one y* with bootstrap
counts (the old three BLAS products ``w'Sw`` against the weighted count's merge of gathered
weights, which takes over beyond ``KENDALL_WEIGHTED_PRODUCT_MAX_PAIRS``), with the largest
difference between old and new; then the small-m crossover of the re-paired form
(``KENDALL_WEIGHTED_SIGNS_MAX_PAIRS``) and the large-m one of the one-y form.

Part 3, a realistic case: ``simfunc.stats.relate_networks`` on a synthetic 30-network design
(435 pairs; x and y share a network effect, x rounded so it has ties) with 2,000
permutations and 2,000 bootstrap resamples, before (the re-paired Kendall rows of the
Mantel and pair-level tests computed by scipy one row at a time, the old path for 435 pairs)
and after, with the p-values of both.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.stats

from simfunc import stats
from simfunc.stats import resampled_correlation
from simfunc.stats.correlation import kendall_rows, kendall_rows_from_signs
from simfunc.stats.kendall_counts import (
    kendall_tau_b_rows,
    order_codes,
    tau_b_of_codes,
    weighted_tau_b_of_codes,
)

POINTS = (30, 66, 200, 435, 1000)


def scipy_rows(
    x_rows: np.ndarray, y_rows: np.ndarray, rows_are_permutations: bool = False
) -> np.ndarray:
    """The old path above 200 points: scipy per row (NaN for a constant row); in place of
    ``tau_b_of_codes``, whose ``rows_are_permutations`` it ignores."""
    x_rows = np.broadcast_to(x_rows, y_rows.shape)
    out = np.empty(y_rows.shape[0])
    for r, (x_row, y_row) in enumerate(zip(x_rows, y_rows)):
        constant = np.all(x_row == x_row[0]) or np.all(y_row == y_row[0])
        out[r] = np.nan if constant else scipy.stats.kendalltau(x_row, y_row).statistic
    return out


def best_seconds(function, *args, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        function(*args)
        best = min(best, time.perf_counter() - started)
    return best


def rates(rows: int, reference_rows: int) -> None:
    print(f"rows per second (counted: {rows} rows; scipy and sign arrays: {reference_rows})")
    print(f"{'n':>5} {'counted':>10} {'perm form':>10} {'ties/row':>9} {'scipy':>10} {'signs':>10} "
          f"{'vs scipy':>9} {'vs signs':>9} {'perm/scipy':>11} {'max |diff|':>11}")
    rng = np.random.default_rng(0)
    for n in POINTS:
        x = rng.normal(size=(rows, n)).round(1)  # ties
        y = 0.3 * x + rng.normal(size=(rows, n))
        x_codes = order_codes(x[:1])
        y_codes = order_codes(y[:1])[0][rng.permuted(np.tile(np.arange(n), (rows, 1)), axis=1)]
        counted = rows / best_seconds(kendall_rows, x, y)
        permuted = rows / best_seconds(tau_b_of_codes, x_codes, y_codes, True)
        ties_per_row = rows / best_seconds(tau_b_of_codes, x_codes, y_codes, False)
        few_x, few_y = x[:reference_rows], y[:reference_rows]
        reference = scipy_rows(few_x, few_y)
        with_scipy = reference_rows / best_seconds(scipy_rows, few_x, few_y, repeat=1)
        with_signs = reference_rows / best_seconds(kendall_rows_from_signs, few_x, few_y,
                                                   repeat=1)
        difference = np.max(np.abs(kendall_rows(few_x, few_y) - reference))
        print(f"{n:>5} {counted:>10.0f} {permuted:>10.0f} {ties_per_row:>9.0f} {with_scipy:>10.0f} "
              f"{with_signs:>10.0f} "
              f"{counted / with_scipy:>8.1f}x {counted / with_signs:>8.1f}x "
              f"{permuted / with_scipy:>10.1f}x {difference:>11.1e}")


def crossovers(rows: int) -> None:
    print(f"\nsmall n, microseconds per row ({rows} rows)")
    print(f"{'n':>5} {'signs':>8} {'counted':>8} {'gather':>8} {'perm form':>9}")
    rng = np.random.default_rng(2)
    for n in (4, 6, 8, 12, 16, 20, 24, 32, 48):
        x, y = rng.normal(size=(rows, n)), rng.normal(size=(rows, n))
        index = rng.permuted(np.tile(np.arange(n), (rows, 1)), axis=1)
        x_codes, y_codes = order_codes(x[:1]), order_codes(y[:1])[0]
        times = [best_seconds(*call) / rows * 1e6 for call in (
            (kendall_rows_from_signs, x, y),
            (kendall_tau_b_rows, x, y),
            (resampled_correlation._kendall_repaired, x[0], y[0], index),
            (tau_b_of_codes, x_codes, y_codes[index], True),
        )]
        print(f"{n:>5} " + " ".join(f"{t:>8.2f}" for t in times[:3]) + f" {times[3]:>9.2f}")


def weighted_case(rows: int) -> None:
    """New weighted count vs the old sign arrays, same data, same run."""
    old = resampled_correlation._kendall_weighted_signs
    print(f"\nweighted pairs, microseconds per row ({rows} rows, old and new alike: the sign "
          "arrays' rate per row falls with fewer rows)")
    print(f"{'m':>5} {'re-paired old':>14} {'new':>8} {'ratio':>7} {'max |diff|':>11}   "
          f"{'one y old':>10} {'count':>8} {'ratio':>7} {'max |diff|':>11}")
    rng = np.random.default_rng(4)
    for m in (54, 200, 435):
        x, y = rng.normal(size=m).round(1), rng.normal(size=m).round(1)  # ties in both
        index = rng.permuted(np.tile(np.arange(m), (rows, 1)), axis=1)
        present = (rng.random((rows, m)) < 0.8).astype(np.float64)  # partial: 0/1
        counts = rng.multinomial(m, np.full(m, 1 / m), size=rows).astype(np.float64)
        x_codes, y_codes = order_codes(x[None, :]), order_codes(y[None, :])

        new = resampled_correlation.correlation_rows
        repaired_args = (x, y, "kendall", index, present)
        # The one-y count, what correlation_rows runs beyond the product's crossover.
        one_y_args = (x_codes, y_codes, counts.astype(np.int64))
        old_repaired = best_seconds(old, x, y[index], present) * 1e6 / rows
        new_time = best_seconds(new, *repaired_args) * 1e6 / rows
        diff = np.nanmax(np.abs(new(*repaired_args) - old(x, y[index], present)))
        old_one = best_seconds(old, x, y, counts) * 1e6 / rows
        count_time = best_seconds(weighted_tau_b_of_codes, *one_y_args) * 1e6 / rows
        diff_one = np.nanmax(np.abs(weighted_tau_b_of_codes(*one_y_args) - old(x, y, counts)))
        print(f"{m:>5} {old_repaired:>14.2f} {new_time:>8.2f} {old_repaired / new_time:>6.1f}x "
              f"{diff:>11.1e}   {old_one:>10.2f} {count_time:>8.2f} "
              f"{old_one / count_time:>6.2f}x {diff_one:>11.1e}")
    print(f"\nre-paired 0/1 weights at small m, microseconds per row ({rows} rows): "
          "signs vs count")
    for m in (4, 8, 12, 16, 20, 24, 32, 40, 54):
        x, y = rng.normal(size=m), rng.normal(size=m)
        index = rng.permuted(np.tile(np.arange(m), (rows, 1)), axis=1)
        present = (rng.random((rows, m)) < 0.8).astype(np.float64)
        x_codes = order_codes(x[None, :])
        y_codes = order_codes(y[None, :])[0][index]
        signs = best_seconds(old, x, y[index], present, repeat=5) * 1e6 / rows
        count = best_seconds(weighted_tau_b_of_codes, x_codes, y_codes,
                             present.astype(np.int64), repeat=5) * 1e6 / rows
        print(f"{m:>5} {signs:>8.2f} {count:>8.2f}")
    few_rows = max(1, rows // 4)
    print(f"\none y with bootstrap counts at large m, microseconds per row ({few_rows} rows): "
          "signs (three BLAS products) vs count")
    for m in (435, 600, 800, 1000, 2000, 4000):
        x, y = rng.normal(size=m), rng.normal(size=m)
        counts = rng.multinomial(m, np.full(m, 1 / m), size=few_rows).astype(np.float64)
        signs = best_seconds(old, x, y, counts, repeat=2) * 1e6 / few_rows
        count = best_seconds(weighted_tau_b_of_codes, order_codes(x[None, :]),
                             order_codes(y[None, :]), counts.astype(np.int64),
                             repeat=2) * 1e6 / few_rows
        print(f"{m:>5} {signs:>8.1f} {count:>8.1f}")


def network_case(n_permutations: int) -> None:
    rng = np.random.default_rng(1)
    n = 30
    a, b = np.triu_indices(n, 1)
    effect = rng.normal(size=n)
    x = np.round(effect[a] + effect[b] + rng.normal(size=a.size), 1)
    y = 0.15 * (effect[a] + effect[b]) + rng.normal(size=a.size)  # p about 0.01: no early stop

    def relate():
        return stats.relate_networks(x, y, a=a, b=b, n_permutations=n_permutations,
                                     n_resamples=n_permutations, seed=0)

    started = time.perf_counter()
    after = relate()
    after_seconds = time.perf_counter() - started
    counted = resampled_correlation.tau_b_of_codes
    resampled_correlation.tau_b_of_codes = scipy_rows
    try:
        started = time.perf_counter()
        before = relate()
        before_seconds = time.perf_counter() - started
    finally:
        resampled_correlation.tau_b_of_codes = counted
    print(f"\nrelate_networks, {n} networks, {a.size} pairs, {n_permutations} permutations "
          f"and resamples:")
    print(f"  before (scipy per re-paired row): {before_seconds:7.2f} s   "
          f"kendall_p {before.kendall_p:.6f}  pair_kendall_p {before.pair_kendall_p:.6f}")
    print(f"  after  (counted):                 {after_seconds:7.2f} s   "
          f"kendall_p {after.kendall_p:.6f}  pair_kendall_p {after.pair_kendall_p:.6f}")
    print(f"  ratio before / after: {before_seconds / after_seconds:.1f}x; same p-values: "
          f"{(before.kendall_p, before.pair_kendall_p) == (after.kendall_p, after.pair_kendall_p)}")


def partial_network_case(n_permutations: int) -> None:
    """A 30-network design with 10 % of its 435 pairs not compared: the Mantel test's
    relabellings leave pairs without a partner, so its Kendall rows are weighted (0/1)."""
    rng = np.random.default_rng(6)
    n = 30
    a, b = np.triu_indices(n, 1)
    kept = np.sort(rng.choice(a.size, size=int(0.9 * a.size), replace=False))
    a, b = a[kept], b[kept]
    effect = rng.normal(size=n)
    x = np.round(effect[a] + effect[b] + rng.normal(size=a.size), 1)
    y = 0.15 * (effect[a] + effect[b]) + rng.normal(size=a.size)

    def relate():
        return stats.network_permutation_pvalue(x, y, a=a, b=b, statistic="kendall",
                                                n_permutations=n_permutations, seed=0)

    started = time.perf_counter()
    after = relate()
    after_seconds = time.perf_counter() - started
    threshold = resampled_correlation.KENDALL_WEIGHTED_SIGNS_MAX_PAIRS
    resampled_correlation.KENDALL_WEIGHTED_SIGNS_MAX_PAIRS = a.size  # the old path
    try:
        started = time.perf_counter()
        before = relate()
        before_seconds = time.perf_counter() - started
    finally:
        resampled_correlation.KENDALL_WEIGHTED_SIGNS_MAX_PAIRS = threshold
    print(f"\nnetwork_permutation_pvalue (Kendall), partial design: {n} networks, {a.size} of "
          f"435 pairs, {n_permutations} relabellings:")
    print(f"  before (sign arrays): {before_seconds:7.2f} s   p {before:.6f}")
    print(f"  after  (counted):     {after_seconds:7.2f} s   p {after:.6f}")
    print(f"  ratio before / after: {before_seconds / after_seconds:.1f}x; same p-value: "
          f"{before == after}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--reference-rows", type=int, default=200)
    parser.add_argument("--permutations", type=int, default=2000)
    parser.add_argument("--weighted-only", action="store_true",
                        help="only part 4 (weighted pairs) and the partial-design case")
    args = parser.parse_args()
    if not args.weighted_only:
        rates(args.rows, args.reference_rows)
        crossovers(args.rows)
        network_case(args.permutations)
    weighted_case(args.rows)
    partial_network_case(args.permutations)


if __name__ == "__main__":
    main()
