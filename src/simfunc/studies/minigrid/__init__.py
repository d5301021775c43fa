"""Thesis §3.5 and §3.5.1 — reinforcement-learning agents: does CKA predict the policy?

PPO agents (the thesis's actor-critic, :mod:`simfunc.nets.actor_critic`, trained by
:mod:`simfunc.train.ppo`) are trained on the MiniGrid Empty rooms of size 5, 6, 8 and 16 from
several seeds, each run kept at several points of its training, so that a cell (training size
× variant) holds optimal (mean return R > 0.8), mediocre (0.2 < R ≤ 0.8) and poor (R ≤ 0.2)
agents; quality is measured on the training room. For each test room (5, 6, 8) and each
training size, every pair of agents trained on that size is rolled out on the test room
(seeded episodes), the states both visited are pooled, and on them the pair is compared: linear
CKA (and every other registered representational measure) of the features, and the
Jensen–Shannon divergence and Spearman rank coefficient (and every other output measure) of
the action distributions. Variants: ``plain`` compares the 64-d embedding; ``bottleneck``
(§3.5.1) inserts a learned 64→8 layer followed directly by the final linear actor and critic
layers and compares its 8-d output; ``bottleneck-hidden`` (not the thesis's, off by default)
keeps a 64-unit tanh layer after the 8-d one.

Population. Every pair of a cell is compared and stored; the analysis relates a population of
them (:class:`Population`). The thesis compares agents of *different* runs and ignores agents
on sub-optimal paths. The headline follows it: pairs of two save points of one run are left
out, and so is every save point of a run whose last save point is not optimal (its training
took a sub-optimal path; its earlier, poorer save points stay only when the run ends optimal,
so the thesis's optimal-vs-mediocre and optimal-vs-poor pairs remain). The report sets the
other populations beside the headline (same-run pairs kept, unsolved runs kept, mediocre
agents dropped instead, every pair) so a reader sees how much the choice moves ρ.

The thesis (rl-starter-files PPO) found the average over the 12 cells of Spearman's
ρ(CKA, JSD) to be −0.721 and of ρ(CKA, rank coefficient) 0.58, with least-squares slopes that
differ between grid sizes; with the bottleneck −0.781 and 0.602, slopes more alike, and still
many pairs breaking the trend (Table 3.1, Figures 3.6 and 3.8).

Inference on the averages is network-level (:func:`simfunc.studies.common.relation_summary`
with a design): the statistic is the mean over cells of the within-cell ρ (blocks = cells);
the permutation test relabels agents within their training size (the cells' pairs are all
within one training size; with same-run pairs left out the design is partial, so the p-value
is approximate); the bootstrap redraws whole training runs within each training size (the save
points of one run are not independent agents). With two runs per cell, as on the quick
profile, too few resamples keep two distinct runs in every cell and the interval is
undefined: the report says so. The pair-level p-value and interval (pairs redrawn within
cells, as if independent) are kept beside them.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from simfunc import figures, stats
from simfunc.errors import InputError
from simfunc.nets.actor_critic import NETWORKS
from simfunc.report import FigureRef
from simfunc.runner import Plan
from simfunc.store import OUTPUT_LAYER, ResultsDB
from simfunc.studies.base import JSON, AnalysisContext, Selection, Study, StudyOutput
from simfunc.studies.common import all_pairs, discordant_fraction, relation_summary
from simfunc.studies.minigrid import jobs, prose
from simfunc.validation import check_bool, check_choice

__all__ = [
    "VARIANTS", "QUALITIES", "PAIR_CATEGORIES", "SUBOPTIMAL", "OPTIMAL_RETURN", "POOR_RETURN",
    "AgentTraining", "Population", "Settings", "PROFILES", "MiniGrid", "STUDY",
    "quality", "pair_category", "model_id", "run_name", "cell_name", "slope_spread",
    "agent_frame", "pair_table", "in_population", "relate_cells",
]

VARIANTS = NETWORKS  # plain, bottleneck (§3.5.1), bottleneck-hidden
OPTIMAL_RETURN = 0.8  # mean return above which an agent is "optimal" (thesis §3.5)
POOR_RETURN = 0.2  # at or below which it is "poor"; in between "mediocre"
QUALITIES = ("optimal", "mediocre", "poor")
# The thesis's colouring of a pair by the qualities of its two agents (Figures 3.6, 3.8).
PAIR_CATEGORIES = ("both optimal", "optimal vs mediocre", "optimal vs poor", "other")
SUBOPTIMAL = ("drop-unsolved-runs", "keep", "drop-mediocre")
# Output measure -> (expected sign of its relation to CKA, its key in the summary).
OUTPUTS = {"jsd": (-1, "jsd"), "spearman": (1, "rank")}


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


# ------------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class AgentTraining:
    """How every agent is trained and kept (the one place to change the training budget).

    save_steps: per training size, ``"SIZE:STEP/STEP/..."``, the environment steps at which
    each run is kept (the largest is its length); each a multiple of ``n_envs`` × 128, the
    steps of one PPO update (0 keeps the untrained agent). n_envs: PPO's parallel rooms (the
    other PPO settings are :class:`simfunc.train.ppo.PPOConfig`'s). eval_episodes: episodes of
    the training room that measure each kept agent's mean return, and so its quality.
    """

    save_steps: tuple[str, ...] = (
        "5:0/2048/16384", "6:0/4096/16384", "8:0/8192/24576", "16:0/8192/16384",
    )
    n_envs: int = 8
    eval_episodes: int = 8

    def schedule(self, train_sizes: Sequence[int]) -> dict[int, tuple[int, ...]]:
        """``save_steps`` parsed: training size -> sorted save points, for every training size.

        Raises InputError for a malformed entry, a size listed twice, a step that is not a
        multiple of the PPO update or a training size without save points.
        """
        from simfunc.train.ppo import PPOConfig

        schedule: dict[int, tuple[int, ...]] = {}
        for entry in self.save_steps:
            size_text, sep, steps_text = str(entry).partition(":")
            try:
                size = int(size_text)
                steps = tuple(sorted({int(step) for step in steps_text.split("/") if step.strip()}))
            except ValueError:
                steps = ()
            if not sep or not steps or min(steps) < 0 or max(steps) == 0:
                raise InputError(
                    f"save_steps entry {entry!r} is not 'SIZE:STEP/STEP/...' with steps >= 0 "
                    "and a positive last one (e.g. '5:0/2048/16384')")
            if size in schedule:
                raise InputError(f"save_steps lists size {size} twice")
            schedule[size] = steps
        rollout = PPOConfig(n_envs=self.n_envs).rollout_steps
        uneven = sorted({step for steps in schedule.values() for step in steps if step % rollout})
        if uneven:
            raise InputError(
                f"save_steps {', '.join(map(str, uneven))} are not multiples of n_envs × 128 = "
                f"{rollout}, the environment steps of one PPO update")
        missing = [size for size in train_sizes if size not in schedule]
        if missing:
            raise InputError(f"save_steps has no entry for training size(s) "
                             f"{', '.join(map(str, missing))}: add 'SIZE:STEP/STEP/...' for each")
        return schedule


@dataclass(frozen=True)
class Population:
    """Which of the compared pairs a relation is computed over.

    same_run_pairs: keep pairs of two save points of one training run (the thesis compares
    agents of different runs). suboptimal, by the thesis's return criterion: ``"drop-unsolved-
    runs"`` leaves out every save point of a run whose last save point is not optimal (the
    thesis ignores agents on sub-optimal paths: the run never found the optimal policy);
    ``"drop-mediocre"`` leaves out every mediocre agent (0.2 < R ≤ 0.8: one that reaches the
    goal by a longer path), the other reading; ``"keep"`` keeps every agent.
    """

    same_run_pairs: bool = False
    suboptimal: str = "drop-unsolved-runs"

    def __post_init__(self) -> None:
        check_bool(self.same_run_pairs, "population.same_run_pairs")
        check_choice(self.suboptimal, "population.suboptimal", SUBOPTIMAL)


@dataclass(frozen=True)
class Settings:
    """Settings of the MiniGrid study (every one can be overridden).

    train_sizes / test_sizes: Empty room sizes agents are trained / tested on. variants:
    networks (``plain``, ``bottleneck``, ``bottleneck-hidden``). seeds: one training run per
    seed, size and variant. training: how each run trains and where it is kept
    (:class:`AgentTraining`). episodes: episodes each agent plays on each test room (episode i
    seeded rollout_seed + i); max_states: at most this many of an agent's visited states are
    kept (a uniform sample), so a pair is compared on at most twice as many. distinct_states:
    compare a pair on each distinct pooled state once instead of with its visit count.
    population: the headline's pairs (:class:`Population`). n_permutations / n_resamples:
    permutation tests and bootstraps.
    """

    train_sizes: tuple[int, ...] = (5, 6, 8, 16)
    test_sizes: tuple[int, ...] = (5, 6, 8)
    variants: tuple[str, ...] = ("plain", "bottleneck")
    seeds: tuple[int, ...] = (0, 1)
    training: AgentTraining = AgentTraining()
    episodes: int = 4
    max_states: int = 200
    distinct_states: bool = False
    rollout_seed: int = 1000
    population: Population = Population()
    n_permutations: int = 2_000
    n_resamples: int = 2_000


PROFILES = {
    # 2 seeds × 3 save points per cell (15 pairs, 9 of them across runs), short runs: 5×5, 6×6
    # and 8×8 runs usually end optimal, 16×16 runs stay poor (the thesis trained those to
    # convergence), so the headline (solved runs only) has no 16×16 cell. Both variants, the
    # full 4 × 3 design, 64 jobs: measured 3.0 minutes with --jobs 1 (2 shared cores).
    "quick": Settings(),
    # 3 seeds × 6 save points per cell (153 pairs per cell), runs long enough to solve 5×5 to
    # 8×8 and usually 16×16 (benchmarks/ppo.py). 72 jobs, about 62 CPU-minutes (two thirds
    # training): measured 38 minutes with --jobs 2 on 2 busy cores.
    "standard": Settings(
        seeds=(0, 1, 2),
        training=AgentTraining(save_steps=(
            "5:0/2048/4096/8192/16384/32768",
            "6:0/2048/6144/10240/20480/49152",
            "8:0/4096/12288/16384/24576/65536",
            "16:0/65536/131072/229376/327680/491520",
        ), eval_episodes=32),
        episodes=10, max_states=500, n_permutations=10_000, n_resamples=10_000,
    ),
    # Thesis scale. The thesis trained with rl-starter-files (16 parallel rooms, 128 steps
    # each per update); it does not state how many seeds or checkpoints it used. Here: 16
    # rooms, 5 seeds × 9 save points per cell (990 pairs per cell), 16×16 trained to 1M steps.
    "paper": Settings(
        seeds=(0, 1, 2, 3, 4),
        training=AgentTraining(save_steps=(
            "5:0/2048/4096/6144/8192/12288/16384/32768/65536",
            "6:0/2048/4096/8192/12288/16384/24576/49152/98304",
            "8:0/4096/8192/12288/16384/24576/32768/65536/131072",
            "16:0/65536/131072/196608/262144/393216/524288/786432/1048576",
        ), n_envs=16, eval_episodes=64),
        episodes=20, max_states=500, n_permutations=10_000, n_resamples=10_000,
    ),
}


def cell_name(variant: str, size: int) -> str:
    return f"{variant}-{size}x{size}"


def run_name(variant: str, size: int, seed: int) -> str:
    """The study's name of a training run: ``plain-5x5-s0``."""
    return f"{cell_name(variant, size)}-s{seed}"


