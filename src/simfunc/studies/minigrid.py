"""Thesis §3.5 and §3.5.1 — reinforcement-learning agents: does CKA predict the policy?

PPO agents (the thesis's actor-critic, :mod:`simfunc.train.ppo`) are trained on the MiniGrid
Empty rooms of size 5, 6, 8 and 16 from several seeds, each kept at several points of its
training, so that every cell (training size × variant) holds optimal (mean return R > 0.8),
mediocre (0.2 < R ≤ 0.8) and poor (R ≤ 0.2) agents; quality is measured on the training room.
For each test room (5, 6, 8) and each training size, every pair of agents trained on that size
is rolled out on the test room (seeded episodes), the states both visited are pooled, and on
them the pair is compared: linear CKA (and every other registered representational measure)
of the 64-d embeddings, and the Jensen–Shannon divergence and Spearman rank coefficient (and
every other output measure) of the action distributions. The second variant (§3.5.1) inserts
a learned 64→8 bottleneck and compares its 8-d output.

The thesis (rl-starter-files PPO) found the average over the 12 cells of Spearman's
ρ(CKA, JSD) to be −0.721 and of ρ(CKA, rank coefficient) 0.58, with least-squares slopes that
differ between grid sizes; with the bottleneck −0.781 and 0.602, slopes more alike, and still
many pairs breaking the trend (Table 3.1, Figures 3.6 and 3.8).

Uncertainty of the averages: a stratified bootstrap over pairs within cells. Each resample
redraws, in every cell independently, that cell's pairs with replacement, recomputes every
cell's ρ and averages them; the interval is the 2.5 and 97.5 percentiles of those averages.
The cells are the fixed design of the study (not a sample), so they are not resampled; pairs
that share an agent are not independent, so the interval is, if anything, too narrow.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from simfunc.errors import InputError
from simfunc.report import FigureRef, Section, Table
from simfunc.runner import Plan
from simfunc.settings import settings_dict
from simfunc.studies.base import Selection
from simfunc.studies.common import all_pairs, slug
from simfunc.studies.minigrid_analysis import (
    BOOTSTRAP,
    OUTPUTS,
    PAIR_CATEGORIES,
    QUALITIES,
    VARIANT_TITLES,
    agent_frame,
    average_rho,
    grid_figure,
    other_measures,
    pair_category,
    pair_table,
    slope_spread,
    variant_summary,
)
from simfunc.studies.minigrid_jobs import (
    TEST_RETURN_PREFIX,
    compare_job,
    rollouts_job,
    train_job,
)

__all__ = [
    "NAME",
    "TITLE",
    "THESIS",
    "VARIANTS",
    "Settings",
    "PROFILES",
    "save_schedule",
    "plan",
    "analyse",
    "model_id",
    "cell_name",
    # the analysis's building blocks, from minigrid_analysis
    "PAIR_CATEGORIES",
    "pair_category",
    "average_rho",
    "slope_spread",
]

NAME = "minigrid"
TITLE = "MiniGrid agents, with and without a bottleneck (thesis §3.5, §3.5.1)"
# The leaderboard compares every pair of agents, one group per variant (plain, bottleneck).
LEADERBOARD = Selection(group_by="variant")

VARIANTS = ("plain", "bottleneck")
THESIS = {  # Table 3.1
    "plain": {"rho_cka_jsd": -0.721, "rho_cka_rank": 0.58},
    "bottleneck": {"rho_cka_jsd": -0.781, "rho_cka_rank": 0.602},
}
@dataclass(frozen=True)
class Settings:
    """Settings of the MiniGrid study (every one can be overridden).

    train_sizes / test_sizes: Empty room sizes agents are trained / tested on. variants:
    ``plain`` and/or ``bottleneck``. seeds: one training run per seed, size and variant.
    save_steps: per training size, ``"SIZE:STEP/STEP/..."``, the environment steps at which
    each run is kept (the largest is its length); each a multiple of ``n_envs`` × 128, the
    steps of one PPO update (0 keeps the untrained agent). n_envs: PPO's parallel rooms (the
    other PPO settings are :class:`simfunc.train.ppo.PPOConfig`'s). eval_episodes: episodes
    of the training room that measure each kept agent's mean return, and so its quality.
    episodes: episodes each agent plays on each test room (episode i seeded rollout_seed + i);
    max_states: at most this many of an agent's visited states are kept (a uniform sample),
    so a pair is compared on at most twice as many. distinct_states: compare a pair on each
    distinct pooled state once instead of with its visit count. n_permutations / n_resamples:
    permutation tests and bootstraps.
    """

    train_sizes: tuple[int, ...] = (5, 6, 8, 16)
    test_sizes: tuple[int, ...] = (5, 6, 8)
    variants: tuple[str, ...] = VARIANTS
    seeds: tuple[int, ...] = (0, 1)
    save_steps: tuple[str, ...] = (
        "5:0/2048/16384", "6:0/4096/16384", "8:0/8192/24576", "16:0/8192/16384",
    )
    n_envs: int = 8
    eval_episodes: int = 8
    episodes: int = 4
    max_states: int = 200
    distinct_states: bool = False
    rollout_seed: int = 1000
    n_permutations: int = 2_000
    n_resamples: int = 2_000


PROFILES = {
    # 2 seeds × 3 save points per cell (15 pairs), short runs: 5×5, 6×6 and 8×8 reach optimal
    # agents by their last point, 16×16 agents stay poor (the thesis trained those to
    # convergence); quality from 8 evaluation episodes. Both variants, the full 4 × 3 design,
    # 64 jobs: measured 3.0 minutes with --jobs 1, about 2 with --jobs 2 (2 shared cores).
    "quick": Settings(),
    # The full design with 3 seeds × 6 save points per cell (153 pairs per cell), runs long
    # enough to solve 5×5 to 8×8 and usually 16×16 (benchmarks/ppo.py). 72 jobs, about 62
    # CPU-minutes (two thirds training): measured 38 minutes with --jobs 2 on 2 busy cores.
    "standard": Settings(
        seeds=(0, 1, 2),
        save_steps=(
            "5:0/2048/4096/8192/16384/32768",
            "6:0/2048/6144/10240/20480/49152",
            "8:0/4096/12288/16384/24576/65536",
            "16:0/65536/131072/229376/327680/491520",
        ),
        eval_episodes=32, episodes=10, max_states=500,
        n_permutations=10_000, n_resamples=10_000,
    ),
    # Thesis scale. The thesis trained with rl-starter-files (16 parallel rooms, 128 steps
    # each per update); it does not state how many seeds or checkpoints it used. Here: 16
    # rooms, 5 seeds × 9 save points per cell (990 pairs per cell), 16×16 trained to 1M steps.
    "paper": Settings(
        seeds=(0, 1, 2, 3, 4),
        save_steps=(
            "5:0/2048/4096/6144/8192/12288/16384/32768/65536",
            "6:0/2048/4096/8192/12288/16384/24576/49152/98304",
            "8:0/4096/8192/12288/16384/24576/32768/65536/131072",
            "16:0/65536/131072/196608/262144/393216/524288/786432/1048576",
        ),
        n_envs=16, eval_episodes=64, episodes=20, max_states=500,
        n_permutations=10_000, n_resamples=10_000,
    ),
}


# ------------------------------------------------------------------------------------ plan


def save_schedule(settings: Settings) -> dict[int, tuple[int, ...]]:
    """``save_steps`` parsed: training size -> sorted save points, for every training size.

    Raises InputError for a malformed entry, a size listed twice, a step that is not a
    multiple of the PPO update (``n_envs`` × 128 steps) or a training size without save
    points.
    """
    schedule: dict[int, tuple[int, ...]] = {}
    for entry in settings.save_steps:
        size_text, sep, steps_text = str(entry).partition(":")
        try:
            size = int(size_text)
            steps = tuple(sorted({int(step) for step in steps_text.split("/") if step.strip()}))
        except ValueError:
            steps = ()
        if not sep or not steps or min(steps) < 0 or max(steps) == 0:
            raise InputError(
                f"save_steps entry {entry!r} is not 'SIZE:STEP/STEP/...' with steps >= 0 "
                "and a positive last one (e.g. '5:0/2048/16384')"
            )
        if size in schedule:
            raise InputError(f"save_steps lists size {size} twice")
        schedule[size] = steps
    from simfunc.train.ppo import PPOConfig

    rollout = PPOConfig(n_envs=settings.n_envs).rollout_steps
    uneven = sorted({step for steps in schedule.values() for step in steps if step % rollout})
    if uneven:
        raise InputError(
            f"save_steps {', '.join(map(str, uneven))} are not multiples of n_envs × 128 = "
            f"{rollout}, the environment steps of one PPO update"
        )
    missing = [size for size in settings.train_sizes if size not in schedule]
    if missing:
        raise InputError(
            f"save_steps has no entry for training size(s) {', '.join(map(str, missing))}: "
            "add 'SIZE:STEP/STEP/...' for each"
        )
    return schedule


def _check_settings(settings: Settings) -> None:
    from simfunc.envs import check_size

    for size in settings.train_sizes:
        check_size(size, "train_sizes entries")
    for size in settings.test_sizes:
        check_size(size, "test_sizes entries")
    for variant in settings.variants:
        if variant not in VARIANTS:
            raise InputError(
                f"variants entries must be one of {', '.join(VARIANTS)}, got {variant!r}"
            )
    for name in ("train_sizes", "test_sizes", "variants", "seeds"):
        values = getattr(settings, name)
        if not values or len(set(values)) != len(values):
            raise InputError(f"{name} must list at least one value, each once, got {values!r}")


def cell_name(variant: str, size: int) -> str:
    return f"{variant}-{size}x{size}"


def model_id(variant: str, size: int, seed: int, timesteps: int) -> str:
    """The study's name of an agent: ``plain-5x5-s0-t16384``."""
    return f"{cell_name(variant, size)}-s{seed}-t{timesteps}"


