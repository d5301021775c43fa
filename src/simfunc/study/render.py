"""The report of a study of the user's models: figures and tables through :mod:`simfunc.report`.

Sections: the models (with accuracies when the examples have labels); a heatmap per measure
over the model pairs; linear CKA against JSD, and every representational measure against
every functional one, coloured by the groups of the two models; the relation table with
network-level inference; the measure leaderboard on these models; and the settings.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simfunc import figures
from simfunc.report import FigureRef, Section, Table, write_report
from simfunc.study.analysis import NO_GROUP, StudySummary, value_matrix

__all__ = ["write_study_report", "FIGURES_DIR"]

FIGURES_DIR = "figures"


def _matrix(summary: StudySummary, names: list[str], measure: str) -> np.ndarray:
    from simfunc import functional, representational

    registry = {**representational.MEASURES, **functional.OUTPUT_MEASURES}
    matrix = value_matrix(list(summary.pairs), names, measure)
    if not registry[measure].symmetric:  # only the direction computed: row a, column b
        order = {name: i for i, name in enumerate(names)}
        lower = np.tril_indices(len(names), -1)
        computed = {(order[p.model_a], order[p.model_b]) for p in summary.pairs}
        for i, j in zip(*lower):
            if (i, j) not in computed:
                matrix[i, j] = np.nan
        for i, j in zip(*np.triu_indices(len(names), 1)):
            if (i, j) not in computed:
                matrix[i, j] = np.nan
    return matrix


def _plain_figure(rows: int, columns: int, panel: tuple[float, float]) -> tuple[Any, np.ndarray]:
    """A grid of axes without constrained layout: with dozens of panels, constrained layout
    costs most of the drawing time (measured: 54 s of 82 s for 18 heatmaps and 56 scatters)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(rows, columns, figsize=(panel[0] * columns, panel[1] * rows),
                             squeeze=False)
    return fig, axes


def _save(fig: Any, path: Path) -> Path:
    """PNG without a second, "tight" layout pass (half the drawing time of a large grid)."""
    import io

    import matplotlib.pyplot as plt

    from simfunc.io import atomic_write_bytes

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, metadata={"Software": None})
    plt.close(fig)
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_bytes(path, buffer.getvalue())


def _heatmaps(summary: StudySummary, names: list[str], measures: list[str], path: Path) -> Path:
    columns = min(4, len(measures))
    rows = -(-len(measures) // columns)
    size = max(3.0, 0.4 * len(names) + 1.4)
    fig, axes = _plain_figure(rows, columns, (size + 0.9, size + 0.5))
    for ax in axes.ravel()[len(measures):]:
        ax.set_visible(False)
    annotate = len(names) <= 10
    for ax, measure in zip(axes.ravel(), measures):
        matrix = _matrix(summary, names, measure)
        image = ax.imshow(matrix, cmap="viridis", aspect="equal")
        ax.set_xticks(range(len(names)), labels=names, rotation=60, ha="right", fontsize=7)
        ax.set_yticks(range(len(names)), labels=names, fontsize=7)
        ax.set_title(measure, fontsize=9)
        if annotate:
            finite = matrix[np.isfinite(matrix)]
            middle = (finite.min() + finite.max()) / 2 if finite.size else 0.0
            for (i, j), value in np.ndenumerate(matrix):
                if np.isfinite(value):
                    ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=6,
                            color="white" if value < middle else "black")
        fig.colorbar(image, ax=ax, shrink=0.75)
    fig.subplots_adjust(left=0.08, right=0.97, bottom=0.08, top=0.95, wspace=0.6, hspace=0.7)
    return _save(fig, path)


def _pair_groups(summary: StudySummary, x: str, y: str) -> tuple[np.ndarray, np.ndarray, list]:
    groups = {m.name: m.group or NO_GROUP for m in summary.models}
    by_pair: dict[tuple[str, str], dict[str, float]] = {}
    for pair in summary.pairs:
        if pair.value is not None and pair.measure in (x, y):
            by_pair.setdefault((pair.model_a, pair.model_b), {})[pair.measure] = pair.value
    keys = [k for k, v in by_pair.items() if x in v and y in v]
    xs = np.array([by_pair[k][x] for k in keys])
    ys = np.array([by_pair[k][y] for k in keys])
    labels = [" & ".join(sorted({groups[a], groups[b]})) if groups[a] != groups[b]
              else f"within {groups[a]}" for a, b in keys]
    kinds = list(dict.fromkeys(labels))
    colours = figures.series_colors(len(kinds))
    if not any(m.group for m in summary.models):
        return xs, ys, None
    spec = [(kind, np.array([label == kind for label in labels], dtype=bool), colour)
            for kind, colour in zip(kinds, colours)]
    return xs, ys, spec


def _scatter(summary: StudySummary, x: str, y: str, path: Path) -> Path:
    fig, axes = figures.new_figure(1, 1, panel_size=(5.2, 4.2))
    xs, ys, spec = _pair_groups(summary, x, y)
    figures.relation_panel(axes[0, 0], xs, ys, groups=spec, xlabel=x, ylabel=y,
                           title=f"{y} against {x}, every pair of models")
    return figures.save_figure(fig, path)


