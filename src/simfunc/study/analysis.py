"""What a study of the user's models found: typed results from the finished jobs.

* :class:`ModelResult` -- each model: kind, group, compared layer, accuracy (with labels);
* :class:`PairValue` -- each pair and measure: the value and its bootstrap interval over
  examples (:mod:`.intervals`), or an empty value/interval and the note saying why;
* :class:`RelationRow` -- each (representational, functional) measure pair: Spearman's rho
  over the model pairs with **network-level** inference from
  :func:`simfunc.stats.relate_networks` (Mantel permutation p-value, network-bootstrap
  interval), networks relabelled within the user's ``group`` s (the permutation test's strata)
  when any are given, and redrawn from all the models;
* the measure leaderboard on these models (:func:`simfunc.leaderboard.leaderboard`: rho
  oriented so that positive means "tracks function", ranked per output measure);
* :class:`StudySummary` -- all of it, serialised as ``summary.json`` with ``"schema": 1``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from simfunc.compare import Comparison
from simfunc.errors import InputError
from simfunc.measure import OUTPUT_LAYER
from simfunc.study.config import StudyConfig
from simfunc.study.intervals import FEATURES_LAYER, PairInterval

__all__ = ["ModelResult", "PairValue", "RelationRow", "LeaderboardRow", "StudySummary",
           "pair_values", "relations", "measure_leaderboard", "SCHEMA", "NO_GROUP"]

SCHEMA = 1
#: The note on a value outside its own percentile interval.
OUTSIDE = ("the value lies outside its bootstrap interval: the estimator is biased at this "
           "number of examples (resampled rows repeat, which shifts it); read the interval as "
           "its spread, not as coverage")
NO_GROUP = "(no group)"
LEADERBOARD_GROUP = "these models"


@dataclass(frozen=True)
class ModelResult:
    name: str
    kind: str
    group: str | None
    layer: str
    output: str
    features: int
    classes: int
    accuracy: float | None
    accuracy_note: str = ""


@dataclass(frozen=True)
class PairValue:
    model_a: str
    model_b: str
    measure: str
    kind: str  # representational or functional
    value: float | None
    ci_low: float | None
    ci_high: float | None
    resamples: int  # bootstrap resamples behind the interval
    note: str = ""


@dataclass(frozen=True)
class RelationRow:
    representational: str
    functional: str
    n_pairs: int
    n_networks: int
    spearman: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    kendall: float | None = None
    pair_p_value: float | None = None
    permutation: str = ""
    strata: str = "none"
    note: str = ""


@dataclass(frozen=True)
class LeaderboardRow:
    measure: str
    output_measure: str
    rho: float | None  # oriented: positive = pairs it calls similar have similar outputs
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    rank: int | None
    note: str = ""


@dataclass(frozen=True)
class StudySummary:
    name: str
    n_examples: int
    models: tuple[ModelResult, ...]
    pairs: tuple[PairValue, ...]
    relations: tuple[RelationRow, ...]
    leaderboard: tuple[LeaderboardRow, ...]
    settings: dict[str, Any] = field(default_factory=dict)
    jobs: dict[str, int] = field(default_factory=dict)  # run / cached counts of this run
    schema: int = SCHEMA

    def to_json(self) -> dict[str, Any]:
        values = asdict(self)
        return {"schema": values.pop("schema"), **values}


def _reason(comparison: Comparison, layer: str, measure: str) -> str:
    reasons = [n.reason for n in comparison.notes
               if n.layer == layer and n.measure in (measure, "")]
    return "; ".join(reasons)


def pair_values(model_a: str, model_b: str, comparison: Comparison,
                intervals: list[PairInterval], config: StudyConfig) -> list[PairValue]:
    """One :class:`PairValue` per chosen measure (values missing from ``comparison`` carry
    the comparison's note)."""
    by_measure = {item.measure: item for item in intervals}
    rows = []
    for kind, names, layer in (("representational", config.measures.representational,
                                FEATURES_LAYER),
                               ("functional", config.measures.functional, OUTPUT_LAYER)):
        for name in names:
            value = comparison.value(layer, name)
            interval = by_measure.get(name)
            if value is None:
                rows.append(PairValue(model_a, model_b, name, kind, None, None, None, 0,
                                      "not measured: " + (_reason(comparison, layer, name)
                                                          or "undefined on these features")))
                continue
            outside = (interval is not None and interval.low is not None
                       and not interval.low <= value <= interval.high)
            note = "; ".join(filter(None, [
                interval.note if interval else "", _reason(comparison, layer, name),
                OUTSIDE if outside else ""]))
            rows.append(PairValue(model_a, model_b, name, kind, value,
                                  interval.low if interval else None,
                                  interval.high if interval else None,
                                  interval.resamples if interval else 0, note))
    return rows


def _wide(pairs: list[PairValue]) -> pd.DataFrame:
    frame = pd.DataFrame([asdict(p) for p in pairs])
    return frame.pivot_table(index=["model_a", "model_b"], columns="measure", values="value",
                             aggfunc="first").reset_index()


def _groups(models: list[ModelResult]) -> dict[str, str] | None:
    if not any(m.group for m in models):
        return None
    return {m.name: m.group or NO_GROUP for m in models}


def relations(pairs: list[PairValue], models: list[ModelResult],
              config: StudyConfig) -> list[RelationRow]:
    """Every (representational, functional) measure pair related over the model pairs."""
    from simfunc import stats

    wide = _wide(pairs)
    strata = _groups(models)
    settings = config.statistics
    rows = []
    for rep in config.measures.representational:
        for out in config.measures.functional:
            head = {"representational": rep, "functional": out,
                    "strata": "group" if strata else "none"}
            if rep not in wide or out not in wide:
                rows.append(RelationRow(**head, n_pairs=0, n_networks=0, spearman=None,
                                        ci_low=None, ci_high=None, p_value=None,
                                        note="no pair has both values"))
                continue
            both = wide.dropna(subset=[rep, out])
            networks = set(both["model_a"]) | set(both["model_b"])
            try:
                found = stats.relate_networks(
                    both[rep].to_numpy(float), both[out].to_numpy(float),
                    a=both["model_a"].tolist(), b=both["model_b"].tolist(), strata=strata,
                    n_permutations=settings.permutations,
                    n_resamples=settings.resamples, confidence=settings.confidence,
                    seed=settings.seed)
            except InputError as error:
                rows.append(RelationRow(**head, n_pairs=len(both), n_networks=len(networks),
                                        spearman=None, ci_low=None, ci_high=None, p_value=None,
                                        note=str(error)))
                continue
            ci = found.spearman_ci
            rows.append(RelationRow(
                **head, n_pairs=found.n_pairs, n_networks=found.n_networks,
                spearman=found.spearman, ci_low=None if ci is None else ci[0],
                ci_high=None if ci is None else ci[1], p_value=found.spearman_p,
                kendall=found.kendall, pair_p_value=found.pair_spearman_p,
                permutation=found.permutation, note="; ".join(found.notes)))
    return rows


def _number(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def measure_leaderboard(pairs: list[PairValue], models: list[ModelResult],
                        config: StudyConfig) -> list[LeaderboardRow]:
    """The leaderboard of :mod:`simfunc.leaderboard` over these models' pairs (one group;
    networks are the models, strata their groups)."""
    from simfunc import leaderboard

    wide = _wide(pairs)
    group_of = _groups(models) or {}
    frame = wide.assign(group=LEADERBOARD_GROUP, block=LEADERBOARD_GROUP)
    for side in ("a", "b"):
        names = frame[f"model_{side}"]
        frame[f"network_{side}"] = names
        frame[f"cluster_{side}"] = names
        frame[f"stratum_{side}"] = [group_of.get(name, "all") for name in names]
    measures = [m for m in config.measures.representational if m in frame]
    outputs = [m for m in config.measures.functional if m in frame]
    if not measures or not outputs:
        return []
    board = leaderboard.leaderboard(
        frame, measures=measures, output_measures=outputs,
        n_permutations=config.statistics.permutations, n_resamples=config.statistics.resamples,
        seed=config.statistics.seed, pooled=False)
    return [LeaderboardRow(row["measure"], row["output_measure"], _number(row["rho"]),
                           _number(row["ci_low"]), _number(row["ci_high"]),
                           _number(row["p_value"]),
                           None if pd.isna(row["rank"]) else int(row["rank"]),
                           "" if pd.isna(row["note"]) else str(row["note"]))
            for _, row in board.iterrows()]


def value_matrix(pairs: list[PairValue], names: list[str], measure: str) -> np.ndarray:
    """The (models x models) matrix of one measure (NaN on the diagonal and where missing)."""
    index = {name: i for i, name in enumerate(names)}
    matrix = np.full((len(names), len(names)), np.nan)
    for pair in pairs:
        if pair.measure == measure and pair.value is not None:
            i, j = index[pair.model_a], index[pair.model_b]
            matrix[i, j] = matrix[j, i] = pair.value
    return matrix