def plan(settings: Settings) -> Plan:
    _check_settings(settings)
    schedule = save_schedule(settings)
    jobs = []
    for variant in settings.variants:
        for size in settings.train_sizes:
            cell = cell_name(variant, size)
            train_ids, agents, names = [], [], []
            for seed in settings.seeds:
                points = schedule[size]
                ids = {t: model_id(variant, size, seed, t) for t in points}
                train_ids.append(f"train/{NAME}-{cell}-s{seed}")
                jobs.append(train_job(
                    train_ids[-1], size, seed, variant == "bottleneck", points,
                    eval_episodes=settings.eval_episodes, eval_seed=0, model_ids=ids,
                    variant=variant, hyperparameters={"n_envs": settings.n_envs},
                ))
                agents += [(len(train_ids) - 1, t) for t in points]
                names += [ids[t] for t in points]
            for test in settings.test_sizes:
                rollouts_id = f"rollouts/{NAME}-{cell}-test{test}"
                jobs.append(rollouts_job(
                    rollouts_id, train_ids, agents, names, test_size=test,
                    episodes=settings.episodes, seed=settings.rollout_seed,
                    max_states=settings.max_states,
                ))
                jobs.append(compare_job(
                    f"compare/{NAME}-{cell}-test{test}", rollouts_id, names,
                    all_pairs(len(names)), test_size=test, cell=cell,
                    distinct_states=settings.distinct_states,
                ))
    return Plan(jobs)


