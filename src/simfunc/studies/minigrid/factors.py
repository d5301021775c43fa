"""The bottleneck factor table: why does the bottleneck weaken ρ(CKA, JSD) here, where the
thesis found it stronger (§3.5.1, Table 3.1: −0.781 against −0.721)?

Each row changes one thing of the headline's design and gives, per variant, the mean over
cells of Spearman ρ(CKA, JSD) with its network-level interval
(:func:`~simfunc.studies.minigrid.analysis.relate_mean`, with ``population_draws``
permutations and resamples), and bottleneck − plain of the two means. The factors:

* **training budget** — the later save points left out (the agents' return distribution
  moves toward poor), or the first (untrained) one;
* **population** — pair categories left out or kept alone, same-run pairs and unsolved runs
  kept;
* **states compared on** — each pooled state once, one fixed state set per cell and room,
  the first agent's visits only (:mod:`~simfunc.studies.minigrid.factor_jobs`);
* **compared layer** — CKA of the 64-d embedding, the layer the bottleneck reads;
* **equally good policies** — the JSD on states where both agents act on a shortest path and
  on the other states; both-optimal pairs whose greedy paths differ left out.

* **the bottleneck itself** — width 16, or a tanh after it: other networks
  (``bottleneck-16``, ``bottleneck-tanh``), a row each when the run trains them (``--set
  variants=plain,bottleneck,bottleneck-16,bottleneck-tanh``); otherwise a row says they are
  not in the run.
"""

from __future__ import annotations

from typing import Callable, Mapping

import pandas as pd

from simfunc.store import OUTPUT_LAYER, ResultsDB
from simfunc.studies.minigrid import factor_jobs as fj
from simfunc.studies.minigrid.analysis import headline, relate_mean
from simfunc.studies.minigrid.jobs import FEATURES_LAYER
from simfunc.studies.minigrid.population import (
    in_population,
    pair_table,
    with_agents,
)
from simfunc.studies.minigrid.result import EqualPolicies, FactorLevel, FactorTable
from simfunc.studies.minigrid.settings import Population, Settings

__all__ = ["factor_table", "supported"]

HEADLINE = "the headline design"


def _mean(values: pd.Series) -> float | None:
    values = values.dropna()
    return float(values.mean()) if len(values) else None


def _level(factor: str, level: str, table: pd.DataFrame, keep: pd.Series, population: Population,
           settings: Settings, *, is_headline: bool = False, note: str | None = None,
           qualities: Mapping[str, Mapping[str, int]] | None = None) -> FactorLevel:
    counts, related = {}, {}
    for variant in _compared(settings):
        rows = table[keep & (table["variant"] == variant)]
        counts[variant] = int(len(rows))
        declared, _ = headline(f"minigrid/{variant}", rows, population, settings,
                               draws=settings.population_draws)
        related[variant] = relate_mean(declared, "jsd")
    difference = None
    if "plain" in related and "bottleneck" in related:
        first, second = related["plain"].rho, related["bottleneck"].rho
        if first is not None and second is not None:
            difference = float(second - first)
    return FactorLevel(factor, level, is_headline, counts, related, difference, qualities, note)


def _compared(settings: Settings) -> list[str]:
    """The variants the table relates: the thesis's two (the others are rows of their own)."""
    return [variant for variant in settings.variants if variant in ("plain", "bottleneck")]


def _other_bottlenecks(table: pd.DataFrame, keep: pd.Series, population: Population,
                       settings: Settings) -> list[FactorLevel]:
    """A row per other bottleneck network in the run (``bottleneck-16``, ``bottleneck-tanh``):
    its pairs in the bottleneck column, against plain."""
    words = {"bottleneck-16": "width 16 instead of 8 (bottleneck-16)",
             "bottleneck-tanh": "a tanh after the 8-d layer (bottleneck-tanh)"}
    out = []
    for variant, level in words.items():
        if variant not in settings.variants or "plain" not in settings.variants:
            continue
        chosen = keep & table["variant"].isin(["plain", variant])
        relabelled = table.assign(variant=table["variant"].replace({variant: "bottleneck"}))
        out.append(_level("bottleneck", level, relabelled, chosen, population, settings))
    if not out:
        out.append(FactorLevel(
            "bottleneck", "width 16 instead of 8; a tanh after it", False,
            {v: 0 for v in _compared(settings)}, {}, None,
            note="not in this run: add variants bottleneck-16 and bottleneck-tanh (each trains "
                 "its own agents), e.g. --set variants=plain,bottleneck,bottleneck-16,"
                 "bottleneck-tanh"))
    return out


def _qualities(agents: pd.DataFrame, settings: Settings) -> dict[str, dict[str, int]]:
    return {variant: {q: int(((agents["variant"] == variant) & (agents["quality"] == q)).sum())
                      for q in ("optimal", "mediocre", "poor")}
            for variant in _compared(settings)}


