"""Per-pair intervals: a bootstrap over examples, the same resampled examples for both models.

For a pair of models with features X_a, X_b and outputs P_a, P_b on the same n examples, each
resample draws n example indices with replacement (one draw per resample, shared by both
models and by every measure) and recomputes each measure on the drawn rows; the interval is
the percentile interval of the resampled values (Efron & Tibshirani 1993, ch. 13) at
``confidence``. For the output measures, which are means over examples of a per-example value,
the resampled value is the mean of the drawn per-example values (exactly the measure on the
drawn rows). Drawn examples repeat, which the neighbourhood and distance-matrix measures
(mutual_knn, rsa) see as ties; read their intervals with that in mind.

A representational measure is resampled only when its first resample shows that
``resamples`` of them fit in ``max_seconds``; otherwise its interval is left empty and a note
says how long it would have taken. A resample on which a measure is undefined (e.g. CCA on
rank-deficient drawn rows) is left out and counted; with fewer than half of them defined the
interval is left empty. Nothing is skipped silently: every empty interval has a note.

An estimator biased at this n (the CCA family, with many features for few examples) shifts
under resampling, because drawn rows repeat; its percentile interval can then miss its own
value, and pairs.csv says so (:data:`simfunc.study.analysis.OUTSIDE`).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from simfunc.compare import Comparison
from simfunc.errors import InputError
from simfunc.measure import OUTPUT_LAYER
from simfunc.study.config import IntervalConfig

__all__ = ["PairInterval", "pair_intervals", "FEATURES_LAYER"]

FEATURES_LAYER = "features"


@dataclass(frozen=True)
class PairInterval:
    """The bootstrap interval of one measure on one pair (``low``/``high`` None: see note)."""

    measure: str
    kind: str  # "representational" or "functional"
    low: float | None
    high: float | None
    resamples: int  # resamples with a defined value
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> PairInterval:
        return cls(**values)


def _percentiles(values: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(values, [tail, 1.0 - tail])
    return float(low), float(high)


def _finish(name: str, kind: str, values: list[float], total: int,
            confidence: float) -> PairInterval:
    defined = np.asarray(values, dtype=float)
    defined = defined[np.isfinite(defined)]
    missing = total - defined.size
    if defined.size < max(2, total / 2):
        return PairInterval(name, kind, None, None, int(defined.size),
                            f"{missing} of {total} resamples undefined: no interval")
    low, high = _percentiles(defined, confidence)
    note = (f"{missing} of {total} resamples undefined and left out; the interval is over "
            "the others" if missing else "")
    return PairInterval(name, kind, low, high, int(defined.size), note)


def pair_intervals(features_a: np.ndarray, features_b: np.ndarray, outputs_a: np.ndarray,
                   outputs_b: np.ndarray, comparison: Comparison, representational: list[str],
                   functional: list[str], settings: IntervalConfig) -> list[PairInterval]:
    """One :class:`PairInterval` per measure that has a value in ``comparison`` (the
    representational ones on :data:`FEATURES_LAYER`, the functional ones on the outputs)."""
    from simfunc import functional as fn
    from simfunc import representational as rep

    n = features_a.shape[0]
    total = settings.resamples
    rep_names = [m for m in representational
                 if comparison.value(FEATURES_LAYER, m) is not None]
    out_names = [m for m in functional if comparison.value(OUTPUT_LAYER, m) is not None]
    if total == 0:
        note = "[intervals] resamples = 0: no interval"
        return ([PairInterval(m, "representational", None, None, 0, note) for m in rep_names]
                + [PairInterval(m, "functional", None, None, 0, note) for m in out_names])
    draws = np.random.default_rng(settings.seed).integers(0, n, size=(total, n))
    results: list[PairInterval] = []

    values: dict[str, list[float]] = {m: [] for m in rep_names}
    active = []
    first = draws[0]
    Xa, Xb = features_a[first], features_b[first]
    for name in rep_names:
        started = time.perf_counter()
        value = _measured(rep, Xa, Xb, [name])[name]
        seconds = time.perf_counter() - started
        if seconds * total > settings.max_seconds:
            results.append(PairInterval(
                name, "representational", None, None, 0,
                f"too costly to resample at this size: one resample took {seconds:.2g} s, so "
                f"{total} would take about {seconds * total:.0f} s, over [intervals] "
                f"max_seconds = {settings.max_seconds:g}"))
            continue
        values[name].append(value)
        active.append(name)
    for rows in draws[1:]:
        if not active:
            break
        measured = _measured(rep, features_a[rows], features_b[rows], active)
        for name in active:
            values[name].append(measured[name])
    for name in active:
        results.append(_finish(name, "representational", values[name], total,
                               settings.confidence))

    for name in out_names:
        per_example = np.asarray(fn.OUTPUT_MEASURES[name](outputs_a, outputs_b, from_logits=True,
                                                          reduction="none"), dtype=float)
        resampled = per_example[draws].mean(axis=1)
        results.append(_finish(name, "functional", list(resampled), total, settings.confidence))
    order = {m: i for i, m in enumerate([*rep_names, *out_names])}
    return sorted(results, key=lambda item: order[item.measure])


def _measured(rep: Any, X: np.ndarray, Y: np.ndarray, names: list[str]) -> dict[str, float]:
    """Each measure on one resample; NaN where it is undefined there."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # drawn rows repeat: conditioning warnings expected
        try:
            measured = rep.compare_each(X, Y, names)
        except InputError:
            return {name: float("nan") for name in names}
    return {name: float("nan") if isinstance(value, InputError) else float(value)
            for name, value in measured.items()}
