"""Speed and accuracy of simfunc's similarity measures against reference implementations.

Each case times simfunc and a reference written here, in the same run on the same data, and
prints both times, their ratio (simfunc / reference) with its target, and an accuracy check.

    python benchmarks/measures.py            # full sizes (minutes on 2 cores)
    python benchmarks/measures.py --quick    # small smoke sizes (targets are not judged)
    python benchmarks/measures.py --case cca # only the cases whose name contains "cca"
    python benchmarks/measures.py --case one_thread  # issue 23's float32 and torch ratios
    python benchmarks/measures.py --case repeated_rows  # RSA, RBF CKA on repeated states

Peer libraries (pytorch-cka, ckatorch, repsim) are loaded when importable, e.g. from a scratch
venv on PYTHONPATH, and skipped otherwise; they are never dependencies.

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


def best_time(
    function: Callable[[], Any], repeats: int, clock: Callable[[], float] = time.perf_counter
) -> tuple[float, Any]:
    """The fastest of ``repeats`` runs (seconds of ``clock``) and the last result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        gc.collect()
        start = clock()
        result = function()
        best = min(best, clock() - start)
    return best, result


def race(
    ours: Callable[[], Any], reference: Callable[[], Any], repeats: int,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[float, Any, float, Any]:
    """Best-of-``repeats`` times of two functions run alternately, so that a change in machine
    load affects both alike: (ours_s, ours_result, reference_s, reference_result).

    ``clock=time.process_time`` (CPU seconds of this process) is the clock for one-thread
    cases: every BLAS call then runs in the calling thread, so CPU time counts exactly the
    work done and not the waits for a core that other processes hold (on a shared machine
    with a load of 10 on 2 cores, wall times of the same call vary by 30 %)."""
    ours_s = reference_s = float("inf")
    ours_result = reference_result = None
    for _ in range(repeats):
        seconds, reference_result = best_time(reference, 1, clock)
        reference_s = min(reference_s, seconds)
        seconds, ours_result = best_time(ours, 1, clock)
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
# CCA family on ill-conditioned features: the cost of the accurate (QR/SVD) route


def _orthogonal(rng: np.random.Generator, width: int) -> np.ndarray:
    Q, R = np.linalg.qr(rng.standard_normal((width, width)))
    return Q * np.sign(np.diag(R))


def _digits_halves() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits pixels (the live ones), split into two 'representations'."""
    from sklearn.datasets import load_digits

    pixels = load_digits().data.astype(np.float64)
    pixels = pixels[:, pixels.std(axis=0) > 0]
    half = pixels.shape[1] // 2
    return pixels[:, :half], pixels[:, half:]


@case
def cca_ill_conditioned(quick: bool) -> list[Row]:
    """Invariance is the truth: cca(X A, Y) must equal cca(X, Y) for invertible A (and for
    per-unit scalings). Both simfunc and the compact covariance reference run on the changed
    features; the error is each one's distance from its own value on the unchanged ones."""
    n, width = (500, 64) if quick else (5000, 512)
    rng = np.random.default_rng(4)
    X = rng.standard_normal((n, width))
    Y = X @ rng.standard_normal((width, width)) / np.sqrt(width) + rng.standard_normal((n, width))
    mapped = X @ (_orthogonal(rng, width) * np.logspace(0, -4, width)) @ _orthogonal(rng, width)
    digits_x, digits_y = _digits_halves()
    digits_mapped = digits_x @ (_orthogonal(rng, digits_x.shape[1])
                                * np.logspace(0, -4, digits_x.shape[1]))
    digits_scaled = digits_x.copy()
    digits_scaled[:, :5] *= 1e-5
    cases = [
        (f"cca, map of condition 1e4 (n={n}, p=q={width})", X, mapped, Y, 3),
        ("cca, digits through a map of condition 1e4", digits_x, digits_mapped, digits_y, 5),
        ("cca, digits with 5 units scaled by 1e-5", digits_x, digits_scaled, digits_y, 5),
    ]
    rows = []
    for label, original, changed, other, repeats in cases:
        ours_s, ours, ref_s, reference = race(
            lambda: rep.cca(changed, other), lambda: _reference_cca_compact(changed, other),
            repeats,
        )
        ours_error = abs(ours - rep.cca(original, other))
        reference_error = abs(reference - _reference_cca_compact(original, other))
        rows.append(Row(
            label, ours_s, "compact covariance + eigh", ref_s,
            "cost shown (QR/SVD route)", True,
            f"invariance |Δ| {ours_error:.1e} (<= 1e-9); reference's {reference_error:.1e}",
            ours_error <= 1e-9,
        ))
    return rows  # fmt: skip


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
# The float32 fast path of linear CKA against float32-native CKAs


def _sim_metric_cka(X: np.ndarray, Y: np.ndarray) -> float:
    """sim_metric's CKA (Ding, Denain & Steinhardt 2021) from its published definition, in the
    input dtype: representations as (neurons, examples), each row centred, each matrix scaled
    to unit Frobenius norm, then ‖BAᵀ‖² / (‖AAᵀ‖ ‖BBᵀ‖)."""
    A, B = X.T, Y.T
    A = A - A.mean(axis=1, keepdims=True)
    B = B - B.mean(axis=1, keepdims=True)
    A = A / np.linalg.norm(A)
    B = B / np.linalg.norm(B)
    similarity = np.linalg.norm(B @ A.T, ord="fro") ** 2
    return float(similarity / (np.linalg.norm(A @ A.T, ord="fro") * np.linalg.norm(B @ B.T, ord="fro")))


def _offset_float32(n: int, width: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, width), dtype=np.float32)
    mix = rng.standard_normal((width, width), dtype=np.float32) / np.float32(np.sqrt(width))
    Y = X @ mix + rng.standard_normal((n, width), dtype=np.float32)
    return X + np.float32(1e4), Y + np.float32(1e4)


