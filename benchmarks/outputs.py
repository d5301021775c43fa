"""Benchmark the output measures: simfunc.functional.jsd and .spearman.

1. Throughput and memory at scale: both measures on N x K float32 probabilities (default
   1,000,000 x 100, i.e. 400 MB per input), reporting rows/s and the peak memory allocated
   during the call (tracemalloc, which sees numpy's allocations) next to the input size.
2. Against the per-example loop a user would write with scipy
   (``scipy.spatial.distance.jensenshannon(p, q, base=2) ** 2`` and
   ``scipy.stats.spearmanr(p, q)``), on the first L rows (default 10,000) of the same data:
   rows/s of each, their ratio, and the largest difference between the two results.

Run:  python benchmarks/outputs.py            (full sizes)
      python benchmarks/outputs.py --quick    (smoke sizes, seconds)
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Callable

import numpy as np
from scipy.spatial.distance import jensenshannon
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from simfunc import functional as fn  # noqa: E402

MEASURES: dict[str, Callable] = {"jsd": fn.jsd, "spearman": fn.spearman}
REFERENCE_LOOPS: dict[str, Callable] = {
    "jsd": lambda p, q: jensenshannon(p, q, base=2) ** 2,
    "spearman": lambda p, q: spearmanr(p, q).statistic,
}


def softmax_rows(rng: np.random.Generator, n: int, k: int, dtype: np.dtype) -> np.ndarray:
    """Softmax of standard-normal logits (scaled by 2), built in row blocks."""
    out = np.empty((n, k), dtype=dtype)
    block = max(1, (1 << 20) // k)
    for start in range(0, n, block):
        logits = 2.0 * rng.standard_normal((min(block, n - start), k))
        logits -= logits.max(axis=1, keepdims=True)
        np.exp(logits, out=logits)
        logits /= logits.sum(axis=1, keepdims=True)
        out[start : start + block] = logits
    return out


def best_time(call: Callable[[], object], repeats: int) -> tuple[float, object]:
    best, result = np.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        result = call()
        best = min(best, time.perf_counter() - start)
    return best, result


def peak_allocated(call: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke sizes (20,000 rows, loop 500)")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows for the throughput run")
    parser.add_argument("--classes", type=int, default=100)
    parser.add_argument("--loop-rows", type=int, default=10_000, help="rows for the scipy loop")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--repeats", type=int, default=2, help="best of this many timed runs")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.loop_rows, args.repeats = 20_000, 500, 1

    rng = np.random.default_rng(args.seed)
    dtype = np.dtype(args.dtype)
    P = softmax_rows(rng, args.rows, args.classes, dtype)
    Q = softmax_rows(rng, args.rows, args.classes, dtype)
    input_mb = P.nbytes / 2**20
    loop_rows = min(args.loop_rows, args.rows)
    P_small, Q_small = P[:loop_rows], Q[:loop_rows]

    print(
        f"inputs: P, Q {args.rows:,} x {args.classes} {args.dtype} ({input_mb:,.0f} MiB each); "
        f"scipy loop on the first {loop_rows:,} rows\n"
    )
    header = (
        f"{'measure':<9} {'rows/s at scale':>16} {'peak alloc':>11} {'loop rows':>10} "
        f"{'simfunc rows/s':>15} {'scipy loop rows/s':>18} {'speed-up':>9} {'max |diff|':>11}"
    )
    print(header)
    print("-" * len(header))
    for name, measure in MEASURES.items():
        seconds, value = best_time(lambda: measure(P, Q), args.repeats)
        peak_mb = peak_allocated(lambda: measure(P, Q)) / 2**20

        ours_seconds, ours = best_time(
            lambda: measure(P_small, Q_small, reduction="none"), max(args.repeats, 3)
        )
        reference = REFERENCE_LOOPS[name]
        P64, Q64 = P_small.astype(np.float64), Q_small.astype(np.float64)
        loop_seconds, loop = best_time(
            lambda: np.array([reference(p, q) for p, q in zip(P64, Q64)]), 1
        )
        difference = float(np.max(np.abs(np.asarray(ours) - loop)))
        print(
            f"{name:<9} {args.rows / seconds:>16,.0f} {peak_mb:>9,.1f}Mi {loop_rows:>10,} "
            f"{loop_rows / ours_seconds:>15,.0f} {loop_rows / loop_seconds:>18,.0f} "
            f"{loop_seconds / ours_seconds:>8,.0f}x {difference:>11.1e}"
        )
        print(f"{'':<9} (mean over {args.rows:,} rows = {value:.6f}, {seconds:.2f} s)")
    print(
        "\npeak alloc: the most memory allocated at once during one call (tracemalloc), "
        "beyond the inputs themselves."
    )


if __name__ == "__main__":
    main()