def model_id(variant: str, size: int, seed: int, timesteps: int) -> str:
    """The study's name of an agent: ``plain-5x5-s0-t16384``."""
    return f"{run_name(variant, size, seed)}-t{timesteps}"


def _check_settings(settings: Settings) -> None:
    from simfunc.envs import check_size

    for size in settings.train_sizes:
        check_size(size, "train_sizes entries")
    for size in settings.test_sizes:
        check_size(size, "test_sizes entries")
    for variant in settings.variants:
        check_choice(variant, "variants entries", VARIANTS)
    for name in ("train_sizes", "test_sizes", "variants", "seeds"):
        values = getattr(settings, name)
        if not values or len(set(values)) != len(values):
            raise InputError(f"{name} must list at least one value, each once, got {values!r}")


# ---------------------------------------------------------------------------------- analysis


def slope_spread(slopes: Sequence[float]) -> dict[str, Any]:
    """How alike the cells' least-squares slopes are: mean, standard deviation (n − 1),
    interquartile range (numpy's linear interpolation), min, max and the coefficient of
    variation std / |mean| (None when the mean is 0 or there is one slope)."""
    values = np.asarray(list(slopes), dtype=float)
    if values.size == 0 or not np.all(np.isfinite(values)):
        raise InputError("slopes must be a non-empty sequence of finite numbers")
    mean = float(values.mean())
    std = float(values.std(ddof=1)) if values.size > 1 else None
    q1, q3 = np.quantile(values, [0.25, 0.75])
    return {
        "n_cells": int(values.size), "mean": mean, "std": std, "iqr": float(q3 - q1),
        "min": float(values.min()), "max": float(values.max()),
        "cv": std / abs(mean) if std is not None and mean != 0 else None,
    }


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
    last = agents.sort_values("timesteps").groupby("run")["quality"].last()
    agents["run_solved"] = agents["run"].map(last).eq("optimal")
    return agents