def _peer_float32_ckas() -> list[tuple[str, Callable[[Any, Any], float]]]:
    """Installed torch peers that compute CKA on float32 features as given."""
    peers = []
    try:
        import torch
        from cka import cka_from_features  # pytorch-cka

        peers.append(("pytorch-cka cka_from_features (float32, Gram form)",
                      lambda X, Y: float(cka_from_features(torch.from_numpy(X),
                                                           torch.from_numpy(Y)).reshape(-1)[0])))
    except Exception:  # noqa: BLE001 - a peer that does not import is skipped
        pass
    try:
        import torch
        from ckatorch.core import cka_base

        peers.append(("ckatorch cka_base (casts to float64)",
                      lambda X, Y: float(cka_base(torch.from_numpy(X), torch.from_numpy(Y),
                                                  kernel="linear"))))
    except Exception:  # noqa: BLE001
        pass
    return peers


@case
def linear_cka_float32(quick: bool) -> list[Row]:
    """Float32 features with a +1e4 offset: simfunc's fast path (centre in float64, products in
    float32, sums in float64) against sim_metric's float32 CKA, the fastest float32 peer."""
    n, width = (2000, 128) if quick else (10_000, 1024)
    X, Y = _offset_float32(n, width, seed=6)
    exact = rep.linear_cka(X, Y)  # float64 arithmetic on the same float32 inputs
    repeats = 3 if quick else 5
    ours_s, ours, ref_s, reference = race(
        lambda: rep.linear_cka(X, Y, precision="float32"), lambda: _sim_metric_cka(X, Y), repeats
    )
    float64_s, _ = best_time(lambda: rep.linear_cka(X, Y), 2)
    rows = [
        Row(
            f"linear_cka float32 fast path (n={n}, p=q={width}, +1e4)", ours_s,
            "sim_metric CKA, float32 (from its definition)", ref_s,
            "ratio <= 1.0", ours_s / ref_s <= 1.0,
            f"|Δ| vs float64 {abs(ours - exact):.1e} (<= 1e-6); sim_metric's "
            f"{abs(reference - exact):.1e}",
            abs(ours - exact) <= 1e-6,
        ),
        Row(
            f"linear_cka float64 (same data)", float64_s,
            "sim_metric CKA, float32", ref_s, "shown", True, "exact by definition", True,
        ),
    ]
    try:
        import torch

        tx, ty = torch.from_numpy(X), torch.from_numpy(Y)
        torch_s, torch_value = best_time(
            lambda: rep.linear_cka(tx, ty, precision="float32"), repeats)
        rows.append(Row(
            "linear_cka float32 fast path, torch CPU tensors", torch_s,
            "sim_metric CKA, float32", ref_s, "shown (read in place by numpy)", True,
            f"|Δ| vs float64 {abs(torch_value - exact):.1e} (<= 1e-6)",
            abs(torch_value - exact) <= 1e-6,
        ))
    except ImportError:
        pass
    # Peers compute n × n Gram matrices: compared at a smaller size.
    small_n, small_width = (1000, 64) if quick else (3000, 256)
    Xs, Ys = _offset_float32(small_n, small_width, seed=7)
    small_exact = rep.linear_cka(Xs, Ys)
    small_ours_s, small_ours = best_time(lambda: rep.linear_cka(Xs, Ys, precision="float32"), 3)
    for label, peer in _peer_float32_ckas():
        peer_s, peer_value = best_time(lambda: peer(Xs, Ys), 2)
        rows.append(Row(
            f"peer {label} (n={small_n}, p={small_width}, +1e4)", small_ours_s,
            label, peer_s, "shown", True,
            f"|Δ| vs float64: simfunc {abs(small_ours - small_exact):.1e}, peer "
            f"{abs(peer_value - small_exact):.1e}",
            abs(small_ours - small_exact) <= 1e-6,
        ))
    return rows  # fmt: skip


