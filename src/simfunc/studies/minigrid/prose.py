"""The MiniGrid study's report: its words, and its numbers beside the thesis's.

Everything a reader of the report sees that is not a number computed by the analysis is here:
the section's summary (with the choices the thesis leaves open), the captions, the names of the
populations, the tables' layout, and the thesis's findings as
:class:`~simfunc.report.ThesisRow` s, which :mod:`simfunc.report` renders as the findings list
and the "this run beside the thesis" table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Sequence

import pandas as pd

from simfunc import figures
from simfunc.report import FigureRef, Section, Table, ThesisRow, holds, same_sign
from simfunc.settings import settings_dict
from simfunc.studies.common import NETWORK_LEVEL, inference_remark

if TYPE_CHECKING:
    from simfunc.store import ResultsDB
    from simfunc.studies.minigrid import Population, Settings

THESIS = {  # Table 3.1
    "plain": {"rho_cka_jsd": -0.721, "rho_cka_rank": 0.58},
    "bottleneck": {"rho_cka_jsd": -0.781, "rho_cka_rank": 0.602},
}
VARIANT_TITLES = {"plain": "MiniGrid (average)", "bottleneck": "MiniGrid with bottleneck",
                  "bottleneck-hidden": "bottleneck + hidden layer (not the thesis's)"}
FEATURES = {"plain": "64-d embedding", "bottleneck": "8-d bottleneck",
            "bottleneck-hidden": "8-d bottleneck"}
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


# The populations the report relates, by (same_run_pairs, suboptimal) of their Population.
POPULATIONS = {
    (False, "drop-unsolved-runs"): "thesis: across runs, runs that end optimal",
    (True, "drop-unsolved-runs"): "… with same-run pairs",
    (False, "keep"): "… with the runs that do not end optimal",
    (False, "drop-mediocre"): "across runs, mediocre agents left out (instead of unsolved runs)",
    (True, "keep"): "every recorded pair (the earlier headline)",
}
CUSTOM_POPULATION = "headline (this run's population setting)"

SUMMARY = (
    "PPO agents trained on the MiniGrid Empty rooms (5×5, 6×6, 8×8, 16×16) from {seeds} "
    "seed(s), each run kept at several points of its training. For each test room and each "
    "training room, every pair of agents trained on that room plays the test room, the states "
    "both visited are pooled, and on them the pair's features are compared by linear CKA and "
    "its action distributions by the Jensen–Shannon divergence and the Spearman rank "
    "coefficient. The bottleneck network (§3.5.1) maps the 64-d embedding to 8 dimensions and "
    "then straight to the final linear actor and critic layers; its CKA is of those 8-d "
    "features. Colours: the pair's quality on its training room (green both optimal, R > 0.8; "
    "magenta optimal vs mediocre; blue optimal vs poor, R ≤ 0.2; orange anything else; grey "
    "pairs outside the headline population).\n\n"
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
    "the interval redraws whole training runs within each training room. With two runs per "
    "cell too few resamples keep two runs in every cell, and the interval is undefined: more "
    "seeds are needed (standard profile: 3, paper: 5). Pair-level values, treating pairs as "
    "independent, are given beside them."
)


def population_words(population: Population) -> str:
    runs = {"drop-unsolved-runs": "runs that end optimal only",
            "keep": "every run", "drop-mediocre": "mediocre agents left out"}[population.suboptimal]
    pairs = "same-run pairs kept" if population.same_run_pairs else "pairs across runs only"
    return f"{pairs}, {runs}"


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


# ----------------------------------------------------------------------------- thesis rows


def _mean_remark(mean: Mapping[str, Any]) -> str:
    cells = f"Mean over {mean['n_cells']} cells. "
    if mean.get("inference") == NETWORK_LEVEL:
        return cells + inference_remark(mean)
    return cells + ("No p-value or interval: network-level inference is undefined here ("
                    f"{mean.get('network_level_undefined')}).")


def _relation_row(variant: str, result: Mapping[str, Any], key: str) -> ThesisRow:
    mean = result[f"mean_rho_cka_{key}"]
    thesis = THESIS.get(variant, {}).get(f"rho_cka_{key}")
    label = "JSD" if key == "jsd" else "rank coefficient"
    value = None if mean is None else mean["spearman"]
    ci = None if mean is None else mean.get("spearman_ci")
    return ThesisRow(
        quantity=f"{VARIANT_TITLES[variant]}: mean over cells of ρ(CKA, {label})",
        thesis=thesis, value=value,
        claim=(f"higher CKA goes with {'lower JSD' if key == 'jsd' else 'a higher rank coefficient'}"
               if thesis is not None else ""),
        ci=tuple(ci) if ci is not None else None,
        p_value=None if mean is None else mean.get("spearman_p"),
        n=None if mean is None else mean["n"],
        verdict=same_sign(thesis, value) if thesis is not None else None,
        remark="No cell has a defined ρ." if mean is None else _mean_remark(mean),
    )


def thesis_rows(summary: Mapping[str, Any], settings: Settings) -> list[ThesisRow]:
    """The thesis's findings beside this run's numbers (headline population)."""
    variants = summary["variants"]
    rows: list[ThesisRow] = []
    for variant in settings.variants:
        result = variants[variant]
        rows += [_relation_row(variant, result, "jsd"), _relation_row(variant, result, "rank")]
        fraction = result["mean_discordant_fraction_cka_jsd"]
        if fraction is not None:
            rows.append(ThesisRow(
                quantity=f"{VARIANT_TITLES[variant]}: pairs of pairs breaking the CKA–JSD trend",
                thesis="many", value=fraction, claim="many pairs break the trend", percent=True,
                remark="Mean over cells of the fraction of pairs of pairs in which the one with "
                       "the higher CKA has the larger JSD."))
    if "plain" in variants and "bottleneck" in variants:
        rows += _bottleneck_rows(variants["plain"], variants["bottleneck"])
    return rows


def _bottleneck_rows(plain: Mapping[str, Any], bottleneck: Mapping[str, Any]) -> list[ThesisRow]:
    spread_p, spread_b = plain["slope_spread_cka_jsd"], bottleneck["slope_spread_cka_jsd"]
    cv_p = spread_p and spread_p["cv"]
    cv_b = spread_b and spread_b["cv"]
    ranges = "; ".join(f"{name} slopes {s['min']:.3f} to {s['max']:.3f} over {s['n_cells']} cells"
                       for name, s in (("plain", spread_p), ("bottleneck", spread_b)) if s)
    rows = [ThesisRow(
        quantity="coefficient of variation of the CKA–JSD slopes over cells, with the "
                 "bottleneck",
        thesis="smaller than without", value=cv_b, claim="with the bottleneck the slopes are "
        "more alike across grid sizes",
        verdict=holds(None if cv_p is None or cv_b is None else cv_b < cv_p),
        n=spread_b["n_cells"] if spread_b else None, n_of="cells",
        remark=f"Without the bottleneck: {'n/a' if cv_p is None else f'{cv_p:.3f}'} ({ranges}). "
               "Std / |mean| of the per-cell least-squares slopes (scale-free: the two "
               "networks' CKA and JSD ranges differ).")]
    jsd_p, jsd_b = plain["mean_rho_cka_jsd"], bottleneck["mean_rho_cka_jsd"]
    thesis = THESIS["bottleneck"]["rho_cka_jsd"] - THESIS["plain"]["rho_cka_jsd"]
    difference = None if jsd_p is None or jsd_b is None else jsd_b["spearman"] - jsd_p["spearman"]
    rows.append(ThesisRow(
        quantity="mean ρ(CKA, JSD): bottleneck minus plain", thesis=round(thesis, 3),
        value=difference, claim="the relation is stronger with the bottleneck",
        verdict=same_sign(thesis, difference),
        remark="Negative: CKA tracks JSD more closely with the bottleneck."))
    return rows


# ---------------------------------------------------------------------------------- tables


def _shown_ci(mean: Mapping[str, Any] | None) -> str:
    ci = None if mean is None else mean.get("spearman_ci")
    return "n/a" if ci is None else f"{ci[0]:.3f} to {ci[1]:.3f}"


def population_table(summary: Mapping[str, Any], settings: Settings) -> Table:
    rows = []
    for entry in summary["populations"]:
        for variant in settings.variants:
            result = entry[variant]
            row = {"population": entry["name"] + (" (headline)" if entry["headline"] else ""),
                   "variant": variant, "pairs": result["n_pairs"]}
            for key, label in (("jsd", "JSD"), ("rank", "rank")):
                mean = result[key]
                row[f"ρ(CKA, {label})"] = None if mean is None else mean["spearman"]
                row[f"p ({label})"] = None if mean is None else mean.get("spearman_p")
                row[f"95% CI ({label})"] = _shown_ci(mean)
            row["cells"] = None if result["jsd"] is None else result["jsd"]["n_cells"]
            rows.append(row)
    return Table("The headline means over cells in each population of pairs (network-level p "
                 "and interval where defined): how much the choice of population moves ρ",
                 pd.DataFrame(rows))


def tables(summary: Mapping[str, Any], agents: pd.DataFrame, results: ResultsDB,
           settings: Settings) -> list[Table]:
    from simfunc.studies.minigrid import PAIR_CATEGORIES, QUALITIES
    from simfunc.studies.minigrid.jobs import TEST_RETURN_PREFIX

    out = [population_table(summary, settings)]
    cell_rows = []
    for variant, result in summary["variants"].items():
        for cell in result["cells"].values():
            cell_rows.append({
                "variant": variant, "train": cell["train_size"], "test": cell["test_size"],
                "pairs": cell["n_pairs"], "ρ(CKA, JSD)": cell.get("rho_cka_jsd"),
                "slope (JSD)": cell.get("slope_cka_jsd"), "ρ(CKA, rank)": cell.get("rho_cka_rank"),
                "slope (rank)": cell.get("slope_cka_rank"),
                "discordant": cell.get("discordant_fraction_cka_jsd"),
                **{c: cell["categories"][c] for c in PAIR_CATEGORIES}})
    out.append(Table("Per cell, headline population: Spearman ρ and least-squares slope of JSD "
                     "and of the rank coefficient on CKA; the fraction of discordant pairs of "
                     "pairs (CKA vs JSD); pairs per quality class", pd.DataFrame(cell_rows)))
    if len(agents):
        counts = (agents.groupby(["variant", "train_size", "quality"]).size()
                  .unstack("quality", fill_value=0).reindex(columns=list(QUALITIES), fill_value=0)
                  .rename_axis(columns=None))
        runs = agents.drop_duplicates("run").groupby(["variant", "train_size"])["run_solved"]
        counts["runs ending optimal"] = runs.sum().astype(int).astype(str) + " of " + \
            runs.size().astype(str)
        out.append(Table("Agents per cell and quality (mean return on the training room)",
                         counts.reset_index()))
    returns = results.scalars(study="minigrid")
    if len(returns):
        returns = returns[returns["name"].str.startswith(TEST_RETURN_PREFIX)]
    if len(returns) and len(agents):
        parts = returns["name"].str.removeprefix(TEST_RETURN_PREFIX).str.rsplit("/", n=1)
        frame = pd.DataFrame({"model_id": parts.str[0], "test": parts.str[1],
                              "return": returns["value"].to_numpy()})
        frame = frame.merge(agents[["model_id", "variant", "train_size"]], on="model_id")
        pivot = (frame.groupby(["variant", "train_size", "test"])["return"].mean()
                 .unstack("test").rename_axis(columns=None).reset_index())
        out.append(Table("Mean return on each test room, averaged over a cell's agents (the "
                         "episodes the pairs are compared on)", pivot))
    other = {variant: result["other_measures_mean_rho_vs_jsd"]
             for variant, result in summary["variants"].items()}
    if any(other.values()):
        out.append(Table("Every representational measure, headline population: mean over "
                         "cells of Spearman ρ(measure, JSD)",
                         pd.DataFrame(other).rename_axis("measure").reset_index()))
    return out


def notes(table: pd.DataFrame, agents: pd.DataFrame, summary: Mapping[str, Any],
          settings: Settings) -> list[str]:
    """What the figures and averages leave out (the measures left out of single pairs are in
    the database's notes, which every study's report shows)."""
    out = []
    for column, label in (("linear_cka", "CKA"), ("jsd", "JSD"), ("spearman", "rank coefficient")):
        missing = int(table[column].isna().sum()) if column in table else len(table)
        if missing:
            out.append(f"{missing} pair(s) have no {label} and are left out of the figures "
                       "and averages that need it")
    if settings.population.suboptimal == "drop-unsolved-runs" and len(agents):
        runs = agents.drop_duplicates("run")
        for (variant, size), group in runs.groupby(["variant", "train_size"]):
            unsolved = int((~group["run_solved"]).sum())
            if unsolved:
                out.append(f"{VARIANT_TITLES[variant]}, {size}×{size}: {unsolved} of "
                           f"{len(group)} runs do not end optimal; their agents are left out "
                           "of the headline")
    for variant, result in summary["variants"].items():
        missing = [f"train {c['train_size']} · test {c['test_size']}"
                   for c in result["cells"].values() if c.get("rho_cka_jsd") is None]
        if missing:
            out.append(f"{VARIANT_TITLES[variant]}: no defined ρ(CKA, JSD) in "
                       f"{len(missing)} cell(s) of the headline ({'; '.join(missing)}): fewer "
                       "than 3 pairs, or a constant side")
    return out


def section(name: str, title: str, summary: Mapping[str, Any], settings: Settings,
            figures_: Sequence[FigureRef], tables_: Sequence[Table],
            notes_: Sequence[str]) -> Section:
    """The study's report section."""
    text = SUMMARY.format(
        seeds=len(settings.seeds), population=population_words(settings.population),
        states="each distinct state once" if settings.distinct_states else "with its count",
        eval_episodes=settings.training.eval_episodes)
    return Section(
        id=name, title=title, summary=text, figures=list(figures_), tables=list(tables_),
        thesis_rows=thesis_rows(summary, settings), notes=list(notes_),
        stand_ins={
            "MiniGrid Empty 5/6/8/16 (rl-starter-files)":
                "the minigrid package's MiniGrid-Empty-NxN-v0, 7×7×3 partial view",
            "PPO of rl-starter-files (torch-ac, 16 processes)":
                "stable-baselines3 PPO with the thesis's actor-critic, "
                f"{settings.training.n_envs} rooms",
        },
        settings=settings_dict(settings),
    )
