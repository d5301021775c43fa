"""The MiniGrid analysis: from the agents and their compared pairs to a
:class:`~simfunc.studies.minigrid.result.MiniGridResult`.

The headline of a variant (:func:`headline`) is a :class:`~simfunc.studies.base.Headline`:
the population's pairs in the cells where the thesis's measures are defined, one block per
cell, the statistic the mean over cells of the within-cell Spearman ρ (Table 3.1: "the
correlation averaged across all train and test grid sizes"), agents relabelled within their
training size (the cells' pairs are all within one training size; with same-run pairs left
out the design is partial and the p-value approximate), whole training runs redrawn within
each training size (a run's save points are not independent agents). The study's numbers and
the leaderboard's ``minigrid/<variant>`` row both come from it through
:func:`~simfunc.studies.common.relate_headline`. With too few runs per training size the
network bootstrap has too few defined resamples and the relation has no interval: its
verdict is then inconclusive, and says so.

The bottleneck's effect is ``bottleneck − plain`` of the mean ρ(CKA, JSD) and of the spread
of the cells' CKA–JSD slopes (the standard deviation over cells of the standardized slope
slope × s_CKA / s_JSD: scale-free like the coefficient of variation, which the report shows
beside it, but without its division by the mean slope, near 0 for a weak relation, where the
coefficient of variation explodes), each with a network-bootstrap interval
that redraws the two variants' runs independently (:mod:`simfunc.stats.network_difference`).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import numpy as np
import pandas as pd

from simfunc import stats
from simfunc.errors import InputError
from simfunc.stats.network_difference import PairSample, network_difference
from simfunc.studies.base import Headline
from simfunc.studies.common import discordant_fraction, relate_headline
from simfunc.studies.minigrid.population import (
    PAIR_CATEGORIES,
    PAIR_COLUMNS,
    QUALITIES,
    cell_key,
    headline_pairs,
    in_population,
    usable,
)
from simfunc.studies.minigrid.result import (
    AgentCount,
    Cell,
    CellRelation,
    Contrast,
    MeanRelation,
    MiniGridResult,
    PopulationResult,
    SlopeSpread,
    TestReturn,
    VariantResult,
)
from simfunc.studies.minigrid.settings import Population, Settings

__all__ = ["OUTPUTS", "POPULATIONS", "population_words", "slope_spread", "headline",
           "relate_mean", "cell_relation", "variant_result", "analyse_pairs"]

# Output measure -> (expected sign of its relation to CKA, its key in the result).
OUTPUTS = {"jsd": (-1, "jsd"), "spearman": (1, "rank")}

# The populations the report relates, by (same_run_pairs, suboptimal) of their Population.
POPULATIONS = {
    (False, "drop-unsolved-runs"): "thesis: across runs, runs that end optimal",
    (True, "drop-unsolved-runs"): "… with same-run pairs",
    (False, "keep"): "… with the runs that do not end optimal",
    (False, "drop-mediocre"): "across runs, mediocre agents left out (instead of unsolved runs)",
    (True, "keep"): "every recorded pair (the earlier headline)",
}
CUSTOM_POPULATION = "headline (this run's population setting)"


def population_words(population: Population) -> str:
    runs = {"drop-unsolved-runs": "runs that end optimal only",
            "keep": "every run", "drop-mediocre": "mediocre agents left out"}[population.suboptimal]
    pairs = "same-run pairs kept" if population.same_run_pairs else "pairs across runs only"
    return f"{pairs}, {runs}"


def slope_spread(slopes: Any) -> SlopeSpread:
    """:class:`SlopeSpread` of the cells' slopes (std with n − 1; IQR by numpy's linear
    interpolation; cv = std / |mean|, None for one slope or a mean of 0)."""
    values = np.asarray(list(slopes), dtype=float)
    if values.size == 0 or not np.all(np.isfinite(values)):
        raise InputError("slopes must be a non-empty sequence of finite numbers")
    mean = float(values.mean())
    std = float(values.std(ddof=1)) if values.size > 1 else None
    q1, q3 = np.quantile(values, [0.25, 0.75])
    return SlopeSpread(n_cells=int(values.size), mean=mean, std=std, iqr=float(q3 - q1),
                       min=float(values.min()), max=float(values.max()),
                       cv=std / abs(mean) if std is not None and mean != 0 else None)


def headline(group: str, rows: pd.DataFrame, population: Population, settings: Settings,
             draws: int | None = None) -> tuple[Headline, dict[str, str]]:
    """One variant's pairs of ``population`` (already chosen) as a declared headline, and the
    cells left out of it (with why); see the module docstring for the design. ``draws``:
    permutations and resamples (default: the settings' ``n_permutations``, ``n_resamples``)."""
    pairs, left_out = headline_pairs(rows)
    agents = pd.concat([
        pairs[["model_a", "train_size", "run_a"]].set_axis(["model", "train_size", "run"], axis=1),
        pairs[["model_b", "train_size", "run_b"]].set_axis(["model", "train_size", "run"], axis=1),
    ]).drop_duplicates("model")
    size_of = dict(zip(agents["model"], agents["train_size"].astype(int)))
    return Headline(
        group=group, pairs=pairs, population=population_words(population), blocks="cell",
        combine="mean", strata=size_of, clusters=dict(zip(agents["model"], agents["run"])),
        bootstrap_strata=size_of,
        n_permutations=settings.n_permutations if draws is None else draws,
        n_resamples=settings.n_resamples if draws is None else draws), left_out


def cell_relation(rows: pd.DataFrame, output: str) -> CellRelation:
    """One cell's ρ(CKA, output), least-squares line and discordant fraction, or why not."""
    rows = usable(rows, output)
    x, y = rows["linear_cka"].to_numpy(float), rows[output].to_numpy(float)
    try:
        rho = stats.spearman(x, y)
        slope, intercept = stats.linear_fit(x, y)
    except InputError as error:
        return CellRelation(n_pairs=int(len(rows)), undefined=str(error))
    return CellRelation(n_pairs=int(len(rows)), rho=rho, slope=slope, intercept=intercept,
                        discordant_fraction=discordant_fraction(x, y, OUTPUTS[output][0]))


def relate_mean(declared: Headline, output: str) -> MeanRelation:
    """The mean over the headline's cells of ρ(CKA, ``output``), network-level."""
    sign = OUTPUTS[output][0]
    relation = relate_headline(declared, "linear_cka", output, sign)
    cells = tuple(cell_relation(group, output).rho
                  for _, group in declared.pairs.groupby("cell", sort=True))
    return MeanRelation.from_relation(output, sign, relation,
                                      tuple(float(c) for c in cells if c is not None),
                                      declared.population)


def _other_measures(pairs: pd.DataFrame) -> dict[str, float]:
    """Per representational measure, the mean over cells of Spearman ρ(measure, JSD)."""
    from simfunc.functional import OUTPUT_MEASURES

    out = {}
    for measure in [c for c in pairs.columns if c not in PAIR_COLUMNS
                    and c not in OUTPUT_MEASURES and c != "linear_cka"]:
        values = []
        for _, rows in pairs.groupby("cell"):
            rows = rows.dropna(subset=[measure, "jsd"])
            try:
                values.append(stats.spearman(rows[measure], rows["jsd"]))
            except InputError:
                continue
        if values:
            out[measure] = float(np.mean(values))
    return out


def variant_result(variant: str, rows: pd.DataFrame, population: Population,
                   settings: Settings) -> tuple[VariantResult, Headline]:
    """One variant's :class:`VariantResult` over its pairs of ``population`` (``rows``), and
    the headline it related."""
    declared, left_out = headline(f"minigrid/{variant}", rows, population, settings)
    related = {key: relate_mean(declared, output) for output, (_, key) in OUTPUTS.items()}
    cells = {}
    for test in settings.test_sizes:
        for train in settings.train_sizes:
            key = cell_key(train, test)
            in_cell = rows[rows["cell"] == key]
            cells[key] = Cell(
                train_size=train, test_size=test, n_pairs=int(len(in_cell)),
                categories={c: int((in_cell["category"] == c).sum()) for c in PAIR_CATEGORIES},
                in_headline=key not in left_out and len(in_cell) > 0,
                left_out=left_out.get(key, None if len(in_cell) else "no pairs"),
                jsd=cell_relation(in_cell, "jsd"), rank=cell_relation(in_cell, "spearman"))
    spreads = {}
    for key in ("jsd", "rank"):
        slopes = [getattr(c, key).slope for c in cells.values()
                  if c.in_headline and getattr(c, key).slope is not None]
        spreads[key] = slope_spread(slopes) if slopes else None
    fractions = [c.jsd.discordant_fraction for c in cells.values()
                 if c.in_headline and c.jsd.discordant_fraction is not None]
    jsd = rows["jsd"] if "jsd" in rows else pd.Series(np.nan, index=rows.index)
    by_category = {category: (float(values.mean()) if len(
        values := jsd[rows["category"] == category].dropna()) else None)
        for category in PAIR_CATEGORIES}
    return VariantResult(
        variant=variant, n_pairs=int(len(rows)),
        n_agents=int(len(set(rows["model_a"]) | set(rows["model_b"]))), cells=cells,
        jsd=related["jsd"], rank=related["rank"], slopes_jsd=spreads["jsd"],
        slopes_rank=spreads["rank"],
        mean_discordant_fraction=float(np.mean(fractions)) if fractions else None,
        mean_jsd_by_category=by_category, other_measures=_other_measures(declared.pairs),
    ), declared


def _sample(declared: Headline) -> PairSample:
    pairs = declared.pairs.dropna(subset=["linear_cka", "jsd"])
    return PairSample(pairs["linear_cka"].to_numpy(float), pairs["jsd"].to_numpy(float),
                      list(pairs["model_a"]), list(pairs["model_b"]), blocks=list(pairs["cell"]),
                      clusters=declared.clusters, bootstrap_strata=declared.bootstrap_strata)


def contrast(plain: Headline, bottleneck: Headline, statistic: str,
             settings: Settings) -> Contrast:
    """``bottleneck − plain`` of ``statistic`` ("spearman": the mean over cells of ρ(CKA,
    JSD); "slope_sd": the spread of the cells' standardized CKA–JSD slopes), with the
    network-bootstrap interval (:func:`simfunc.stats.network_difference.network_difference`)."""
    try:
        result = network_difference(_sample(plain), _sample(bottleneck), statistic=statistic,
                                    combine="mean", n_resamples=settings.n_resamples, seed=0)
    except InputError as error:
        return Contrast(statistic, None, None, None, None, None, undefined=str(error))
    why = None if result.ci is not None else " ".join(result.notes)
    return Contrast(statistic, result.first, result.second, result.difference, result.ci,
                    why, result.n_resamples_used, result.notes)


def _populations(table: pd.DataFrame, settings: Settings,
                 variants: Mapping[str, VariantResult]) -> tuple[PopulationResult, ...]:
    """The headline relations in every population of :data:`POPULATIONS` (and the settings'
    own), reusing the headline population's results; the others with
    ``settings.population_draws`` permutations and resamples."""
    named = [(name, Population(*key)) for key, name in POPULATIONS.items()]
    if settings.population not in [population for _, population in named]:
        named.insert(0, (CUSTOM_POPULATION, settings.population))
    out = []
    for name, population in named:
        chosen = table[in_population(table, population)]
        is_headline = population == settings.population
        counts, related = {}, {"jsd": {}, "rank": {}}
        for variant in settings.variants:
            rows = chosen[chosen["variant"] == variant]
            counts[variant] = int(len(rows))
            if is_headline:
                related["jsd"][variant] = variants[variant].jsd
                related["rank"][variant] = variants[variant].rank
                continue
            declared, _ = headline(f"minigrid/{variant}", rows, population, settings,
                                   draws=settings.population_draws)
            for output, (_, key) in OUTPUTS.items():
                related[key][variant] = relate_mean(declared, output)
        out.append(PopulationResult(name, population.same_run_pairs, population.suboptimal,
                                    is_headline, counts, related["jsd"], related["rank"]))
    return tuple(out)


def _agent_counts(agents: pd.DataFrame, settings: Settings) -> tuple[AgentCount, ...]:
    out = []
    for variant in settings.variants:
        for size in settings.train_sizes:
            cell = agents[(agents["variant"] == variant) & (agents["train_size"] == size)]
            runs = cell.drop_duplicates("run")
            out.append(AgentCount(variant, size, *(int((cell["quality"] == q).sum())
                                                   for q in QUALITIES),
                                  runs=int(len(runs)), runs_solved=int(runs["run_solved"].sum())))
    return tuple(out)


def analyse_pairs(agents: pd.DataFrame, table: pd.DataFrame, settings: Settings,
                  test_returns: tuple[TestReturn, ...], thesis: Mapping[str, Any],
                  ) -> tuple[MiniGridResult, dict[str, Headline]]:
    """The whole analysis from :func:`~simfunc.studies.minigrid.population.agent_frame` and
    :func:`~simfunc.studies.minigrid.population.pair_table`; also the headline of each
    variant (what the figures colour)."""
    chosen = in_population(table, settings.population)
    variants, declared = {}, {}
    for variant in settings.variants:
        rows = table[chosen & (table["variant"] == variant)]
        variants[variant], declared[variant] = variant_result(variant, rows,
                                                               settings.population, settings)
    stronger = slopes = None
    if "plain" in declared and "bottleneck" in declared:
        stronger = contrast(declared["plain"], declared["bottleneck"], "spearman", settings)
        slopes = contrast(declared["plain"], declared["bottleneck"], "slope_sd", settings)
    missing = {column: int(table[column].isna().sum()) if column in table else int(len(table))
               for column in ("linear_cka", "jsd", "spearman")}
    result = MiniGridResult(
        population=dataclasses.asdict(settings.population), n_agents=int(len(agents)),
        n_pairs=int(len(table)), n_headline_pairs=int(chosen.sum()),
        agents=_agent_counts(agents, settings), variants=variants,
        populations=_populations(table, settings, variants), stronger=stronger,
        slopes_alike=slopes, test_returns=test_returns, missing=missing, thesis=dict(thesis))
    return result, declared