def pair_table(db: ResultsDB, agents: pd.DataFrame) -> pd.DataFrame:
    """One row per compared pair on one test room: its cell, its agents' qualities and
    category, whether both are save points of one run, and one column per recorded measure
    (NaN where a measure was left out)."""
    wide = db.wide_pairs(layer=[jobs.FEATURES_LAYER, OUTPUT_LAYER])
    by_id = agents.set_index("model_id")
    if wide.empty:
        wide = pd.DataFrame(columns=["model_a", "model_b", "test_set"])
    wide = wide[wide["model_a"].isin(by_id.index) & wide["model_b"].isin(by_id.index)].copy()
    wide["test_size"] = wide["test_set"].str.removeprefix("empty-").astype(int)
    for column in ("variant", "train_size"):
        wide[column] = wide["model_a"].map(by_id[column])
    for side in ("a", "b"):
        for column in ("quality", "run", "run_solved"):
            wide[f"{column}_{side}"] = wide[f"model_{side}"].map(by_id[column])
    wide["same_run"] = wide["run_a"] == wide["run_b"]
    wide["category"] = [pair_category(a, b) for a, b in zip(wide["quality_a"], wide["quality_b"])]
    return wide.reset_index(drop=True)


_PAIR_COLUMNS = {"model_a", "model_b", "test_set", "test_size", "variant", "train_size",
                 "same_run", "category", *(f"{column}_{side}" for side in "ab"
                                           for column in ("quality", "run", "run_solved"))}


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


