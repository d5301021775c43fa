"""What the one compare path costs over calling the measures directly.

    PYTHONPATH=src python benchmarks/compare.py [--repeats 5]

Times :func:`simfunc.compare.compare_pair` (every representational measure on one layer, every
output measure on the logits, the undefined-value policy, warnings caught as notes) against the
same measures called inline — ``representational.compare_all`` plus a loop over
``functional.OUTPUT_MEASURES``, as each study's job did before there was one path — on the same
data in the same run, best of ``--repeats``, the two alternated. Prints the ratio (1.0: no cost)
and checks that both give the same values.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from simfunc import functional, representational
from simfunc.compare import compare_pair

CASES = {  # name: (examples, width A, width B, classes)
    "quick-sized (n=360, 16 vs 32 features, 10 classes)": (360, 16, 32, 10),
    "standard-sized (n=1,000, 64 vs 128 features, 10 classes)": (1_000, 64, 128, 10),
    "wide (n=2,000, 256 vs 256 features, 100 classes)": (2_000, 256, 256, 100),
}


def inline(X: np.ndarray, Y: np.ndarray, P: np.ndarray, Q: np.ndarray) -> dict[str, float]:
    values = dict(representational.compare_all(X, Y, skip_errors=True))
    for name, measure in functional.OUTPUT_MEASURES.items():
        values[f"output/{name}"] = float(measure(P, Q, from_logits=True))
    return values


def one_path(X: np.ndarray, Y: np.ndarray, P: np.ndarray, Q: np.ndarray) -> dict[str, float]:
    compared = compare_pair({"f": X}, {"f": Y}, P, Q)
    return {(v.measure if v.layer == "f" else f"output/{v.measure}"): v.value
            for v in compared.values}


def best(function, arguments, repeats: int) -> tuple[float, dict[str, float]]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        values = function(*arguments)
        times.append(time.perf_counter() - start)
    return min(times), values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"{'case':<58} {'compare_pair s':>14} {'inline s':>9} {'ratio':>6}  same values")
    for name, (n, p, q, k) in CASES.items():
        rng = np.random.default_rng(0)
        X = rng.normal(size=(n, p))
        Y = np.tanh(X @ rng.normal(size=(p, q)) / np.sqrt(p)) + 0.1 * rng.normal(size=(n, q))
        P, Q = rng.normal(size=(n, k)), rng.normal(size=(n, k))
        ours, reference = [], []
        for _ in range(args.repeats):  # alternate, so both see the same machine load
            ours.append(best(one_path, (X, Y, P, Q), 1))
            reference.append(best(inline, (X, Y, P, Q), 1))
        t_ours, v_ours = min(ours, key=lambda item: item[0])
        t_ref, v_ref = min(reference, key=lambda item: item[0])
        same = v_ours.keys() == v_ref.keys() and all(v_ours[m] == v_ref[m] for m in v_ref)
        print(f"{name:<58} {t_ours:>14.4f} {t_ref:>9.4f} {t_ours / t_ref:>6.2f}  {same}")


if __name__ == "__main__":
    main()
