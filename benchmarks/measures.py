"""Speed and accuracy of simfunc's similarity measures against reference implementations.

Each case times simfunc and a reference written here, in the same run on the same data, and
prints both times, their ratio (simfunc / reference) with its target, and an accuracy check.

    python benchmarks/measures.py            # full sizes (float64; minutes on 2 cores)
    python benchmarks/measures.py --quick    # small smoke sizes (targets are not judged)
    python benchmarks/measures.py --case cca # only the cases whose name contains "cca"

To add a case, write ``def my_case(quick: bool) -> list[Row]`` and decorate it with ``@case``.
The exit status is 1 when an accuracy check fails, or (full sizes only) a target is missed.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

_SOURCE = Path(__file__).resolve().parents[1] / "src"
if _SOURCE.is_dir():  # measure this checkout, not some installed copy
    sys.path.insert(0, str(_SOURCE))

from simfunc import representational as rep  # noqa: E402


@dataclass
class Row:
    """One line of the results table."""

    case: str
    simfunc_s: float
    reference: str  # what the reference is
    reference_s: float
    target: str  # e.g. "ratio <= 1.15"
    target_met: bool
    accuracy: str  # e.g. "max |Δ| 3e-15 (<= 1e-8)"
    accurate: bool

    @property
    def ratio(self) -> float:
        return self.simfunc_s / self.reference_s


CASES: list[Callable[[bool], list[Row]]] = []


def case(function: Callable[[bool], list[Row]]) -> Callable[[bool], list[Row]]:
    """Register a benchmark case."""
    CASES.append(function)
    return function


def best_time(function: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """The fastest of ``repeats`` runs (seconds) and the last result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def race(
    ours: Callable[[], Any], reference: Callable[[], Any], repeats: int
) -> tuple[float, Any, float, Any]:
    """Best-of-``repeats`` times of two functions run alternately, so that a change in machine
    load affects both alike: (ours_s, ours_result, reference_s, reference_result)."""
    ours_s = reference_s = float("inf")
    ours_result = reference_result = None
    for _ in range(repeats):
        seconds, reference_result = best_time(reference, 1)
        reference_s = min(reference_s, seconds)
        seconds, ours_result = best_time(ours, 1)
        ours_s = min(ours_s, seconds)
    return ours_s, ours_result, reference_s, reference_result


# ---------------------------------------------------------------------------------------------
# CCA family: compact covariance + eigh reference, QR/SVD accuracy reference


def _compact_whitening(X: np.ndarray, Y: np.ndarray):
    Xc = X - X.mean(axis=0)
    Yc = Y - Y.mean(axis=0)
    wx, vx = np.linalg.eigh(Xc.T @ Xc)
    wy, vy = np.linalg.eigh(Yc.T @ Yc)
    return Xc, Yc, vx / np.sqrt(wx), vy / np.sqrt(wy)


def _reference_cca_compact(X: np.ndarray, Y: np.ndarray) -> float:
    """R²_CCA the compact way: covariances, eigh, singular values of the whitened cross."""
    Xc, Yc, whiten_x, whiten_y = _compact_whitening(X, Y)
    rho = np.linalg.svd(whiten_x.T @ (Xc.T @ Yc) @ whiten_y, compute_uv=False)
    return float(np.mean(rho**2))


def _reference_pwcca_compact(X: np.ndarray, Y: np.ndarray) -> float:
    """PWCCA the compact way (X has the fewer or equal neurons): h = Xc Wx a_i."""
    Xc, Yc, whiten_x, whiten_y = _compact_whitening(X, Y)
    left, rho, _ = np.linalg.svd(whiten_x.T @ (Xc.T @ Yc) @ whiten_y, full_matrices=False)
    variates = Xc @ (whiten_x @ left)
    weights = np.abs(Xc.T @ variates).sum(axis=0)
    return float(weights @ rho / weights.sum())


def _reference_cca_qr(X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, float]:
    """Canonical correlations from orthonormal (QR) bases, and PWCCA from them."""
    Xc = X - X.mean(axis=0)
    Yc = Y - Y.mean(axis=0)
    qx, _ = np.linalg.qr(Xc)
    qy, _ = np.linalg.qr(Yc)
    left, rho, _ = np.linalg.svd(qx.T @ qy, full_matrices=False)
    variates = qx @ left
    weights = np.abs(Xc.T @ variates).sum(axis=0)
    return rho, float(weights @ rho / weights.sum())