def _plain_float32_cka(X: np.ndarray, Y: np.ndarray) -> float:
    """The plain float32-native CKA: centre in float32, three products, norms in float32."""
    Xc = X - X.mean(axis=0)
    Yc = Y - Y.mean(axis=0)
    return float(
        np.linalg.norm(Xc.T @ Yc) ** 2 / (np.linalg.norm(Xc.T @ Xc) * np.linalg.norm(Yc.T @ Yc))
    )


@case
def linear_cka_one_thread(quick: bool) -> list[Row]:
    """Issue 23's goals at 5,000 × 512, one BLAS thread (numpy's OpenBLAS and torch's own):
    the float32 fast path at least as fast as the float32-native CKAs (sim_metric's, a plain
    centre-and-GEMM one) and within 1e-6 of float64; torch CPU tensors within 1.1× of the same
    numpy arrays, in both precisions. Timed in CPU seconds (``race``'s ``clock``): with one
    thread that is the work done, whatever else the machine runs."""
    import torch
    from threadpoolctl import threadpool_limits

    n, width = (1000, 128) if quick else (5000, 512)
    repeats = 5 if quick else 15
    X, Y = _offset_float32(n, width, seed=6)
    X64, Y64 = X.astype(np.float64), Y.astype(np.float64)
    tx, ty, tx64, ty64 = (torch.from_numpy(a) for a in (X, Y, X64, Y64))
    threads = torch.get_num_threads()
    rows = []
    with threadpool_limits(limits=1):
        torch.set_num_threads(1)
        try:
            exact = rep.linear_cka(X64, Y64)
            for label, peer in (("sim_metric CKA, float32 (from its definition)", _sim_metric_cka),
                                ("plain float32 centre-and-GEMM CKA", _plain_float32_cka)):
                ours_s, ours, ref_s, reference = race(
                    lambda: rep.linear_cka(X, Y, precision="float32"), lambda: peer(X, Y),
                    repeats, clock=time.process_time)
                rows.append(Row(
                    f"linear_cka float32, 1 thread (n={n}, p=q={width}, +1e4)", ours_s, label,
                    ref_s, "ratio <= 1.0", ours_s / ref_s <= 1.0,
                    f"|Δ| vs float64 {abs(ours - exact):.1e} (<= 1e-6); the peer's "
                    f"{abs(reference - exact):.1e}", abs(ours - exact) <= 1e-6,
                ))
            for label, tensors, arrays, options in (
                ("float32 tensors, precision='float32'", (tx, ty), (X, Y),
                 {"precision": "float32"}),
                ("float64 tensors", (tx64, ty64), (X64, Y64), {}),
                ("float32 tensors, float64 arithmetic", (tx, ty), (X, Y), {}),
            ):
                torch_s, torch_value, numpy_s, numpy_value = race(
                    lambda: rep.linear_cka(*tensors, **options),
                    lambda: rep.linear_cka(*arrays, **options), repeats,
                    clock=time.process_time)
                rows.append(Row(
                    f"linear_cka on torch CPU {label}, 1 thread", torch_s,
                    "linear_cka on the same numpy arrays", numpy_s, "ratio <= 1.1",
                    torch_s / numpy_s <= 1.1,
                    f"|Δ| torch vs numpy {abs(torch_value - numpy_value):.1e} (<= 1e-12)",
                    abs(torch_value - numpy_value) <= 1e-12,
                ))
        finally:
            torch.set_num_threads(threads)
    return rows  # fmt: skip


# ---------------------------------------------------------------------------------------------
# compare_all on quick-profile sizes: what GULP and linear predictivity add