def _usable(rows: pd.DataFrame, output: str) -> pd.DataFrame:
    """The pairs that have both linear CKA and ``output`` (others were left out as undefined)."""
    for column in ("linear_cka", output):
        if column not in rows:
            rows = rows.assign(**{column: np.nan})
    return rows.dropna(subset=["linear_cka", output])


def _cell(rows: pd.DataFrame, output: str, sign: int) -> dict[str, Any]:
    """Spearman's ρ, the least-squares line and the discordant fraction of one cell's pairs,
    or why they are undefined."""
    x, y = rows["linear_cka"].to_numpy(), rows[output].to_numpy()
    try:
        rho = stats.spearman(x, y)
        slope, intercept = stats.linear_fit(x, y)
    except InputError as error:
        return {"n_pairs": int(len(rows)), "rho": None, "slope": None, "undefined": str(error)}
    return {"n_pairs": int(len(rows)), "rho": rho, "slope": slope, "intercept": intercept,
            "discordant_fraction": discordant_fraction(x, y, sign)}


def relate_cells(table: pd.DataFrame, output: str, settings: Settings, *,
                 inference: bool = True) -> dict[str, Any]:
    """One variant's pairs (already restricted to a population) related cell by cell.

    ``cells``: per (training, test) room, :func:`_cell`. ``mean``: the mean over the cells
    with a defined ρ, with network-level p-value and interval (see the module docstring) when
    ``inference``; ``slopes``: :func:`slope_spread` of their slopes.
    """
    sign = OUTPUTS[output][0]
    cells, defined = {}, []
    for test in settings.test_sizes:
        for train in settings.train_sizes:
            rows = _usable(table[(table["train_size"] == train)
                                 & (table["test_size"] == test)], output)
            cell = {"train_size": train, "test_size": test, **_cell(rows, output, sign)}
            cells[f"train{train}-test{test}"] = cell
            if cell["rho"] is not None:
                defined.append(rows.assign(cell=f"train{train}-test{test}"))
    out: dict[str, Any] = {"cells": cells, "mean": None, "slopes": None}
    if not defined:
        return out
    rows = pd.concat(defined)
    values = [cell["rho"] for cell in cells.values() if cell["rho"] is not None]
    mean: dict[str, Any] = {"spearman": float(np.mean(values)), "n_cells": len(values),
                            "n": int(len(rows)), "cells": values}
    if inference:
        agents = pd.concat([rows[["model_a", "train_size", "run_a"]].set_axis(
            ["model", "train_size", "run"], axis=1), rows[["model_b", "train_size", "run_b"]]
            .set_axis(["model", "train_size", "run"], axis=1)]).drop_duplicates("model")
        size_of = dict(zip(agents["model"], agents["train_size"]))
        relation = relation_summary(
            rows["linear_cka"], rows[output], sign, settings.n_permutations,
            settings.n_resamples, networks=(rows["model_a"], rows["model_b"]),
            design={"blocks": rows["cell"].tolist(), "combine": "mean", "strata": size_of,
                    "bootstrap_strata": size_of,
                    "clusters": dict(zip(agents["model"], agents["run"]))})
        if relation.get("combine") == "mean":  # network-level: its mean over cells is ours
            mean = {**relation, **mean}
        else:  # no network-level inference here: no p-value or interval for a mean over cells
            mean["network_level_undefined"] = relation.get("network_level_undefined",
                                                           relation.get("undefined"))
    out["mean"] = mean
    out["slopes"] = slope_spread([cell["slope"] for cell in cells.values()
                                  if cell["slope"] is not None])
    return out


