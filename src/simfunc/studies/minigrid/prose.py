"""The MiniGrid study's report: its words and tables, read from the typed result.

Everything a reader of the report sees that is not a number computed by the analysis is here:
the section's summary (with the choices the thesis leaves open), the captions, the tables'
layout and the notes. The thesis's claims beside this run's numbers are
:mod:`simfunc.studies.minigrid.claims`. Nothing here reads the results database: every number
comes from a :class:`~simfunc.studies.minigrid.result.MiniGridResult`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import pandas as pd

from simfunc import figures
from simfunc.report import FigureRef, Section, Table
from simfunc.settings import settings_dict

if TYPE_CHECKING:
    from simfunc.studies.minigrid.result import MeanRelation, MiniGridResult
    from simfunc.studies.minigrid.settings import Settings

__all__ = ["VARIANT_TITLES", "FEATURES", "OUTPUT_WORDS", "OUTSIDE", "FIT_LABEL", "PAIR_COLOURS",
           "panel_title", "figure_title", "caption", "tables", "notes", "section"]

VARIANT_TITLES = {"plain": "MiniGrid (average)", "bottleneck": "MiniGrid with bottleneck",
                  "bottleneck-hidden": "bottleneck + hidden layer (not the thesis's)",
                  "bottleneck-16": "16-d bottleneck (not the thesis's)",
                  "bottleneck-tanh": "8-d bottleneck with tanh (not the thesis's)"}
FEATURES = {"plain": "64-d embedding", "bottleneck": "8-d bottleneck",
            "bottleneck-hidden": "8-d bottleneck", "bottleneck-16": "16-d bottleneck",
            "bottleneck-tanh": "8-d tanh bottleneck"}
OUTPUT_WORDS = {"jsd": "JSD", "spearman": "rank coefficient"}

OUTSIDE = "outside the headline population"
FIT_LABEL = "least squares (headline pairs)"
PAIR_COLOURS = {
    "both optimal": figures.PALETTE["green"],
    "optimal vs mediocre": figures.PALETTE["purple"],  # the thesis's magenta
    "optimal vs poor": figures.PALETTE["blue"],
    "other": figures.PALETTE["orange"],
    OUTSIDE: "#d9d9d9",
}

SUMMARY = (
    "PPO agents trained on the MiniGrid Empty rooms ({train_rooms}) from {seeds} seed(s), each "
    "run kept at several points of its training. For each test room and each training room, "
    "every pair of agents trained on that room plays the test room, the states both visited "
    "are pooled, and on them the pair's features are compared by linear CKA and its action "
    "distributions by the Jensen–Shannon divergence and the Spearman rank coefficient. The "
    "bottleneck network (§3.5.1) maps the 64-d embedding to 8 dimensions and then straight to "
    "the final linear actor and critic layers; its CKA is of those 8-d features. Colours: the "
    "pair's quality on its training room (green both optimal, R > 0.8; magenta optimal vs "
    "mediocre; blue optimal vs poor, R ≤ 0.2; orange anything else; grey pairs outside the "
    "headline population).\n\n"
    "Headline population: {population}. The thesis compares agents of different runs and "
    "ignores agents on sub-optimal paths; simfunc reads the latter as the runs whose training "
    "did not end in an optimal agent (a run's earlier, poorer save points stay when it ends "
    "optimal, as the thesis's optimal-vs-mediocre and optimal-vs-poor pairs need). Every pair "
    "is recorded; the populations table shows the headline in the other populations.\n\n"
    "Choices the thesis leaves open: JSD is in bits (base 2, between 0 and 1), averaged over "
    "the pooled states; the rank coefficient is Spearman's correlation of the two agents' "
    "action probabilities in a state, averaged over the states; the pooled states keep each "
    "visit ({states}); an agent's quality is the mean return of its stochastic policy over "
    "{eval_episodes} seeded episodes of its training room; the untrained agent (step 0) of a "
    "run is one of its save points.\n\n"
    "The means over cells come with network-level inference: the p-value relabels agents "
    "within their training room (Mantel test; approximate when same-run pairs are left out), "
    "the interval redraws whole training runs within each training room; the verdicts use "
    "that interval only. With too few runs per training room (two, or three) too few "
    "resamples keep two runs in every cell and there is no interval: the verdict is then "
    "inconclusive and says so. The bottleneck's effects (bottleneck minus plain) have "
    "intervals that redraw each variant's runs independently. Pair-level values, treating "
    "pairs as independent, are given beside them."
)


def panel_title(train: int, test: int) -> str:
    return f"train {train}×{train} · test {test}×{test}"


def figure_title(variant: str, output: str) -> str:
    return (f"{VARIANT_TITLES[variant]}: CKA of the {FEATURES[variant]} vs "
            f"{OUTPUT_WORDS[output]}")


def caption(variant: str, output: str) -> str:
    figure = {("plain", "jsd"): "Figure 3.6", ("bottleneck", "jsd"): "Figure 3.8"}.get(
        (variant, output), "appendix figure")
    return (f"The thesis's {figure} redrawn ({VARIANT_TITLES[variant]}): rows are test rooms, "
            "columns training rooms; each point a pair of agents trained on that column's room, "
            f"linear CKA of their features against the {OUTPUT_WORDS[output]} of their action "
            "distributions on the pooled states. Grey: recorded pairs outside the headline "
            "population. Titles: least-squares slope and Spearman's ρ of the headline pairs.")


# ---------------------------------------------------------------------------------- tables


def _shown_ci(mean: MeanRelation | None) -> str:
    return "n/a" if mean is None or mean.ci is None else f"{mean.ci[0]:.3f} to {mean.ci[1]:.3f}"


def population_table(result: MiniGridResult) -> Table:
    rows = []
    for entry in result.populations:
        for variant, n_pairs in entry.n_pairs.items():
            row = {"population": entry.name + (" (headline)" if entry.headline else ""),
                   "variant": variant, "pairs": n_pairs}
            for key, label in (("jsd", "JSD"), ("rank", "rank")):
                mean = getattr(entry, key)[variant]
                row[f"ρ(CKA, {label})"] = mean.rho
                row[f"p ({label})"] = mean.p_value
                row[f"95% CI ({label})"] = _shown_ci(mean)
            row["cells"] = entry.jsd[variant].n_cells
            rows.append(row)
    return Table("The headline means over cells in each population of pairs (network-level p "
                 "and interval where defined): how much the choice of population moves ρ",
                 pd.DataFrame(rows))


def tables(result: MiniGridResult) -> list[Table]:
    from simfunc.studies.minigrid.factor_prose import factor_tables

    out = [population_table(result)]
    if result.factors is not None:
        out += factor_tables(result.factors)
    cell_rows = []
    for variant, variant_result in result.variants.items():
        for cell in variant_result.cells.values():
            cell_rows.append({
                "variant": variant, "train": cell.train_size, "test": cell.test_size,
                "pairs": cell.n_pairs, "in headline": "yes" if cell.in_headline else
                f"no: {cell.left_out}", "ρ(CKA, JSD)": cell.jsd.rho,
                "slope (JSD)": cell.jsd.slope, "ρ(CKA, rank)": cell.rank.rho,
                "slope (rank)": cell.rank.slope, "discordant": cell.jsd.discordant_fraction,
                **cell.categories})
    out.append(Table("Per cell, headline population: Spearman ρ and least-squares slope of JSD "
                     "and of the rank coefficient on CKA; the fraction of discordant pairs of "
                     "pairs (CKA vs JSD); pairs per quality class", pd.DataFrame(cell_rows)))
    if result.agents:
        out.append(Table("Agents per cell and quality (mean return on the training room)",
                         pd.DataFrame([{
                             "variant": a.variant, "train_size": a.train_size,
                             "optimal": a.optimal, "mediocre": a.mediocre, "poor": a.poor,
                             "runs ending optimal": f"{a.runs_solved} of {a.runs}"}
                             for a in result.agents])))
    if result.test_returns:
        frame = pd.DataFrame([vars(r) for r in result.test_returns])
        pivot = (frame.pivot_table(index=["variant", "train_size"], columns="test_size",
                                   values="mean_return").rename_axis(columns=None).reset_index())
        pivot.columns = [f"test {c}×{c}" if isinstance(c, (int,)) else c for c in pivot.columns]
        out.append(Table("Mean return on each test room, averaged over a cell's agents (the "
                         "episodes the pairs are compared on)", pivot))
    other = {variant: r.other_measures for variant, r in result.variants.items()}
    if any(other.values()):
        out.append(Table("Every other representational measure, headline population: mean over "
                         "cells of Spearman ρ(measure, JSD) (pair-level, descriptive; the "
                         "leaderboard ranks them with network-level inference)",
                         pd.DataFrame(other).rename_axis("measure").reset_index()))
    return out


def notes(result: MiniGridResult, settings: Settings) -> list[str]:
    """What the figures and averages leave out (the measures left out of single pairs are in
    the database's notes, which every study's report shows), and what the factor table says."""
    from simfunc.studies.minigrid.factor_prose import reading

    out = [reading(result.factors)] if result.factors is not None else []
    for column, label in (("linear_cka", "CKA"), ("jsd", "JSD"), ("spearman", "rank coefficient")):
        if result.missing.get(column):
            out.append(f"{result.missing[column]} pair(s) have no {label} and are left out of "
                       "the figures and averages that need it")
    if settings.population.suboptimal == "drop-unsolved-runs":
        for count in result.agents:
            unsolved = count.runs - count.runs_solved
            if unsolved:
                out.append(f"{VARIANT_TITLES[count.variant]}, {count.train_size}×"
                           f"{count.train_size}: {unsolved} of {count.runs} runs do not end "
                           "optimal; their agents are left out of the headline")
    for variant, variant_result in result.variants.items():
        missing = [f"train {c.train_size} · test {c.test_size} ({c.left_out})"
                   for c in variant_result.cells.values() if not c.in_headline]
        if missing:
            out.append(f"{VARIANT_TITLES[variant]}: {len(missing)} cell(s) not in the headline "
                       f"means: {'; '.join(missing)}")
    return out


def section(name: str, title: str, result: MiniGridResult, settings: Settings, profile: str,
            figures_: Sequence[FigureRef]) -> Section:
    """The study's report section."""
    from simfunc.studies.minigrid.analysis import population_words
    from simfunc.studies.minigrid.claims import thesis_rows

    rooms = ", ".join(f"{s}×{s}" for s in settings.train_sizes)
    text = SUMMARY.format(
        train_rooms=rooms, seeds=len(settings.seeds),
        population=population_words(settings.population),
        states="each distinct state once" if settings.distinct_states else "with its count",
        eval_episodes=settings.training.eval_episodes)
    return Section(
        id=name, title=title, summary=text, figures=list(figures_), tables=tables(result),
        thesis_rows=thesis_rows(result, settings, profile), notes=notes(result, settings),
        stand_ins={
            "MiniGrid Empty 5/6/8/16 (rl-starter-files)":
                "the minigrid package's MiniGrid-Empty-NxN-v0, 7×7×3 partial view",
            "PPO of rl-starter-files (torch-ac, 16 processes)":
                "stable-baselines3 PPO with the thesis's actor-critic, "
                f"{settings.training.n_envs} rooms",
        },
        settings=settings_dict(settings),
    )
