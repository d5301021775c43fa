"""Thesis §3.5 and §3.5.1 — reinforcement-learning agents: does CKA predict the policy?

PPO agents (the thesis's actor-critic, :mod:`simfunc.nets.actor_critic`, trained by
:mod:`simfunc.train.ppo`) are trained on the MiniGrid Empty rooms from several seeds, each run
kept at several points of its training, so that a cell (training size × variant) holds optimal
(mean return R > 0.8), mediocre (0.2 < R ≤ 0.8) and poor (R ≤ 0.2) agents; quality is measured
on the training room. For each test room (5, 6, 8) and each training size, every pair of
agents trained on that size is rolled out on the test room (seeded episodes), the states both
visited are pooled, and on them the pair is compared: linear CKA (and every other registered
representational measure) of the features, and the Jensen–Shannon divergence and Spearman
rank coefficient (and every other output measure) of the action distributions. Variants:
``plain`` compares the 64-d embedding; ``bottleneck`` (§3.5.1) inserts a learned 64→8 layer
followed directly by the final linear actor and critic layers and compares its 8-d output;
``bottleneck-hidden`` (not the thesis's, off by default) keeps a 64-unit tanh layer after the
8-d one.

The thesis (rl-starter-files PPO) found the average over the 12 cells of Spearman's
ρ(CKA, JSD) to be −0.721 and of ρ(CKA, rank coefficient) 0.58, with least-squares slopes that
differ between grid sizes; with the bottleneck −0.781 and 0.602, slopes more alike, and still
many pairs breaking the trend (Table 3.1, Figures 3.6 and 3.8).

The package, one job a module:

* :mod:`~simfunc.studies.minigrid.settings` — settings, profiles, names of runs and agents;
* :mod:`~simfunc.studies.minigrid.jobs` — train agents, roll them out, compare pairs;
* :mod:`~simfunc.studies.minigrid.population` — quality classes and which pairs a relation
  uses (the thesis's population: pairs across runs, runs that end optimal);
* :mod:`~simfunc.studies.minigrid.analysis` — the declared headline
  (:meth:`MiniGrid.headlines`, one per variant, which the leaderboard relates too), the
  network-level means over cells, the bottleneck contrasts; its typed result is
  :mod:`~simfunc.studies.minigrid.result`;
* :mod:`~simfunc.studies.minigrid.grid_figures`, :mod:`~simfunc.studies.minigrid.prose` and
  :mod:`~simfunc.studies.minigrid.claims` — the figures, the report's words and tables, and
  the scorecard claims, all read from the typed result.
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from simfunc.report import FigureRef
from simfunc.runner import Plan
from simfunc.store import ResultsDB
from simfunc.studies.base import AnalysisContext, Headline, Selection, Study, StudyOutput
from simfunc.studies.common import all_pairs
from simfunc.studies.minigrid import factor_jobs, jobs, prose
from simfunc.studies.minigrid.analysis import (
    OUTPUTS,
    analyse_pairs,
    headline,
    slope_spread,
)
from simfunc.studies.minigrid.claims import THESIS
from simfunc.studies.minigrid.factors import factor_table
from simfunc.studies.minigrid.grid_figures import grid_figure
from simfunc.studies.minigrid.population import (
    OPTIMAL_RETURN,
    PAIR_CATEGORIES,
    POOR_RETURN,
    QUALITIES,
    agent_frame,
    in_population,
    pair_category,
    pair_table,
    quality,
)
from simfunc.studies.minigrid.result import MiniGridResult, TestReturn
from simfunc.studies.minigrid.settings import (
    PROFILES,
    SUBOPTIMAL,
    VARIANTS,
    AgentTraining,
    Population,
    Settings,
    cell_name,
    check_settings,
    model_id,
    run_name,
)

__all__ = [
    "VARIANTS", "QUALITIES", "PAIR_CATEGORIES", "SUBOPTIMAL", "OPTIMAL_RETURN", "POOR_RETURN",
    "AgentTraining", "Population", "Settings", "PROFILES", "MiniGrid", "STUDY", "MiniGridResult",
    "quality", "pair_category", "model_id", "run_name", "cell_name", "slope_spread",
    "agent_frame", "pair_table", "in_population", "test_returns",
]


def test_returns(db: ResultsDB, agents: pd.DataFrame) -> tuple[TestReturn, ...]:
    """The mean return of each cell's agents on each test room, from the scalars the rollouts
    recorded."""
    returns = db.scalars(study=jobs.SCALARS_STUDY)
    if not len(returns) or not len(agents):
        return ()
    returns = returns[returns["name"].str.startswith(jobs.TEST_RETURN_PREFIX)]
    parts = returns["name"].str.removeprefix(jobs.TEST_RETURN_PREFIX).str.rsplit("/", n=1)
    frame = pd.DataFrame({"model_id": parts.str[0], "test": parts.str[1].str.removeprefix(
        "empty-"), "value": returns["value"].to_numpy()})
    frame = frame.merge(agents[["model_id", "variant", "train_size"]], on="model_id")
    means = frame.groupby(["variant", "train_size", "test"])["value"].mean()
    return tuple(TestReturn(str(v), int(s), int(t), float(m)) for (v, s, t), m in means.items())


class MiniGrid(Study[Settings]):
    NAME = "minigrid"
    TITLE = "MiniGrid agents, with and without a bottleneck (thesis §3.5, §3.5.1)"
    SECTION = "3.5"
    PROFILES = PROFILES
    RESULT = MiniGridResult
    RUN_FIRST = True  # its analysis (figures, factor table) is the longest
    # Kept for a leaderboard that selects pairs itself: every recorded pair, one group per
    # variant, agents relabelled within a training size, a run's save points redrawn together.
    # The headline the leaderboard relates is :meth:`headlines`.
    LEADERBOARD = Selection(group_by="variant", strata=("train_size",), clusters="run")

    def plan(self, settings: Settings) -> Plan:
        check_settings(settings)
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
                        distinct_states=settings.distinct_states, measures=settings.measures))
                    if settings.factors:
                        planned.append(factor_jobs.factors_job(
                            f"factors/{self.NAME}-{cell}-test{test}", rollouts_id, train_ids,
                            agents, names, all_pairs(len(names)), test_size=test, cell=cell))
        return Plan(planned)

    def headlines(self, results: ResultsDB, settings: Settings) -> list[Headline]:
        """One headline per variant (group ``minigrid/<variant>``): the population's pairs
        (the thesis's: across runs, runs that end optimal), one block per cell, the mean over
        cells, agents relabelled within their training size, runs redrawn within it."""
        table = pair_table(results, agent_frame(results))
        chosen = table[in_population(table, settings.population)]
        return [headline(f"{self.NAME}/{variant}", chosen[chosen["variant"] == variant],
                         settings.population, settings)[0]
                for variant in settings.variants]

    def analyse(self, results: ResultsDB, context: AnalysisContext[Settings]) -> StudyOutput:
        settings = context.settings
        agents = agent_frame(results)
        table = pair_table(results, agents)
        result, _ = analyse_pairs(agents, table, settings, test_returns(results, agents), THESIS)
        result = dataclasses.replace(result, factors=factor_table(results, agents, table,
                                                                  settings))
        chosen = in_population(table, settings.population)
        paths = []
        for output in OUTPUTS:
            for variant in settings.variants:
                rows = table[table["variant"] == variant]
                path = context.figures_dir / f"cka_vs_{OUTPUTS[output][1]}_{variant}.png"
                paths.append(FigureRef(grid_figure(rows, chosen, variant, output, settings, path),
                                       prose.caption(variant, output)))
        section = prose.section(self.NAME, self.TITLE, result, settings, context.profile, paths)
        return StudyOutput(result, section)


STUDY = MiniGrid()