def _other_measures(table: pd.DataFrame) -> dict[str, float]:
    """Per representational measure, the mean over cells of Spearman ρ(measure, JSD)."""
    from simfunc.functional import OUTPUT_MEASURES

    measures = [column for column in table.columns
                if column not in _PAIR_COLUMNS and column not in OUTPUT_MEASURES]
    out = {}
    for measure in measures:
        values = []
        for _, rows in table.groupby(["train_size", "test_size"]):
            rows = rows.dropna(subset=[measure, "jsd"])
            try:
                values.append(stats.spearman(rows[measure], rows["jsd"]))
            except InputError:
                continue
        if values:
            out[measure] = float(np.mean(values))
    return out


def _cells(related: dict[str, dict[str, Any]], rows: pd.DataFrame) -> dict[str, Any]:
    """The per-cell results of both outputs side by side, with each cell's quality classes."""
    cells: dict[str, Any] = {}
    for output, (_, key) in OUTPUTS.items():
        for name, cell in related[output]["cells"].items():
            merged = cells.setdefault(name, {
                "train_size": cell["train_size"], "test_size": cell["test_size"]})
            in_cell = rows[(rows["train_size"] == cell["train_size"])
                           & (rows["test_size"] == cell["test_size"])]
            merged["n_pairs"] = int(len(in_cell))
            merged["categories"] = {c: int((in_cell["category"] == c).sum())
                                    for c in PAIR_CATEGORIES}
            merged[f"n_pairs_cka_{key}"] = cell["n_pairs"]
            for field in ("rho", "slope", "intercept", "discordant_fraction", "undefined"):
                if field in cell:
                    merged[f"{field}_cka_{key}"] = cell[field]
    return cells


