"""Which agents and pairs the MiniGrid study relates: the thesis's quality classes and the
population rules.

An agent's quality is the thesis's label of its mean return R on its training room (§3.5):
optimal (R > 0.8), mediocre (0.2 < R ≤ 0.8), poor (R ≤ 0.2); a pair's category is the
thesis's colour of its two qualities (Figures 3.6, 3.8). :func:`agent_frame` and
:func:`pair_table` read the agents and every compared pair from the results database;
:func:`in_population` says which pairs a :class:`~simfunc.studies.minigrid.settings.Population`
keeps, and :func:`headline_pairs` the pairs of one variant a relation is computed over (its
cells with enough pairs for a correlation).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd

from simfunc import stats
from simfunc.errors import InputError
from simfunc.store import OUTPUT_LAYER, ResultsDB
from simfunc.studies.minigrid.jobs import FEATURES_LAYER
from simfunc.studies.minigrid.settings import Population

__all__ = [
    "OPTIMAL_RETURN", "POOR_RETURN", "QUALITIES", "PAIR_CATEGORIES", "PAIR_COLUMNS",
    "THESIS_COLUMNS", "quality", "pair_category", "agent_frame", "pair_table", "with_agents",
    "solved_runs", "in_population",
    "cell_key", "usable", "headline_pairs",
]

OPTIMAL_RETURN = 0.8  # mean return above which an agent is "optimal" (thesis §3.5)
POOR_RETURN = 0.2  # at or below which it is "poor"; in between "mediocre"
QUALITIES = ("optimal", "mediocre", "poor")
# The thesis's colouring of a pair by the qualities of its two agents (Figures 3.6, 3.8).
PAIR_CATEGORIES = ("both optimal", "optimal vs mediocre", "optimal vs poor", "other")
# The measures of the thesis's relations: a cell enters the headline only when each is
# defined over its pairs (at least 3 pairs, no constant side).
THESIS_COLUMNS = ("linear_cka", "jsd", "spearman")


def quality(mean_return: float) -> str:
    """The thesis's label for an agent: "optimal" (R > 0.8), "mediocre" (0.2 < R ≤ 0.8),
    "poor" (R ≤ 0.2)."""
    if isinstance(mean_return, bool) or not isinstance(mean_return, (int, float, np.floating)):
        raise InputError(f"mean_return must be a number, got {mean_return!r}")
    if not math.isfinite(mean_return):
        raise InputError(f"mean_return must be finite, got {mean_return!r}")
    if mean_return > OPTIMAL_RETURN:
        return "optimal"
    return "mediocre" if mean_return > POOR_RETURN else "poor"


def pair_category(quality_a: str, quality_b: str) -> str:
    """The thesis's colour class of a pair from its agents' qualities (order does not matter):
    "both optimal", "optimal vs mediocre", "optimal vs poor", or "other"."""
    for name, value in (("quality_a", quality_a), ("quality_b", quality_b)):
        if value not in QUALITIES:
            raise InputError(f"{name} must be one of {', '.join(QUALITIES)}, got {value!r}")
    low, high = sorted((quality_a, quality_b), key=QUALITIES.index)
    if low != "optimal":
        return "other"
    return {"optimal": "both optimal", "mediocre": "optimal vs mediocre",
            "poor": "optimal vs poor"}[high]


def agent_frame(db: ResultsDB) -> pd.DataFrame:
    """One row per agent: model_id, variant, train_size, run, seed, timesteps, mean_return,
    quality, and run_solved (the run's last save point is optimal)."""
    rows = [
        {"model_id": row.model_id, "variant": row.extra["variant"],
         "train_size": int(row.extra["train_size"]),
         "run": row.extra.get("run") or row.model_id.rsplit("-t", 1)[0], "seed": int(row.seed),
         "timesteps": int(row.extra["timesteps"]), "mean_return": float(row.mean_return)}
        for row in db.models(kind="agent").itertuples()
    ]
    columns = ["model_id", "variant", "train_size", "run", "seed", "timesteps", "mean_return"]
    agents = pd.DataFrame(rows, columns=columns)
    agents["quality"] = [quality(value) for value in agents["mean_return"]]
    return solved_runs(agents)


def pair_table(db: ResultsDB, agents: pd.DataFrame,
               layers: tuple[str, str] = (FEATURES_LAYER, OUTPUT_LAYER)) -> pd.DataFrame:
    """One row per compared pair on one test room: its cell, its agents' qualities and
    category, whether both are save points of one run, and one column per recorded measure
    (NaN where a measure was left out). ``layers``: the representational and the output layer
    the measures are read from (the bottleneck factor table reads others)."""
    wide = db.wide_pairs(layer=list(layers))
    if wide.empty:
        wide = pd.DataFrame(columns=["model_a", "model_b", "test_set"])
    return with_agents(wide, agents)


def with_agents(wide: pd.DataFrame, agents: pd.DataFrame) -> pd.DataFrame:
    """The pairs of ``wide`` (model_a, model_b, test_set and measure columns) whose agents are
    both in ``agents`` (an :func:`agent_frame`, possibly a subset), with the columns
    :func:`pair_table` adds computed from ``agents``."""
    by_id = agents.set_index("model_id")
    keep = [column for column in wide.columns if column not in PAIR_COLUMNS
            or column in ("model_a", "model_b", "test_set")]
    wide = wide[wide["model_a"].isin(by_id.index) & wide["model_b"].isin(by_id.index)][keep].copy()
    wide["test_size"] = wide["test_set"].str.removeprefix("empty-").astype(int)
    for column in ("variant", "train_size"):
        wide[column] = wide["model_a"].map(by_id[column])
    for side in ("a", "b"):
        for column in ("quality", "run", "run_solved"):
            wide[f"{column}_{side}"] = wide[f"model_{side}"].map(by_id[column])
    wide["same_run"] = wide["run_a"] == wide["run_b"]
    wide["category"] = [pair_category(a, b) for a, b in zip(wide["quality_a"], wide["quality_b"])]
    wide["cell"] = [cell_key(train, test)
                    for train, test in zip(wide["train_size"], wide["test_size"])]
    return wide.reset_index(drop=True)


def solved_runs(agents: pd.DataFrame) -> pd.DataFrame:
    """``agents`` with ``run_solved`` recomputed from the save points it holds (after some
    were left out: a run cut short is solved when its last *kept* save point is optimal)."""
    last = agents.sort_values("timesteps").groupby("run")["quality"].last()
    return agents.assign(run_solved=agents["run"].map(last).eq("optimal"))


#: The columns of :func:`pair_table` that are not measures.
PAIR_COLUMNS = frozenset({
    "model_a", "model_b", "test_set", "test_size", "variant", "train_size", "same_run",
    "category", "cell", *(f"{column}_{side}" for side in "ab"
                          for column in ("quality", "run", "run_solved"))})


def cell_key(train_size: int, test_size: int) -> str:
    """A cell's name in the summary: ``train5-test6``."""
    return f"train{int(train_size)}-test{int(test_size)}"


def in_population(table: pd.DataFrame, population: Population) -> pd.Series:
    """Which pairs of :func:`pair_table` belong to ``population``."""
    keep = pd.Series(True, index=table.index)
    if not population.same_run_pairs:
        keep &= ~table["same_run"].astype(bool)
    if population.suboptimal == "drop-unsolved-runs":
        keep &= table["run_solved_a"].astype(bool) & table["run_solved_b"].astype(bool)
    elif population.suboptimal == "drop-mediocre":
        keep &= (table["quality_a"] != "mediocre") & (table["quality_b"] != "mediocre")
    return keep


def usable(rows: pd.DataFrame, output: str) -> pd.DataFrame:
    """The pairs that have both linear CKA and ``output`` (others were left out as undefined)."""
    for column in ("linear_cka", output):
        if column not in rows:
            rows = rows.assign(**{column: np.nan})
    return rows.dropna(subset=["linear_cka", output])


def _cell_undefined(rows: pd.DataFrame, columns: Sequence[str]) -> str | None:
    """Why a cell's pairs cannot give the thesis's correlations, or None."""
    for column in columns:
        values = rows[column].dropna().to_numpy(float) if column in rows else np.array([])
        if len(values) < 3:
            return f"{len(values)} pair(s) with {column}: a correlation needs 3"
        reason = stats.constant_reason(values)
        if reason is not None:
            return f"{column}: {reason}"
    return None


def headline_pairs(rows: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """One variant's pairs of a population restricted to the cells in which every thesis
    measure (:data:`THESIS_COLUMNS`) is defined, and, for each cell left out, why."""
    kept, left_out = [], {}
    for cell, group in rows.groupby("cell", sort=True):
        reason = _cell_undefined(group, THESIS_COLUMNS)
        if reason is None:
            kept.append(group)
        else:
            left_out[str(cell)] = reason
    frame = pd.concat(kept) if kept else rows.iloc[:0]
    return frame.reset_index(drop=True), left_out