def _scalars(db: Any, prefix: str) -> pd.DataFrame:
    frame = db.scalars(study=NAME)
    if frame.empty:
        return frame
    return frame[frame["name"].str.startswith(prefix)]


def analyse(db: Any, settings: Settings, figures_dir: Path) -> tuple[dict[str, Any], Section]:
    agents = agent_frame(db)
    table = pair_table(db, agents)
    summary: dict[str, Any] = {"thesis": THESIS, "bootstrap": BOOTSTRAP,
                               "n_agents": int(len(agents)), "n_pairs": int(len(table))}
    summary["agents"] = {
        variant: {str(size): {q: int(((agents["variant"] == variant)
                                      & (agents["train_size"] == size)
                                      & (agents["quality"] == q)).sum()) for q in QUALITIES}
                  for size in settings.train_sizes}
        for variant in settings.variants
    }
    summary["variants"] = {v: variant_summary(table, v, settings) for v in settings.variants}
    for variant in settings.variants:
        summary["variants"][variant]["other_measures_mean_rho_vs_jsd"] = other_measures(
            table, variant, settings)

    paths = []
    for output in OUTPUTS:
        for variant in settings.variants:
            name = f"cka_vs_{OUTPUTS[output][2]}_{variant}.png"
            paths.append((variant, output,
                          grid_figure(table, variant, output, settings, figures_dir / name)))

    notes = _notes(db, table)
    summary["notes"] = notes
    section = Section(
        id=slug(NAME), title=TITLE,
        summary=(
            "PPO agents trained on the MiniGrid Empty rooms (5×5, 6×6, 8×8, 16×16) from "
            f"{len(settings.seeds)} seed(s), each kept at several points of its training. For "
            "each test room and each training room, every pair of agents trained on that room "
            "plays the test room, the states both visited are pooled, and on them the pair's "
            "features are compared by linear CKA and its action distributions by the "
            "Jensen–Shannon divergence and the Spearman rank coefficient. Colours: the pair's "
            "quality on its training room (green both optimal, R > 0.8; magenta optimal vs "
            "mediocre; blue optimal vs poor, R ≤ 0.2; orange anything else).\n\n"
            f"Averages across cells come with a {BOOTSTRAP}"
        ),
        figures=[FigureRef(path, _caption(variant, output)) for variant, output, path in paths],
        tables=_tables(summary, agents, db, settings),
        comparison=_comparison(summary, settings),
        findings=_findings(summary, settings),
        notes=notes,
        stand_ins={
            "MiniGrid Empty 5/6/8/16 (rl-starter-files)":
                "the minigrid package's MiniGrid-Empty-NxN-v0, 7×7×3 partial view",
            "PPO of rl-starter-files (torch-ac, 16 processes)":
                f"stable-baselines3 PPO with the thesis's actor-critic, {settings.n_envs} rooms",
        },
        settings=settings_dict(settings),
    )
    return summary, section