def _variant_summary(rows: pd.DataFrame, settings: Settings) -> dict[str, Any]:
    """One variant's headline: every cell, the means over cells with network-level inference,
    the spread of the slopes, the discordant fraction and the mean JSD per quality class."""
    related = {output: relate_cells(rows, output, settings) for output in OUTPUTS}
    out: dict[str, Any] = {
        "n_pairs": int(len(rows)),
        "n_agents": int(len(set(rows["model_a"]) | set(rows["model_b"]))),
        "cells": _cells(related, rows),
    }
    for output, (_, key) in OUTPUTS.items():
        out[f"mean_rho_cka_{key}"] = related[output]["mean"]
        out[f"slope_spread_cka_{key}"] = related[output]["slopes"]
    fractions = [cell["discordant_fraction_cka_jsd"] for cell in out["cells"].values()
                 if cell.get("discordant_fraction_cka_jsd") is not None]
    out["mean_discordant_fraction_cka_jsd"] = float(np.mean(fractions)) if fractions else None
    jsd = rows["jsd"] if "jsd" in rows else pd.Series(np.nan, index=rows.index)
    out["mean_jsd_by_category"] = {
        category: (float(values.mean()) if len(values := jsd[rows["category"] == category]
                                               .dropna()) else None)
        for category in PAIR_CATEGORIES}
    out["other_measures_mean_rho_vs_jsd"] = _other_measures(rows)
    return out


def _populations(table: pd.DataFrame, settings: Settings,
                 headline: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The headline's relations in every population of :data:`prose.POPULATIONS` (and the
    settings' own one), so a reader sees how much the choice of population moves ρ;
    ``headline`` holds the headline population's variant summaries, reused."""
    named = [(name, Population(*key)) for key, name in prose.POPULATIONS.items()]
    if settings.population not in [population for _, population in named]:
        named.insert(0, (prose.CUSTOM_POPULATION, settings.population))
    out = []
    for name, population in named:
        chosen = table[in_population(table, population)]
        entry: dict[str, Any] = {"name": name, **dataclasses.asdict(population),
                                 "headline": population == settings.population}
        for variant in settings.variants:
            rows = chosen[chosen["variant"] == variant]
            entry[variant] = {"n_pairs": int(len(rows))}
            for output, (_, key) in OUTPUTS.items():
                entry[variant][key] = (
                    headline[variant][f"mean_rho_cka_{key}"] if entry["headline"]
                    else relate_cells(rows, output, settings)["mean"])
        out.append(entry)
    return out


def _grid_figure(rows: pd.DataFrame, headline: pd.Series, variant: str, output: str,
                 settings: Settings, path: Any) -> Any:
    """The thesis's Figure 3.6 / 3.8 (or its appendix twin): rows test room, columns training
    room, CKA against the output measure; the headline's pairs coloured by quality class (the
    line is fitted to them), the other recorded pairs grey."""
    tests, trains = settings.test_sizes, settings.train_sizes
    fig, axes = figures.new_figure(len(tests), len(trains),
                                   panel_size=(3.3, max(2.7, 4.5 / len(tests))))
    fig.set_figwidth(fig.get_figwidth() + 2.2)  # the legend's column
    colours = prose.PAIR_COLOURS
    for r, test in enumerate(tests):
        for c, train in enumerate(trains):
            ax = axes[r, c]
            cell = _usable(rows[(rows["train_size"] == train) & (rows["test_size"] == test)],
                           output)
            chosen = headline.reindex(cell.index, fill_value=False).to_numpy()
            title = prose.panel_title(train, test)
            if cell.empty:
                ax.set_title(f"{title}\nno comparable pairs")
                continue
            groups = [(category, chosen & (cell["category"] == category).to_numpy(),
                       colours[category]) for category in PAIR_CATEGORIES]
            groups.append((prose.OUTSIDE, ~chosen, colours[prose.OUTSIDE]))
            figures.relation_panel(ax, cell["linear_cka"], cell[output], groups=groups,
                                   fit_mask=chosen if chosen.sum() >= 3 else None,
                                   title=title, point_size=14)
            if ax.get_legend() is not None:
                ax.get_legend().remove()
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], marker="o", linestyle="", color=colours[name], label=name)
               for name in (*PAIR_CATEGORIES, prose.OUTSIDE)]
    handles.append(Line2D([], [], color=figures.PALETTE["black"], label=prose.FIT_LABEL))
    fig.legend(handles=handles, loc="outside right center", title="pair of agents")
    fig.supxlabel(figures.AXIS_LABELS["linear_cka"])
    fig.supylabel(figures.AXIS_LABELS[output])
    fig.suptitle(prose.figure_title(variant, output))
    return figures.save_figure(fig, path)