@case
def compare_all_new_measures(quick: bool) -> list[Row]:
    sizes = [(360, 64), (1000, 512)] if not quick else [(360, 64)]
    rows = []
    for n, width in sizes:
        rng = np.random.default_rng(8)
        X = rng.standard_normal((n, width))
        Y = X @ rng.standard_normal((width, width)) / np.sqrt(width) + rng.standard_normal((n, width))
        earlier = [name for name in rep.MEASURES if name not in ("gulp", "linear_predictivity")]
        ours_s, _, ref_s, _ = race(
            lambda: rep.compare_all(X, Y), lambda: rep.compare_all(X, Y, names=earlier), 3
        )
        gulp_s, _ = best_time(lambda: rep.gulp(X, Y), 3)
        predictivity_s, _ = best_time(lambda: rep.linear_predictivity(X, Y), 3)
        rows.append(Row(
            f"compare_all, all measures (n={n}, p=q={width})", ours_s,
            "compare_all without gulp, linear_predictivity", ref_s,
            "ratio <= 1.5", ours_s / ref_s <= 1.5,
            f"alone: gulp {gulp_s:.3f} s, linear_predictivity {predictivity_s:.3f} s", True,
        ))
    return rows  # fmt: skip


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
# Repeated examples (MiniGrid's pooled visited states): the grouped path against the expanded


def _visited_states(n: int, k: int, width: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two agents' features on n pooled states of which k are distinct (every one visited)."""
    rng = np.random.default_rng(seed)
    states_x = rng.standard_normal((k, width))
    states_y = (states_x @ rng.standard_normal((width, width)) / np.sqrt(width)
                + 0.7 * rng.standard_normal((k, width)))
    index = np.concatenate([np.arange(k), rng.integers(0, k, n - k)])
    rng.shuffle(index)
    return states_x[index], states_y[index]


@case
def repeated_rows_minigrid(quick: bool) -> list[Row]:
    """RSA and RBF CKA of one pair on MiniGrid-like pooled states (1,000 rows, 250 distinct,
    64 features), as ``compare_each`` computes them for every pair of agents (fresh inputs, so
    no per-model cache helps): the grouped path on the distinct rows against the expanded
    n × n computation (the same code with ``GROUPED_MAX_FRACTION = 0``), one BLAS thread, CPU
    seconds, alternated. Also ``_xp.rankdata`` against ``scipy.stats.rankdata``."""
    from scipy.stats import rankdata as scipy_rankdata
    from threadpoolctl import threadpool_limits

    from simfunc.representational import _grouped, _xp

    n, k, width = (300, 75, 16) if quick else (1000, 250, 64)
    repeats = 3 if quick else 7
    X, Y = _visited_states(n, k, width, seed=21)

    def expanded(name: str) -> float:
        saved = _grouped.GROUPED_MAX_FRACTION
        _grouped.GROUPED_MAX_FRACTION = 0.0
        try:
            return float(rep.compare_each(X, Y, [name])[name])
        finally:
            _grouped.GROUPED_MAX_FRACTION = saved

    rows = []
    with threadpool_limits(limits=1):
        for name in ("rsa", "rsa_euclidean", "rbf_cka"):
            ours_s, ours, ref_s, reference = race(
                lambda name=name: float(rep.compare_each(X, Y, [name])[name]),
                lambda name=name: expanded(name),
                repeats, clock=time.process_time)
            rows.append(Row(
                f"{name}, pooled states (n={n}, {k} distinct, p=q={width}), 1 thread", ours_s,
                "the expanded n x n computation", ref_s, "ratio <= 0.25", ours_s / ref_s <= 0.25,
                f"|Δ| vs expanded {abs(ours - reference):.1e} (<= 1e-12)",
                abs(ours - reference) <= 1e-12,
            ))
        values = np.random.default_rng(22).standard_normal(50_000 if quick else 500_000)
        ours_s, ours, ref_s, reference = race(
            lambda: _xp.rankdata(values), lambda: scipy_rankdata(values), repeats,
            clock=time.process_time)
        rows.append(Row(
            f"rankdata of {values.size} values, 1 thread", ours_s, "scipy.stats.rankdata",
            ref_s, "ratio <= 1.0", ours_s / ref_s <= 1.0,
            "identical ranks" if np.array_equal(ours, reference) else "ranks differ",
            bool(np.array_equal(ours, reference)),
        ))
    return rows  # fmt: skip


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