def _caption(variant: str, output: str) -> str:
    figure = {("plain", "jsd"): "Figure 3.6", ("bottleneck", "jsd"): "Figure 3.8"}.get(
        (variant, output), "appendix figure")
    return (f"The thesis's {figure} redrawn ({VARIANT_TITLES[variant]}): rows are test rooms, "
            "columns training rooms; each point a pair of agents trained on that column's room, "
            f"linear CKA of their features against the {OUTPUTS[output][0]} of their action "
            "distributions on the pooled states. Titles: least-squares slope and Spearman's ρ.")


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _ci(average: dict[str, Any] | None) -> str:
    if not average or average.get("ci") is None:
        return "n/a"
    low, high = average["ci"]
    return f"{low:.3f} to {high:.3f}"


def _comparison(summary: dict[str, Any], settings: Settings) -> pd.DataFrame:
    rows = []
    for variant in settings.variants:
        result = summary["variants"][variant]
        for key, label in (("jsd", "ρ(CKA, JSD)"), ("rank", "ρ(CKA, rank coefficient)")):
            average = result[f"mean_rho_cka_{key}"]
            rows.append({
                "quantity": f"{VARIANT_TITLES[variant]}: mean {label} over cells",
                "thesis": THESIS[variant][f"rho_cka_{key}"],
                "this run": average["mean"] if average else None,
                "95% CI": _ci(average),
                "cells": average["n_cells"] if average else 0,
            })
        spread = result["slope_spread_cka_jsd"]
        rows.append({
            "quantity": f"{VARIANT_TITLES[variant]}: std of the CKA–JSD slopes over cells",
            "thesis": "smaller with the bottleneck" if variant == "bottleneck" else "–",
            "this run": spread["std"] if spread else None, "95% CI": "–",
            "cells": spread["n_cells"] if spread else 0,
        })
    return pd.DataFrame(rows)


def _tables(summary: dict[str, Any], agents: pd.DataFrame, db: Any, settings: Settings
            ) -> list[Table]:
    cell_rows = []
    for variant, result in summary["variants"].items():
        for cell in result["cells"].values():
            cell_rows.append({
                "variant": variant, "train": cell["train_size"], "test": cell["test_size"],
                "pairs": cell["n_pairs"], "ρ(CKA, JSD)": cell["rho_cka_jsd"],
                "slope (JSD)": cell["slope_cka_jsd"], "ρ(CKA, rank)": cell["rho_cka_rank"],
                "slope (rank)": cell["slope_cka_rank"],
                "discordant": cell.get("discordant_fraction_cka_jsd"),
                **{c: cell["categories"][c] for c in PAIR_CATEGORIES},
            })
    tables = [Table("Per cell: Spearman ρ and least-squares slope of JSD and of the rank "
                    "coefficient on CKA; the fraction of discordant pairs of pairs (CKA vs "
                    "JSD); pairs per quality class", pd.DataFrame(cell_rows))]
    if len(agents):
        counts = (agents.groupby(["variant", "train_size", "quality"]).size()
                  .unstack("quality", fill_value=0).reindex(columns=list(QUALITIES), fill_value=0)
                  .rename_axis(columns=None).reset_index())
        tables.append(Table("Agents per cell and quality (mean return on the training room)",
                            counts))
    returns = _scalars(db, TEST_RETURN_PREFIX)
    if len(returns) and len(agents):
        parts = returns["name"].str.removeprefix(TEST_RETURN_PREFIX).str.rsplit("/", n=1)
        frame = pd.DataFrame({"model_id": parts.str[0], "test": parts.str[1],
                              "return": returns["value"].to_numpy()})
        frame = frame.merge(agents[["model_id", "variant", "train_size"]], on="model_id")
        pivot = (frame.groupby(["variant", "train_size", "test"])["return"].mean()
                 .unstack("test").rename_axis(columns=None).reset_index())
        tables.append(Table("Mean return on each test room, averaged over a cell's agents "
                            "(the episodes the pairs are compared on)", pivot))
    other = {variant: result["other_measures_mean_rho_vs_jsd"]
             for variant, result in summary["variants"].items()}
    if any(other.values()):
        tables.append(Table("Every representational measure: mean over cells of Spearman "
                            "ρ(measure, JSD)", pd.DataFrame(other).rename_axis("measure")))
    return tables


