"""The checkpoints study's report: its words, and its numbers beside the thesis's.

Everything a reader of the report sees that is not a number computed by the analysis is here:
the section's summary (with the choices the thesis leaves open), captions, column names, and
the thesis's findings as :class:`~simfunc.report.ThesisRow` s. The thesis (§3.4) states its
findings in words, with no numbers, so its side of each row is a direction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from simfunc.report import ThesisRow
from simfunc.scorecard import judge_relation, not_comparable
from simfunc.studies.common import describe_dataset, inference_remark, relation_interval

if TYPE_CHECKING:
    from simfunc.studies.checkpoints import Settings
    from simfunc.studies.checkpoints.result import CheckpointsResult, SlopeDifference, Slopes
    from simfunc.studies.relation import Relation

__all__ = ["SUMMARY", "FIGURE_CAPTION", "RUNS_TABLE", "RUN_COLUMNS", "thesis_rows",
           "relation_remark", "differs"]

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

# result field -> (quantity, the thesis's direction, the thesis's claim, expected sign, id)
RELATION_ROWS = {
    "epoch_vs_cka": ("ρ(epoch, CKA with the final model), mean over runs", "rises (> 0)",
                     "CKA with the final model rises during training", 1,
                     "checkpoints.cka_rises"),
    "epoch_vs_jsd": ("ρ(epoch, JSD from the final model), mean over runs", "falls (< 0)",
                     "JSD from the final model falls during training", -1,
                     "checkpoints.jsd_falls"),
    "cka_vs_jsd": ("ρ(CKA, JSD) over a run's checkpoints, mean over runs", "< 0",
                   "CKA rises and JSD falls together", -1, "checkpoints.cka_jsd"),
}
THESIS_LRS = (0.01, 0.001, 0.0001)


def differs(settings: Settings) -> str:
    """How this run's experiment differs from the thesis's §3.4 (ResNet18 and VGG16 at full
    width on CIFAR-100, 100 epochs, learning rates 0.01 / 0.001 / 0.0001, two seeds)."""
    out = []
    if settings.dataset != "cifar100":
        out.append(f"data: {describe_dataset(settings.dataset, settings.classes)}, not CIFAR-100")
    if tuple(settings.archs) != ("resnet18", "vgg16"):
        out.append(f"networks: {', '.join(settings.archs)}, not ResNet18 and VGG16")
    if settings.width != 1.0:
        out.append(f"width ×{settings.width:g}")
    if settings.training.epochs != 100:
        out.append(f"{settings.training.epochs} epochs, not 100")
    if tuple(settings.lrs) != THESIS_LRS:
        out.append(f"learning rates {', '.join(f'{lr:g}' for lr in settings.lrs)}, not 0.01, "
                   "0.001, 0.0001")
    if len(settings.seeds) != 2:
        out.append(f"{len(settings.seeds)} seed(s), not 2")
    return "; ".join(out) or "as in the thesis"


def relation_remark(relation: Relation) -> str:
    """How a relation's p-value and interval were obtained: runs as the units."""
    if not relation.network_level:
        return inference_remark(relation)
    pair_ci = relation.pair_ci
    pairs = ("" if not pair_ci else
             f" Treating the checkpoints as independent points would give {pair_ci[0]:.3f} to "
             f"{pair_ci[1]:.3f}.")
    notes = " ".join(relation.notes)
    return (f"Mean over {relation.n_blocks} training runs of the ρ within each run "
            f"({relation.n} checkpoints in all). Interval: training runs redrawn, the "
            "independent units. p: each run's checkpoints relabelled among themselves, which "
            "treats them as exchangeable; ordered by training they are not, so p is "
            f"optimistic: read the interval.{pairs}" + (f" {notes}" if notes else ""))


def _any_lr(difference: SlopeDifference) -> str:
    ci = difference.any_lr_ci
    return ("" if ci is None else
            f" Redrawing runs regardless of their learning rate (which also varies the mix of "
            f"rates) gives {ci[0]:.3f} to {ci[1]:.3f}.")


def _slope_rows(slopes: Slopes, differ: str) -> list[ThesisRow]:
    if slopes.undefined is not None:
        return [ThesisRow(quantity="slope of JSD on CKA per architecture",
                          thesis="depends on the architecture", value=None,
                          claim="the slope depends on the architecture", remark=slopes.undefined,
                          judgement=judge_relation(1, None, undefined=slopes.undefined),
                          id="checkpoints.slope_by_arch", differs=differ)]
    rows = []
    for item in slopes.slopes:
        rows.append(ThesisRow(
            quantity=f"slope of JSD on CKA, {item.group}", thesis="linear", value=item.slope,
            ci=item.ci, n=item.n_clusters, n_of="training runs",
            remark=(f"Least squares over its {item.n_points} checkpoints; the line explains "
                    f"R² = {item.r_squared:.2f} of their JSD's variance."),
        ))
    notes = " ".join(slopes.notes)
    for index, item in enumerate(slopes.differences):
        ci = item.ci
        # The claim is two-sided (the slopes differ): an interval that excludes 0 on either
        # side reproduces it (judged on the side the interval lies), one containing 0 leaves
        # it open.
        centre = item.difference if ci is None else (ci[0] + ci[1]) / 2
        judgement = judge_relation(
            1 if centre >= 0 else -1, ci, value=item.difference,
            undefined="too few training runs to redraw within each (architecture, learning "
                      "rate) cell", what="run-bootstrap 95% interval of the difference")
        rows.append(ThesisRow(
            quantity=f"slope difference, {item.group} − {item.reference}",
            thesis="≠ 0", value=item.difference, claim="the slope depends on the architecture",
            ci=ci, judgement=judgement,
            id="checkpoints.slope_by_arch" + ("" if index == 0 else f".{item.group}"),
            differs=differ,
            remark=("Reproduced when the interval excludes 0 (the claim is two-sided). "
                    "Interval: training runs redrawn within each (architecture, learning rate) "
                    "cell; with two seeds a cell it is rough." + _any_lr(item)
                    + (f" {notes}" if notes else "")),
        ))
    if not slopes.differences:
        rows.append(ThesisRow(
            quantity="slope difference between architectures", thesis="≠ 0", value=None,
            claim="the slope depends on the architecture",
            judgement=not_comparable(f"{len(slopes.slopes)} architecture(s): no slope "
                                     "difference to measure"),
            id="checkpoints.slope_by_arch", differs=differ))
    return rows


def thesis_rows(result: CheckpointsResult, differ: str = "") -> list[ThesisRow]:
    """The thesis's findings beside this run's numbers."""
    rows = []
    for key, (quantity, thesis, claim, sign, claim_id) in RELATION_ROWS.items():
        relation = result.relation(key)
        ci, undefined = relation_interval(relation)
        rows.append(ThesisRow(
            quantity=quantity, thesis=thesis, value=relation.rho, claim=claim, ci=ci,
            p_value=relation.p_value, n=result.n_runs, n_of="training runs",
            judgement=judge_relation(sign, ci, value=relation.rho, undefined=undefined,
                                     what="run-bootstrap 95% interval"),
            remark=relation_remark(relation), id=claim_id, differs=differ,
        ))
    return rows + _slope_rows(result.slopes, differ)