@case
def cca_family(quick: bool) -> list[Row]:
    n, width = (500, 64) if quick else (5000, 512)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, width))
    Y = X @ rng.standard_normal((width, width)) / np.sqrt(width) + rng.standard_normal((n, width))
    repeats = 5
    cca_s, value_cca, ref_s, ref_r2 = race(
        lambda: rep.cca(X, Y), lambda: _reference_cca_compact(X, Y), repeats
    )
    pw_s, value_pw, ref_pw_s, ref_pw = race(
        lambda: rep.pwcca(X, Y), lambda: _reference_pwcca_compact(X, Y), repeats
    )
    qr_rho, qr_pw = _reference_cca_qr(X, Y)
    rho_error = float(np.max(np.abs(rep.canonical_correlations(X, Y) - qr_rho)))
    cca_error = max(abs(value_cca - float(np.mean(qr_rho**2))), abs(value_cca - ref_r2))
    pw_error = max(abs(value_pw - qr_pw), abs(value_pw - ref_pw))
    shape = f"n={n}, p=q={width}"
    return [
        Row(
            f"cca ({shape})", cca_s, "compact covariance + eigh", ref_s,
            "ratio <= 1.15", cca_s / ref_s <= 1.15,
            f"max |Δρ| vs QR {rho_error:.1e}, |Δcca| {cca_error:.1e} (<= 1e-8)",
            rho_error <= 1e-8 and cca_error <= 1e-8,
        ),
        Row(
            f"pwcca ({shape})", pw_s, "compact covariance + eigh", ref_pw_s,
            "ratio <= 1.5", pw_s / ref_pw_s <= 1.5,
            f"|Δpwcca| vs QR and compact {pw_error:.1e} (<= 1e-8)", pw_error <= 1e-8,
        ),
    ]  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Linear CKA against one X.T @ Y


def _reference_feature_cka(X: np.ndarray, Y: np.ndarray) -> float:
    """Kornblith et al.'s feature_space_linear_cka (plain)."""
    Xc = X - X.mean(axis=0)
    Yc = Y - Y.mean(axis=0)
    return float(
        np.linalg.norm(Xc.T @ Yc) ** 2 / (np.linalg.norm(Xc.T @ Xc) * np.linalg.norm(Yc.T @ Yc))
    )


@case
def linear_cka_speed(quick: bool) -> list[Row]:
    n, width = (2000, 128) if quick else (10_000, 1024)
    rng = np.random.default_rng(1)
    X = rng.standard_normal((n, width))
    Y = 0.5 * X + rng.standard_normal((n, width))
    repeats = 5
    cka_s, value, ref_s, _ = race(lambda: rep.linear_cka(X, Y), lambda: X.T @ Y, repeats)
    error = abs(value - _reference_feature_cka(X, Y))
    return [
        Row(
            f"linear_cka (n={n}, p=q={width})", cka_s, "one X.T @ Y", ref_s,
            "ratio <= 3", cka_s / ref_s <= 3.0,
            f"|Δ| vs feature-space formula {error:.1e} (<= 1e-12)", error <= 1e-12,
        )
    ]  # fmt: skip


# ---------------------------------------------------------------------------------------------
# pairwise linear CKA against a per-pair loop


def _reference_pairwise_loop(models: dict[str, np.ndarray]) -> np.ndarray:
    names = list(models)
    values = np.eye(len(names))
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            value = _reference_feature_cka(models[names[i]], models[names[j]])
            values[i, j] = values[j, i] = value
    return values


@case
def pairwise_linear_cka(quick: bool) -> list[Row]:
    count, n, width = (4, 500, 64) if quick else (16, 5000, 512)
    rng = np.random.default_rng(2)
    shared = rng.standard_normal((n, width))
    models = {
        f"model{i}": shared @ rng.standard_normal((width, width)) + rng.standard_normal((n, width))
        for i in range(count)
    }
    repeats = 3
    ours_s, table, ref_s, reference = race(
        lambda: rep.pairwise(models, "linear_cka"),
        lambda: _reference_pairwise_loop(models),
        repeats,
    )
    error = float(np.max(np.abs(table.to_numpy() - reference)))
    return [
        Row(
            f"pairwise linear_cka ({count} models, n={n}, p={width})", ours_s,
            "per-pair feature-space loop", ref_s,
            "ratio <= 0.4 (2.5x faster)", ours_s / ref_s <= 0.4,
            f"max |Δ| vs loop {error:.1e} (<= 1e-12)", error <= 1e-12,
        )
    ]  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Streaming LinearCKA: memory, time and exactness against a two-pass float64 computation