def _budget_levels(agents: pd.DataFrame, wide: pd.DataFrame, settings: Settings
                   ) -> list[FactorLevel]:
    """The headline population with save points left out: the later ones (a smaller budget,
    the return distribution moved toward poor agents; a run keeps its "solved" label, read at
    its last save point) or the first (the untrained agents)."""
    rank = agents.groupby("run")["timesteps"].rank(method="dense").astype(int)
    points = int(rank.max()) if len(rank) else 0
    chosen = [(f"only each run's first {kept} of {points} save points", rank <= kept)
              for kept in range(points - 1, max(points - 3, 1), -1)]
    if points >= 3:
        chosen.append((f"the first save point of {points} (untrained) left out", rank >= 2))
    out = []
    for level, keep in chosen:
        table = with_agents(wide, agents[keep])
        out.append(_level(
            "training budget", level, table, in_population(table, settings.population),
            settings.population, settings, qualities=_qualities(agents[keep], settings)))
    return out


def factor_table(db: ResultsDB, agents: pd.DataFrame, table: pd.DataFrame,
                 settings: Settings) -> FactorTable | None:
    """The factor table of a run whose settings had ``factors`` on (None otherwise, or when
    no factor comparison is recorded)."""
    if not settings.factors:
        return None
    if db.pairs(layer=fj.EMBEDDING).empty:
        return None
    population = settings.population
    thesis = in_population(table, population)
    category = table["category"]
    levels = [_level("—", HEADLINE, table, thesis, population, settings, is_headline=True,
                     qualities=_qualities(agents, settings))]
    wide = db.wide_pairs(layer=[FEATURES_LAYER, OUTPUT_LAYER])
    levels += _budget_levels(agents, wide, settings)

    def rows_where(test: Callable[[pd.DataFrame], pd.Series]) -> pd.Series:
        return thesis & test(table)

    for level, keep in (
        ("optimal-vs-poor pairs left out", rows_where(lambda t: category != "optimal vs poor")),
        ("optimal-vs-mediocre pairs left out",
         rows_where(lambda t: category != "optimal vs mediocre")),
        ("pairs with an optimal agent only", rows_where(lambda t: category != "other")),
        ("pairs of two non-optimal agents only (\"everything else\")",
         rows_where(lambda t: category == "other")),
    ):
        levels.append(_level("population", level, table, keep, population, settings))
    for level, other in (("same-run pairs kept", Population(True, population.suboptimal)),
                         ("runs that never end optimal kept", Population(
                             population.same_run_pairs, "keep"))):
        levels.append(_level("population", level, table, in_population(table, other), other,
                             settings))

    def with_layers(features: str, output: str) -> pd.DataFrame:
        return pair_table(db, agents, layers=(features, output))

    for name, words in (("distinct", "each pooled state once"),
                        ("cell", "one fixed state set per cell and test room"),
                        ("first", "the first agent's visits only")):
        states = with_layers(fj.features_layer(name), fj.output_layer(name))
        levels.append(_level("states compared on", words, states,
                             in_population(states, population), population, settings))
    embedding = with_layers(fj.EMBEDDING, OUTPUT_LAYER)
    levels.append(_level(
        "compared layer", "the 64-d embedding (what the bottleneck reads)", embedding,
        in_population(embedding, population), population, settings,
        note="for plain the embedding is the compared layer itself"))
    for name, words in ((fj.BOTH_OPTIMAL, "JSD on states where both act on a shortest path"),
                        (fj.NOT_BOTH_OPTIMAL, "JSD on the other states")):
        split = with_layers(FEATURES_LAYER, fj.output_layer(name))
        levels.append(_level("equally good policies", words, split,
                             in_population(split, population), population, settings))
    policy = db.wide_pairs(layer=fj.POLICY)
    merged = table.merge(policy, on=["model_a", "model_b", "test_set"], how="left",
                         suffixes=("", "_policy"))
    differ = merged["greedy_paths_differ"].fillna(0).to_numpy() > 0.5
    both_optimal = (category == "both optimal").to_numpy()
    levels.append(_level("equally good policies",
                         "both-optimal pairs whose greedy paths differ left out", table,
                         thesis & ~pd.Series(both_optimal & differ, index=table.index),
                         population, settings))
    levels += _other_bottlenecks(table, thesis, population, settings)
    equal = {}
    for variant in _compared(settings):
        chosen = merged[thesis.to_numpy() & both_optimal
                        & (merged["variant"] == variant).to_numpy()]
        paths = chosen["greedy_paths_differ"]
        equal[variant] = EqualPolicies(
            n_pairs=int(len(chosen)),
            share_paths_differ=_mean(paths),
            mean_jsd_paths_agree=_mean(chosen.loc[paths < 0.5, "jsd"]),
            mean_jsd_paths_differ=_mean(chosen.loc[paths > 0.5, "jsd"]),
            mean_equal_good_disagreement=_mean(chosen["equal_good_disagreement"])
            if "equal_good_disagreement" in chosen else None)
    return FactorTable(tuple(levels), equal)


def supported(table: FactorTable) -> tuple[list[FactorLevel], list[FactorLevel]]:
    """Against the headline's bottleneck − plain gap g > 0: the rows that narrow it to at most
    g / 2 (the factor explains at least half of it), and the rows that do not (rows without
    both variants' ρ are in neither). With g ≤ 0 (no gap) nothing is explained: ([], [])."""
    base = next((level for level in table.levels if level.is_headline), None)
    if base is None or base.difference is None or base.difference <= 0:
        return [], []
    narrows, stays = [], []
    for level in table.levels:
        if level.difference is None or level.is_headline:
            continue
        (narrows if level.difference <= base.difference / 2 else stays).append(level)
    return narrows, stays