class MiniGrid(Study[Settings]):
    NAME = "minigrid"
    TITLE = "MiniGrid agents, with and without a bottleneck (thesis §3.5, §3.5.1)"
    PROFILES = PROFILES
    # The leaderboard compares every recorded pair of agents, one group per variant; pairs
    # exist only within a training size (relabel agents within it), and the save points of one
    # run are redrawn together.
    LEADERBOARD = Selection(group_by="variant", strata=("train_size",), clusters="run")

    def plan(self, settings: Settings) -> Plan:
        _check_settings(settings)
        schedule = settings.training.schedule(settings.train_sizes)
        planned = []
        for variant in settings.variants:
            for size in settings.train_sizes:
                cell = cell_name(variant, size)
                train_ids, agents, names = [], [], []
                for seed in settings.seeds:
                    points = schedule[size]
                    ids = {t: model_id(variant, size, seed, t) for t in points}
                    run = run_name(variant, size, seed)
                    train_ids.append(f"train/{self.NAME}-{run}")
                    planned.append(jobs.train_job(
                        train_ids[-1], size, seed, variant, points,
                        eval_episodes=settings.training.eval_episodes, eval_seed=0,
                        model_ids=ids, run=run,
                        hyperparameters={"n_envs": settings.training.n_envs}))
                    agents += [(len(train_ids) - 1, t) for t in points]
                    names += [ids[t] for t in points]
                for test in settings.test_sizes:
                    rollouts_id = f"rollouts/{self.NAME}-{cell}-test{test}"
                    planned.append(jobs.rollouts_job(
                        rollouts_id, train_ids, agents, names, test_size=test,
                        episodes=settings.episodes, seed=settings.rollout_seed,
                        max_states=settings.max_states))
                    planned.append(jobs.compare_job(  # every pair: the analysis chooses
                        f"compare/{self.NAME}-{cell}-test{test}", rollouts_id, names,
                        all_pairs(len(names)), test_size=test, cell=cell,
                        distinct_states=settings.distinct_states))
        return Plan(planned)

    def analyse(self, results: ResultsDB, context: AnalysisContext[Settings]) -> StudyOutput:
        settings = context.settings
        agents = agent_frame(results)
        table = pair_table(results, agents)
        headline = in_population(table, settings.population)
        variants = {variant: _variant_summary(table[headline & (table["variant"] == variant)],
                                              settings) for variant in settings.variants}
        summary: dict[str, JSON] = {
            "thesis": prose.THESIS, "population": dataclasses.asdict(settings.population),
            "n_agents": int(len(agents)), "n_pairs": int(len(table)),
            "n_headline_pairs": int(headline.sum()),
            "agents": {variant: {str(size): {q: int(((agents["variant"] == variant)
                                                     & (agents["train_size"] == size)
                                                     & (agents["quality"] == q)).sum())
                                             for q in QUALITIES}
                                 for size in settings.train_sizes}
                       for variant in settings.variants},
            "variants": variants,
            "populations": _populations(table, settings, variants),
        }
        paths = []
        for output in OUTPUTS:
            for variant in settings.variants:
                rows = table[table["variant"] == variant]
                path = context.figures_dir / f"cka_vs_{OUTPUTS[output][1]}_{variant}.png"
                paths.append(FigureRef(
                    _grid_figure(rows, headline, variant, output, settings, path),
                    prose.caption(variant, output)))
        section = prose.section(self.NAME, self.TITLE, summary, settings, paths,
                                prose.tables(summary, agents, results, settings),
                                prose.notes(table, agents, summary, settings))
        return StudyOutput(summary, section)


STUDY = MiniGrid()