def _grid(summary: StudySummary, reps: list[str], outs: list[str], path: Path) -> Path:
    fig, axes = _plain_figure(len(reps), len(outs), (2.6, 2.3))
    for i, rep in enumerate(reps):
        for j, out in enumerate(outs):
            ax = axes[i, j]
            xs, ys, spec = _pair_groups(summary, rep, out)
            spec = spec or [("pairs", np.ones(len(xs), dtype=bool), figures.PALETTE["blue"])]
            for label, mask, colour in spec:
                ax.scatter(xs[mask], ys[mask], s=10, color=colour, label=label)
            line = figures.fit_line(xs, ys)
            if line is not None:
                ax.plot(xs, line[0] * xs + line[1], color="black", linewidth=0.8)
            rho = figures.spearman_or_none(xs, ys)
            ax.set_title("ρ n/a" if rho is None else f"ρ = {rho:.2f}", fontsize=8)
            ax.tick_params(labelsize=6)
            ax.locator_params(nbins=3)
            ax.set_xlabel(rep, fontsize=7, labelpad=1)
            ax.set_ylabel(out, fontsize=7, labelpad=1)
    if len(spec) > 1:
        axes[0, 0].legend(fontsize=6)
    fig.subplots_adjust(left=0.06, right=0.98, bottom=0.04, top=0.97, wspace=0.45, hspace=0.6)
    return _save(fig, path)


def _frame(rows) -> pd.DataFrame:
    return pd.DataFrame([asdict(row) for row in rows])


def write_study_report(summary: StudySummary, run_dir: Path) -> Path:
    """Draw the figures into ``run_dir/figures`` and write ``run_dir/report.html``."""
    figures_dir = Path(run_dir) / FIGURES_DIR
    names = [m.name for m in summary.models]
    reps = [m for m in summary.settings["measures"]["representational"]
            if any(p.measure == m and p.value is not None for p in summary.pairs)]
    outs = [m for m in summary.settings["measures"]["functional"]
            if any(p.measure == m and p.value is not None for p in summary.pairs)]
    models = _frame(summary.models)
    models["accuracy"] = [("–" if a is None else f"{a:.3f}") for a in models["accuracy"]]
    models["output"] = [name or "(the model's output)" for name in models["output"]]
    model_section = Section(
        id="models", title="The models",
        summary=(f"{len(names)} models, each run once over the same {summary.n_examples} "
                 "examples; the compared layer and the outputs (logits) were recorded by "
                 "simfunc's one layer recorder. Accuracy is shown where the examples have "
                 "labels and a model has one output per class (output i read as class i)."),
        tables=[Table("Models", models)])
    figure_refs = []
    if reps or outs:
        figure_refs.append(FigureRef(
            _heatmaps(summary, names, reps + outs, figures_dir / "heatmaps.png"),
            "Each measure over every pair of models (rows model A, columns model B; the "
            "diagonal is not computed). Similarities (CKA, CCA, ...) are larger for more "
            "similar pairs, distances (Procrustes, JSD, disagreement) smaller."))
    x = "linear_cka" if "linear_cka" in reps else (reps[0] if reps else None)
    y = "jsd" if "jsd" in outs else (outs[0] if outs else None)
    if x and y:
        figure_refs.append(FigureRef(
            _scatter(summary, x, y, figures_dir / f"{x}_vs_{y}.png"),
            f"The thesis's question on these models: {y} of the outputs against {x} of the "
            "compared layers, one point per pair, coloured by the groups of its two models; "
            "the line is the least-squares fit."))
        figure_refs.append(FigureRef(
            _grid(summary, reps, outs, figures_dir / "all_relations.png"),
            "Every functional measure (columns, y axis) against every representational "
            "measure (rows, x axis), one point per pair, the least-squares line, and Spearman's ρ "
            "over the pairs in each title."))
    pairs_section = Section(
        id="pairs", title="Every pair, every measure",
        summary=("pairs.csv lists every pair and measure with its bootstrap interval over "
                 "examples (the same resampled examples for both models; "
                 f"{summary.settings['intervals']['resamples']} resamples; percentile "
                 "interval); a measure too costly to resample at this size, or undefined, has "
                 "an empty interval and a note."),
        figures=figure_refs)
    relation = _frame(summary.relations)
    relation_section = Section(
        id="relation", title="Do similar representations mean similar functions here?",
        summary=("Spearman's ρ of each functional measure against each representational "
                 "measure over the pairs of models. p_value is a Mantel permutation test and "
                 "ci_low/ci_high a bootstrap that relabel and redraw models, not pairs (a "
                 "model is in many pairs, so pairs are not independent)"
                 + (", within the models' groups (strata)" if relation["strata"].eq("group").any()
                    else "") + "; pair_p_value treats pairs as independent, for comparison."),
        tables=[Table("Relation (relation.csv)", relation.drop(columns=["strata"]))])
    board = _frame(summary.leaderboard)
    findings = []
    if len(board) and board["rho"].notna().any():
        for output, rows in board.dropna(subset=["rho"]).groupby("output_measure", sort=False):
            top = rows.sort_values("rho", ascending=False).iloc[0]
            findings.append(f"On these models, {top['measure']} tracks {output} best "
                            f"(oriented ρ = {top['rho']:.3f}).")
    leaderboard_section = Section(
        id="leaderboard", title="Which measure tracks function on these models?",
        summary=("simfunc's measure leaderboard over these models' pairs: ρ oriented so that "
                 "positive means the pairs a measure calls more similar have more similar "
                 "outputs, with network-level interval and p-value; rank 1 is the best "
                 "tracker of each output measure."),
        tables=[Table("Leaderboard", board)], findings=findings,
        settings=summary.settings)
    return write_report(Path(run_dir) / "report.html", f"simfunc study · {summary.name}",
                        [model_section, pairs_section, relation_section, leaderboard_section],
                        {"study": summary.name, "models": len(names),
                         "examples": summary.n_examples})
