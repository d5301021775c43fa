"""The analysis of the MiniGrid study over its results database: pairs, cells, averages, figures.

Pure functions of the database's frames (nothing here trains or rolls out anything):

* :func:`agent_frame`, :func:`pair_table` — the agents and the compared pairs as DataFrames,
  each pair with its cell (variant, training room, test room) and its quality class;
* :func:`pair_category` — the thesis's colouring of a pair by its agents' qualities;
* :func:`cell_summary`, :func:`variant_summary` — Spearman's ρ and the least-squares slope per
  cell, their average over cells with a stratified bootstrap interval (:func:`average_rho`)
  and the spread of the slopes (:func:`slope_spread`);
* :func:`grid_figure` — the thesis's Figures 3.6 / 3.8 and their appendix twins.

``settings`` arguments are the study's ``Settings`` (``train_sizes``, ``test_sizes``,
``n_permutations``, ``n_resamples`` are read).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from simfunc import figures
from simfunc.errors import InputError
from simfunc.studies.common import relation_summary
from simfunc.store import OUTPUT_LAYER
from simfunc.studies.minigrid_jobs import FEATURES_LAYER

__all__ = [
    "QUALITIES",
    "PAIR_CATEGORIES",
    "PAIR_COLOURS",
    "OUTPUTS",
    "BOOTSTRAP",
    "VARIANT_TITLES",
    "pair_category",
    "average_rho",
    "slope_spread",
    "agent_frame",
    "pair_table",
    "cell_key",
    "usable_pairs",
    "cell_summary",
    "variant_summary",
    "other_measures",
    "grid_figure",
]

VARIANT_TITLES = {"plain": "MiniGrid (average)", "bottleneck": "MiniGrid with bottleneck"}
QUALITIES = ("optimal", "mediocre", "poor")
# The thesis's colouring of a pair by the qualities of its two agents (Figures 3.6, 3.8).
PAIR_CATEGORIES = ("both optimal", "optimal vs mediocre", "optimal vs poor", "other")
PAIR_COLOURS = {
    "both optimal": figures.PALETTE["green"],
    "optimal vs mediocre": figures.PALETTE["purple"],  # the thesis's magenta
    "optimal vs poor": figures.PALETTE["blue"],
    "other": figures.PALETTE["orange"],
}
# Output measure -> (its name in words, the expected sign of its relation to CKA, the key it
# has in the summary: "rho_cka_jsd", "rho_cka_rank", ...).
OUTPUTS = {"jsd": ("JSD", -1, "jsd"), "spearman": ("rank coefficient", 1, "rank")}
BOOTSTRAP = (
    "stratified bootstrap over pairs within cells: every resample redraws each cell's pairs "
    "with replacement, recomputes each cell's Spearman rho and averages over the cells; "
    "95% percentile interval. Cells are the fixed design and are not resampled; pairs sharing "
    "an agent are not independent, so the interval is if anything too narrow."
)


# ------------------------------------------------------------------------------- pairs


def pair_category(quality_a: str, quality_b: str) -> str:
    """The thesis's colour class of a pair from its agents' qualities (order does not matter):
    "both optimal", "optimal vs mediocre", "optimal vs poor", or "other"."""
    for name, value in (("quality_a", quality_a), ("quality_b", quality_b)):
        if value not in QUALITIES:
            raise InputError(f"{name} must be one of {', '.join(QUALITIES)}, got {value!r}")
    qualities = sorted((quality_a, quality_b), key=QUALITIES.index)
    if qualities[0] != "optimal":
        return "other"
    return {"optimal": "both optimal", "mediocre": "optimal vs mediocre",
            "poor": "optimal vs poor"}[qualities[1]]


def average_rho(cells: Sequence[tuple[Sequence[float], Sequence[float]]], n_resamples: int,
                seed: int = 0, confidence: float = 0.95) -> dict[str, Any]:
    """The mean over cells of Spearman's ρ(x, y), with a stratified bootstrap interval.

    ``cells`` holds each cell's paired values (x, y); every cell must have a defined ρ (at
    least 3 pairs, neither side constant). Resample b draws, in every cell c independently
    (generator seeded ``seed + c``), that cell's pairs with replacement; the average over cells
    of the resampled ρ's is the statistic, and the interval its percentile interval. Resamples
    in which some cell's ρ is undefined (it drew a constant side) are dropped; if more than
    half are, the interval is None.

    Returns ``{"mean", "ci", "n_cells", "n_resamples_used", "cells": [ρ per cell]}``.
    """
    from simfunc.stats import spearman
    from simfunc.stats._inputs import as_ranked_pair, check_confidence, check_count
    from simfunc.stats.resampling import bootstrap_distribution

    n_resamples = check_count(n_resamples, "n_resamples")
    confidence = check_confidence(confidence)
    if len(cells) == 0:
        raise InputError("cells is empty: the average needs at least one cell")
    values, draws = [], []
    for index, (x, y) in enumerate(cells):
        x_values, y_values = as_ranked_pair(x, y)
        values.append(spearman(x_values, y_values))
        draws.append(bootstrap_distribution(x_values, y_values, "spearman", n_resamples,
                                            seed + index))
    averages = np.stack(draws).mean(axis=0)  # NaN where any cell's resample is undefined
    defined = averages[~np.isnan(averages)]
    ci = None
    if defined.size >= 0.5 * n_resamples:
        tail = (1.0 - confidence) / 2.0
        ci = [float(v) for v in np.quantile(defined, [tail, 1.0 - tail])]
    return {"mean": float(np.mean(values)), "ci": ci, "n_cells": len(values),
            "n_resamples_used": int(defined.size), "cells": [float(v) for v in values]}


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


# --------------------------------------------------------------------------------- analysis


def agent_frame(db: Any) -> pd.DataFrame:
    """One row per agent: model_id, variant, train_size, seed, timesteps, mean_return, quality."""
    models = db.models(kind="agent")
    rows = [
        {"model_id": row.model_id, "variant": row.extra["variant"],
         "train_size": int(row.extra["train_size"]), "seed": int(row.seed),
         "timesteps": int(row.extra["timesteps"]), "mean_return": float(row.mean_return),
         "quality": row.extra["quality"]}
        for row in models.itertuples()
    ]
    columns = ["model_id", "variant", "train_size", "seed", "timesteps", "mean_return", "quality"]
    return pd.DataFrame(rows, columns=columns)


def pair_table(db: Any, agents: pd.DataFrame) -> pd.DataFrame:
    """One row per compared pair on one test room: its cell, its agents' qualities and
    category, and one column per recorded measure (NaN where a measure was left out)."""
    wide = db.wide_pairs(layer=[FEATURES_LAYER, OUTPUT_LAYER])
    if wide.empty:
        return pd.DataFrame(columns=["model_a", "model_b", "test_set", "test_size", "variant",
                                     "train_size", "quality_a", "quality_b", "category"])
    by_id = agents.set_index("model_id")
    wide = wide[wide["model_a"].isin(by_id.index) & wide["model_b"].isin(by_id.index)].copy()
    wide["test_size"] = wide["test_set"].str.removeprefix("empty-").astype(int)
    wide["variant"] = wide["model_a"].map(by_id["variant"])
    wide["train_size"] = wide["model_a"].map(by_id["train_size"]).astype(int)
    wide["quality_a"] = wide["model_a"].map(by_id["quality"])
    wide["quality_b"] = wide["model_b"].map(by_id["quality"])
    wide["category"] = [pair_category(a, b) for a, b in zip(wide["quality_a"], wide["quality_b"])]
    return wide.reset_index(drop=True)


def cell_key(train: int, test: int) -> str:
    return f"train{train}-test{test}"


def usable_pairs(rows: pd.DataFrame, output: str) -> pd.DataFrame:
    """The pairs that have both linear CKA and ``output`` (the others were left out as
    undefined); the two columns exist even when no pair has them."""
    rows = rows.copy()
    for column in ("linear_cka", output):
        if column not in rows:
            rows[column] = np.nan
    return rows.dropna(subset=["linear_cka", output])


def cell_summary(rows: pd.DataFrame, settings: Any) -> dict[str, Any]:
    """One cell's pairs: their number, their quality classes, and for JSD and the rank
    coefficient against CKA ``rho_cka_<key>``, ``p_cka_<key>`` (permutation), ``ci_cka_<key>``
    (bootstrap), ``slope_cka_<key>``, ``intercept_cka_<key>`` and
    ``discordant_fraction_cka_<key>`` — or ``rho``/``slope`` None and ``undefined_cka_<key>``
    saying why (fewer than 3 pairs, a constant side)."""
    out: dict[str, Any] = {
        "n_pairs": int(len(rows)),
        "categories": {c: int((rows["category"] == c).sum()) for c in PAIR_CATEGORIES},
    }
    for output, (_, sign, key) in OUTPUTS.items():
        usable = usable_pairs(rows, output)
        relation = relation_summary(usable["linear_cka"], usable[output], sign,
                                    settings.n_permutations, settings.n_resamples)
        out[f"n_pairs_cka_{key}"] = int(len(usable))
        if "undefined" in relation:
            out[f"undefined_cka_{key}"] = relation["undefined"]
            out[f"rho_cka_{key}"] = out[f"slope_cka_{key}"] = None
            continue
        out[f"rho_cka_{key}"] = relation["spearman"]
        out[f"p_cka_{key}"] = relation["spearman_p"]
        out[f"ci_cka_{key}"] = relation["spearman_ci"]
        out[f"slope_cka_{key}"] = relation["slope"]
        out[f"intercept_cka_{key}"] = relation["intercept"]
        out[f"discordant_fraction_cka_{key}"] = relation["discordant_fraction"]
    return out


def variant_summary(table: pd.DataFrame, variant: str, settings: Any) -> dict[str, Any]:
    """Every cell of one variant (:func:`cell_summary`), the averages over cells of ρ(CKA,
    JSD) and ρ(CKA, rank coefficient) (:func:`average_rho`), the spread of the slopes
    (:func:`slope_spread`), the mean discordant fraction and the mean JSD per quality class."""
    cells: dict[str, Any] = {}
    usable_cells: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {"jsd": [], "spearman": []}
    for test in settings.test_sizes:
        for train in settings.train_sizes:
            rows = table[(table["variant"] == variant) & (table["train_size"] == train)
                         & (table["test_size"] == test)]
            summary = {"train_size": train, "test_size": test, **cell_summary(rows, settings)}
            cells[cell_key(train, test)] = summary
            for output, (_, _, key) in OUTPUTS.items():
                if summary[f"rho_cka_{key}"] is not None:
                    usable = usable_pairs(rows, output)
                    usable_cells[output].append((usable["linear_cka"].to_numpy(),
                                                 usable[output].to_numpy()))
    out: dict[str, Any] = {"cells": cells}
    for output, (_, _, key) in OUTPUTS.items():
        out[f"mean_rho_cka_{key}"] = (
            average_rho(usable_cells[output], settings.n_resamples) if usable_cells[output]
            else None
        )
        slopes = [cell[f"slope_cka_{key}"] for cell in cells.values()
                  if cell[f"slope_cka_{key}"] is not None]
        out[f"slope_spread_cka_{key}"] = slope_spread(slopes) if slopes else None
    fractions = [c["discordant_fraction_cka_jsd"] for c in cells.values()
                 if c.get("discordant_fraction_cka_jsd") is not None]
    out["mean_discordant_fraction_cka_jsd"] = float(np.mean(fractions)) if fractions else None
    rows = table[table["variant"] == variant]
    jsd = rows["jsd"] if "jsd" in rows else pd.Series(np.nan, index=rows.index)
    out["mean_jsd_by_category"] = {}
    for category in PAIR_CATEGORIES:
        values = jsd[rows["category"] == category].dropna()
        out["mean_jsd_by_category"][category] = float(values.mean()) if len(values) else None
    return out


def grid_figure(table: pd.DataFrame, variant: str, output: str, settings: Any,
                 path: Path) -> Path:
    """The thesis's Figure 3.6 / 3.8 (or its appendix twin): rows test room, columns training
    room, CKA against the output measure, one point per pair coloured by quality."""
    tests, trains = settings.test_sizes, settings.train_sizes
    height = max(2.7, 4.5 / len(tests))  # room for the shared y label however few rows
    fig, axes = figures.new_figure(len(tests), len(trains), panel_size=(3.3, height))
    fig.set_figwidth(fig.get_figwidth() + 1.8)  # the legend's column
    for r, test in enumerate(tests):
        for c, train in enumerate(trains):
            ax = axes[r, c]
            rows = usable_pairs(table[(table["variant"] == variant) & (table["train_size"] == train)
                                 & (table["test_size"] == test)], output)
            title = f"train {train}×{train} · test {test}×{test}"
            if rows.empty:
                ax.set_title(f"{title}\nno comparable pairs")
                continue
            groups = [(category, (rows["category"] == category).to_numpy(), PAIR_COLOURS[category])
                      for category in PAIR_CATEGORIES]
            figures.relation_panel(ax, rows["linear_cka"], rows[output], groups=groups,
                                   title=title, point_size=14)
            legend = ax.get_legend()
            if legend is not None:
                legend.remove()
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], marker="o", linestyle="", color=PAIR_COLOURS[category],
                      label=category) for category in PAIR_CATEGORIES]
    handles.append(Line2D([], [], color=figures.PALETTE["black"], label="least squares"))
    fig.legend(handles=handles, loc="outside right center", title="pair of agents")
    fig.supxlabel(figures.AXIS_LABELS["linear_cka"])
    fig.supylabel(figures.AXIS_LABELS[output])
    layer = "8-d bottleneck" if variant == "bottleneck" else "64-d embedding"
    fig.suptitle(f"{VARIANT_TITLES[variant]}: CKA of the {layer} vs {OUTPUTS[output][0]}")
    return figures.save_figure(fig, path)


def other_measures(table: pd.DataFrame, variant: str, settings: Any) -> dict[str, float]:
    """Per representational measure, the mean over cells of Spearman ρ(measure, JSD)."""
    from simfunc.stats import spearman

    skip = {"model_a", "model_b", "test_set", "test_size", "variant", "train_size",
            "quality_a", "quality_b", "category", *_output_measure_names()}
    out = {}
    for measure in [column for column in table.columns if column not in skip]:
        values = []
        for test in settings.test_sizes:
            for train in settings.train_sizes:
                rows = table[(table["variant"] == variant) & (table["train_size"] == train)
                             & (table["test_size"] == test)].dropna(subset=[measure, "jsd"])
                try:
                    values.append(spearman(rows[measure], rows["jsd"]))
                except InputError:
                    continue
        if values:
            out[measure] = float(np.mean(values))
    return out


def _output_measure_names() -> list[str]:
    from simfunc.functional import OUTPUT_MEASURES

    return list(OUTPUT_MEASURES)