def _batches(total: int, batch: int, width: int) -> Callable[[], Iterator[tuple[Any, Any]]]:
    """Deterministic float32 batches with a large mean (1e4), generated on the fly."""
    rng = np.random.default_rng(3)
    pool = 8
    base_x = [(1e4 + rng.standard_normal((batch, width))).astype(np.float32) for _ in range(pool)]
    mix = rng.standard_normal((width, width)).astype(np.float32) / np.float32(np.sqrt(width))
    base_y = [
        ((x - np.float32(1e4)) @ mix + rng.standard_normal((batch, width)).astype(np.float32))
        for x in base_x
    ]

    def generate() -> Iterator[tuple[Any, Any]]:
        for index in range(total // batch):
            offset = np.float32(0.01 * index)
            yield base_x[index % pool] + offset, base_y[index % pool] - offset

    return generate


def _two_pass_cka(generate: Callable[[], Iterator[tuple[Any, Any]]]) -> float:
    count, sum_x, sum_y = 0, 0.0, 0.0
    for x, y in generate():
        count += x.shape[0]
        sum_x = sum_x + x.astype(np.float64).sum(axis=0)
        sum_y = sum_y + y.astype(np.float64).sum(axis=0)
    mean_x, mean_y = sum_x / count, sum_y / count
    cxx = cyy = cxy = 0.0
    for x, y in generate():
        xc = x.astype(np.float64) - mean_x
        yc = y.astype(np.float64) - mean_y
        cxx = cxx + xc.T @ xc
        cyy = cyy + yc.T @ yc
        cxy = cxy + xc.T @ yc
    return float(np.sum(cxy**2) / np.sqrt(np.sum(cxx**2) * np.sum(cyy**2)))


def _stream(generate: Callable[[], Iterator[tuple[Any, Any]]]) -> float:
    metric = rep.LinearCKA()
    for x, y in generate():
        metric.update(x, y)
    return metric.compute()


@case
def streaming_linear_cka(quick: bool) -> list[Row]:
    total, batch, width = (20_000, 1000, 32) if quick else (1_000_000, 10_000, 256)
    generate = _batches(total, batch, width)
    ours_s, value, ref_s, reference = race(
        lambda: _stream(generate), lambda: _two_pass_cka(generate), 1
    )
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    baseline = tracemalloc.get_traced_memory()[0]
    _stream(generate)
    peak_mb = (tracemalloc.get_traced_memory()[1] - baseline) / 2**20
    tracemalloc.stop()
    relative = abs(value - reference) / abs(reference)
    return [
        Row(
            f"LinearCKA streaming ({total}x{width}, batches of {batch})", ours_s,
            "two-pass float64", ref_s,
            f"peak {peak_mb:.0f} MB < 200 MB", peak_mb < 200,
            f"relative |Δ| vs two-pass {relative:.1e} (<= 1e-10)", relative <= 1e-10,
        )
    ]  # fmt: skip


# ---------------------------------------------------------------------------------------------


def print_table(rows: list[Row], quick: bool) -> None:
    headers = ["case", "simfunc s", "reference", "ref s", "ratio", "target", "accuracy"]
    lines = [
        [
            row.case,
            f"{row.simfunc_s:.4f}",
            row.reference,
            f"{row.reference_s:.4f}",
            f"{row.ratio:.3f}",
            f"{row.target} {'(not judged)' if quick else ('ok' if row.target_met else 'MISS')}",
            f"{row.accuracy} {'ok' if row.accurate else 'FAIL'}",
        ]
        for row in rows
    ]
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *lines)]
    for line in [headers, ["-" * w for w in widths], *lines]:
        print("  ".join(str(cell).ljust(w) for cell, w in zip(line, widths)).rstrip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke sizes")
    parser.add_argument("--case", default="", help="run only cases whose name contains this")
    args = parser.parse_args(argv)
    rows: list[Row] = []
    for function in CASES:
        if args.case in function.__name__:
            print(f"running {function.__name__} ...", file=sys.stderr, flush=True)
            rows.extend(function(args.quick))
    print(
        f"numpy {np.__version__}, {os.cpu_count()} CPUs, float64, "
        f"{'quick' if args.quick else 'full'} sizes; ratio = simfunc s / reference s"
    )
    print_table(rows, args.quick)
    failed = [row for row in rows if not row.accurate or (not args.quick and not row.target_met)]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
