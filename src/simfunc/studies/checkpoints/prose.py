"""The checkpoints study's report: its words, and its numbers beside the thesis's.

Everything a reader of the report sees that is not a number computed by the analysis is here:
the section's summary (with the choices the thesis leaves open), captions, column names, and
the thesis's findings as :class:`~simfunc.report.ThesisRow` s. The thesis (§3.4) states its
findings in words, with no numbers, so its side of each row is a direction.
"""

from __future__ import annotations

from typing import Any, Mapping

from simfunc.report import ThesisRow, holds
from simfunc.studies.common import NETWORK_LEVEL, inference_remark

__all__ = ["SUMMARY", "FIGURE_CAPTION", "RUNS_TABLE", "RUN_COLUMNS", "thesis_rows",
           "relation_remark"]

SUMMARY = (
    "Each line is one training run (architecture, learning rate, seed); each point a "
    "checkpoint compared with that run's final model on the test set: the linear CKA of their "
    "penultimate features and the Jensen–Shannon divergence of their outputs. The first point "
    "of a run (epoch 0) is its initial weights: the run's own untrained network, as everywhere "
    "in simfunc.\n\n"
    "The training run is the unit of the statistics: a run's checkpoints share its "
    "initialisation and trajectory, so they are neither independent nor exchangeable. Each "
    "relation is the mean over runs of Spearman's ρ within a run, its interval from redrawing "
    "runs; the slope of the linear relation is fitted per architecture over all its "
    "checkpoints, its interval from redrawing runs within each (architecture, learning rate) "
    "cell.\n\n"
    "Choices the thesis leaves open: JSD is in bits (base 2, between 0 and 1), averaged over "
    "the test images; the learning rate is constant within a run (the thesis varies it between "
    "runs); the final model is the reference, not a point (its CKA with itself is 1 and its "
    "JSD 0 by definition); the slope is that of JSD on CKA by least squares over all the "
    "architecture's checkpoints, every learning rate together."
)
FIGURE_CAPTION = (
    "Left: CKA between each checkpoint and its run's final model; middle: JSD between their "
    "outputs; right: JSD against CKA, with each architecture's least-squares line (dotted). "
    "One colour per architecture and learning rate; solid the first seed, dashed the second."
)
RUNS_TABLE = ("Per training run: the final model's test accuracy, its untrained network's "
              "(epoch 0) CKA and JSD against it, the Spearman ρs over its checkpoints and the "
              "least-squares slope of JSD on CKA")
RUN_COLUMNS = {"final_accuracy": "final accuracy", "n_checkpoints": "checkpoints",
               "cka_epoch0": "CKA at epoch 0", "jsd_epoch0": "JSD at epoch 0",
               "rho_epoch_vs_cka": "ρ(epoch, CKA)", "rho_epoch_vs_jsd": "ρ(epoch, JSD)",
               "rho_cka_vs_jsd": "ρ(CKA, JSD)", "slope": "slope of JSD on CKA"}

# summary key -> (quantity, the thesis's direction, the thesis's claim, expected sign)
RELATION_ROWS = {
    "epoch_vs_cka": ("ρ(epoch, CKA with the final model), mean over runs", "rises (> 0)",
                     "CKA with the final model rises during training", 1),
    "epoch_vs_jsd": ("ρ(epoch, JSD from the final model), mean over runs", "falls (< 0)",
                     "JSD from the final model falls during training", -1),
    "cka_vs_jsd": ("ρ(CKA, JSD) over a run's checkpoints, mean over runs", "< 0",
                   "CKA rises and JSD falls together", -1),
}


def relation_remark(relation: Mapping[str, Any]) -> str:
    """How a relation's p-value and interval were obtained: runs as the units."""
    if relation.get("inference") != NETWORK_LEVEL:
        return inference_remark(relation)
    pair_ci = relation.get("pair_spearman_ci")
    pairs = ("" if not pair_ci else
             f" Treating the checkpoints as independent points would give {pair_ci[0]:.3f} to "
             f"{pair_ci[1]:.3f}.")
    notes = " ".join(relation.get("notes") or [])
    return (f"Mean over {relation['n_blocks']} training runs of the ρ within each run "
            f"({relation['n']} checkpoints in all). Interval: training runs redrawn, the "
            "independent units. p: each run's checkpoints relabelled among themselves, which "
            "treats them as exchangeable; ordered by training they are not, so p is "
            f"optimistic: read the interval.{pairs}" + (f" {notes}" if notes else ""))


def _any_lr(difference: Mapping[str, Any]) -> str:
    ci = difference.get("any_lr_ci")
    return ("" if ci is None else
            f" Redrawing runs regardless of their learning rate (which also varies the mix of "
            f"rates) gives {ci[0]:.3f} to {ci[1]:.3f}.")


def _slope_rows(slopes: Mapping[str, Any]) -> list[ThesisRow]:
    if "undefined" in slopes:
        return [ThesisRow(quantity="slope of JSD on CKA per architecture",
                          thesis="depends on the architecture", value=None,
                          claim="the slope depends on the architecture", remark=slopes["undefined"])]
    rows = []
    for item in slopes["slopes"]:
        ci = item["ci"]
        rows.append(ThesisRow(
            quantity=f"slope of JSD on CKA, {item['group']}", thesis="linear", value=item["slope"],
            ci=None if ci is None else tuple(ci), n=item["n_clusters"], n_of="training runs",
            remark=(f"Least squares over its {item['n_points']} checkpoints; the line explains "
                    f"R² = {item['r_squared']:.2f} of their JSD's variance."),
        ))
    notes = " ".join(slopes.get("notes") or [])
    for item in slopes["differences"]:
        ci = item["ci"]
        rows.append(ThesisRow(
            quantity=f"slope difference, {item['group']} − {item['reference']}",
            thesis="≠ 0", value=item["difference"], claim="the slope depends on the architecture",
            ci=None if ci is None else tuple(ci),
            verdict=holds(None if ci is None else not ci[0] <= 0.0 <= ci[1]),
            remark=("Holds when the interval excludes 0. Interval: training runs redrawn within "
                    "each (architecture, learning rate) cell; with two seeds a cell it is "
                    "rough." + _any_lr(item) + (f" {notes}" if notes else "")),
        ))
    return rows


def thesis_rows(summary: Mapping[str, Any]) -> list[ThesisRow]:
    """The thesis's findings beside this run's numbers."""
    rows = []
    for key, (quantity, thesis, claim, sign) in RELATION_ROWS.items():
        relation = summary[key]
        rho = relation.get("spearman")
        ci = relation.get("spearman_ci")
        rows.append(ThesisRow(
            quantity=quantity, thesis=thesis, value=rho, claim=claim,
            ci=None if ci is None else tuple(ci), p_value=relation.get("spearman_p"),
            n=summary["n_runs"], n_of="training runs",
            verdict=holds(None if rho is None else rho * sign > 0),
            remark=relation_remark(relation),
        ))
    return rows + _slope_rows(summary["slopes"])