def _notes(db: Any, table: pd.DataFrame) -> list[str]:
    """What the figures and averages leave out (the measures left out of single pairs are in
    the database's notes, which every study's report shows)."""
    notes = []
    for column, label in (("linear_cka", "CKA"), ("jsd", "JSD"), ("spearman", "rank coefficient")):
        missing = int(table[column].isna().sum()) if column in table else len(table)
        if missing:
            notes.append(f"{missing} pair(s) have no {label} and are left out of the figures "
                         "and averages that need it")
    return notes


def _findings(summary: dict[str, Any], settings: Settings) -> list[str]:
    out = []
    for variant in settings.variants:
        result = summary["variants"][variant]
        thesis = THESIS[variant]
        jsd, rank = result["mean_rho_cka_jsd"], result["mean_rho_cka_rank"]
        if jsd is None:
            out.append(f"{VARIANT_TITLES[variant]}: no cell has a defined ρ(CKA, JSD).")
            continue
        negative = sum(value < 0 for value in jsd["cells"])
        out.append(
            f"{VARIANT_TITLES[variant]} — thesis: mean ρ(CKA, JSD) = {thesis['rho_cka_jsd']}. "
            f"This run: {jsd['mean']:.3f} (95% CI {_ci(jsd)}) over {jsd['n_cells']} cells, "
            f"negative in {negative} of them — "
            + ("the same direction." if jsd["mean"] < 0 else "NOT the same direction.")
        )
        if rank is not None:
            out.append(
                f"{VARIANT_TITLES[variant]} — thesis: mean ρ(CKA, rank coefficient) = "
                f"{thesis['rho_cka_rank']}. This run: {rank['mean']:.3f} (95% CI {_ci(rank)})."
            )
        by_category = result["mean_jsd_by_category"]
        if by_category["other"] is not None and by_category["optimal vs poor"] is not None:
            out.append(
                f"{VARIANT_TITLES[variant]}: pairs in which no agent is optimal have a mean JSD "
                f"of {by_category['other']:.3f} whatever their CKA (as the thesis saw for "
                "untrained networks in §3.3), pairs of an optimal and a poor agent "
                f"{by_category['optimal vs poor']:.3f}, pairs of two optimal agents "
                f"{_number(by_category['both optimal'])}: two agents that both solve the room "
                "can still choose their actions differently."
            )
        fraction = result["mean_discordant_fraction_cka_jsd"]
        if fraction is not None:
            out.append(
                f"{VARIANT_TITLES[variant]} — thesis: many pairs break the trend. Here on "
                f"average {100 * fraction:.0f}% of the pairs of pairs in a cell are discordant "
                "(the one with the higher CKA has the larger JSD)."
            )
    spreads = {v: summary["variants"][v]["slope_spread_cka_jsd"] for v in settings.variants}
    plain, bottleneck = spreads.get("plain"), spreads.get("bottleneck")
    if plain and plain["std"] is not None:
        out.append(
            f"Thesis: the CKA–JSD slope differs across grid sizes. Plain agents' slopes here "
            f"range {plain['min']:.3f} to {plain['max']:.3f} (std {plain['std']:.3f}, IQR "
            f"{plain['iqr']:.3f})."
        )
    if plain and bottleneck and plain["std"] is not None and bottleneck["std"] is not None:
        alike = bottleneck["std"] < plain["std"]
        relative = ""
        if plain["cv"] is not None and bottleneck["cv"] is not None:
            relative = (f" Relative to their mean slope (coefficient of variation) they spread "
                        f"{bottleneck['cv']:.2f} against {plain['cv']:.2f}.")
        out.append(
            "Thesis: with the bottleneck the slopes are more alike. This run: slope std "
            f"{bottleneck['std']:.3f} with the bottleneck against {plain['std']:.3f} without "
            f"(IQR {bottleneck['iqr']:.3f} against {plain['iqr']:.3f}) — "
            + ("more alike in absolute terms, as in the thesis." if alike
               else "NOT more alike here.") + relative
        )
    counts = summary["agents"]
    lacking = [f"{variant} {size}×{size} has no {q} agent"
               for variant, sizes in counts.items() for size, by_quality in sizes.items()
               for q in QUALITIES if by_quality[q] == 0]
    if lacking:
        out.append("Population: " + "; ".join(lacking) + " (the thesis wanted all three "
                   "qualities in every cell; longer runs or more save points fill them).")
    return out
