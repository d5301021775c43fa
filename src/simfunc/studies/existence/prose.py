"""The existence study's report: its words, and Table 4.1 of the thesis beside this run's numbers.

Everything a reader of the report sees that is not a number computed by the analysis is here:
the section's summary (with every choice the thesis leaves open), captions and titles, the
thesis's Table 4.1 (:data:`THESIS`, all 25 cells, from the thesis's text) and the rules that
judge this run's cells against it, declared as :class:`~simfunc.report.ThesisRow` s.

Table 4.1's cells are point values: one pair of nets per d_ratio, built on one frozen base, so
there is no sample to give an interval. Each cell's row states its rule (:func:`cell_rule`) and
:func:`simfunc.scorecard.judge_point` applies it:

* CKA and CCA of the base features: "the same representation", at least :data:`SAME`.
* JSD of the outputs: "the outputs differ", at least :data:`JSD_DIFFER` bits.
* The rank coefficient: "opposite rankings", at most :data:`OPPOSITE_RANK`.
* Net1's accuracy: within :data:`ACCURACY_TOLERANCE` of the thesis's cell where the run is the
  thesis's setup in task, base network and pretraining data (:func:`accuracy_not_comparable`);
  not comparable otherwise.

Each bound is justified where it is defined. The trends over d_ratio (:data:`TRENDS`: JSD falls,
the rank coefficient rises, Net1's accuracy falls) are judged on their change from the sweep's
first d_ratio to its last.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, Sequence

from simfunc.report import FigureRef, Section, Table, ThesisRow
from simfunc.scorecard import (AtLeast, AtMost, Judgement, PointRule, Within, judge_point,
                               not_comparable)
from simfunc.settings import settings_dict
from simfunc.studies.common import describe_dataset, stand_ins

if TYPE_CHECKING:
    from simfunc.studies.existence import Settings
    from simfunc.studies.existence.result import ControlRow, ExistenceResult, SweepRow

__all__ = ["Table41Row", "THESIS", "THESIS_INPUT_SIZE", "COLUMNS", "Column", "cell_id",
           "cell_rule", "accuracy_not_comparable", "Trend", "TRENDS", "differs", "thesis_rows",
           "section"]


@dataclass(frozen=True)
class Table41Row:
    """One row of the thesis's Table 4.1, as printed (validation accuracy as a fraction)."""

    cka: float
    cca: float
    jsd: float
    rank: float
    accuracy: float


# Table 4.1 of the thesis (its text, ch. 4): d_ratio -> the row. The thesis's accuracy column is
# in percent (97.7); here a fraction (0.977), as this run's accuracy is.
THESIS: dict[float, Table41Row] = {
    0.0: Table41Row(cka=0.99, cca=0.99, jsd=0.59, rank=-0.95, accuracy=0.977),
    0.25: Table41Row(cka=0.99, cca=0.99, jsd=0.57, rank=-0.93, accuracy=0.971),
    0.5: Table41Row(cka=0.99, cca=0.99, jsd=0.53, rank=-0.91, accuracy=0.964),
    0.8: Table41Row(cka=0.99, cca=0.99, jsd=0.41, rank=-0.81, accuracy=0.935),
    0.9: Table41Row(cka=0.99, cca=0.99, jsd=0.29, rank=-0.70, accuracy=0.895),
}
THESIS_INPUT_SIZE = 224
THESIS_TASK = "cats-vs-dogs"
THESIS_BASE = ("resnet18", 1.0, "imagenet32")  # arch, width, pretraining data

# "The same representation": CKA / R²_CCA at least 0.9. Both measures are 1 for identical
# representations and 0 for unrelated ones; the thesis's every cell is 0.99 and calls it "a very
# high similarity". 0.9 leaves the thesis's rounding and a solver's tolerance far inside.
SAME = 0.9
# "The outputs differ": JSD at least 0.25 bits, a quarter of JSD's range in bits (0 for identical
# outputs, 1 for outputs with disjoint support). The thesis's smallest cell is 0.29, so each of
# its cells meets the bound; and the bound holds whichever base the thesis's logarithm had (0.29
# nats is 0.42 bits).
JSD_DIFFER = 0.25
# "Opposite rankings": the rank coefficient at most −0.5. With two classes each image's
# coefficient is +1 (the nets order the classes alike) or −1 (opposite), so the mean is
# 1 − 2 × disagreement; −0.5 means the nets order the classes oppositely on at least 75 % of the
# images, half-way between unrelated rankings (0) and opposite ones on every image (−1). The
# thesis's least negative cell is −0.70 (85 %).
OPPOSITE_RANK = -0.5
# Net1's accuracy "as in the thesis": within 0.05 of the thesis's cell. Five percentage points:
# less than the thesis's own fall across the sweep (97.7 % → 89.5 %, 8.2 points), so a cell
# that meets it is nearer the thesis's value at its d_ratio than the sweep's two ends are to
# each other.
ACCURACY_TOLERANCE = 0.05
# A trend over the sweep: the change from the first d_ratio to the last is at least 0.05 in the
# claimed direction: five units of the last digit the thesis prints, a sixth of its JSD fall
# (0.30 bits) and a fifth of its rank coefficient's rise (0.25).
TREND = 0.05
# Net1's accuracy falls as more features are masked: by at least 0.02 over the sweep, a quarter
# of the thesis's fall (0.977 → 0.895). On any task fewer features leave a linear head less to
# read, so its accuracy is expected to fall; under the thesis's literal wording of d_ratio (the
# fraction *unmasked*) it would rise instead.
ACCURACY_FALL = 0.02
# The control (simfunc's own): at every d_ratio the control pair's JSD is at most a quarter of
# Net1–Net2's, so the masks alone make at most a quarter of the gap the flipped labels make.
CONTROL_SHARE = 0.25


@dataclass(frozen=True)
class Column:
    """One column of Table 4.1: its id suffix (and :class:`Table41Row` field), the
    :class:`~simfunc.studies.existence.result.SweepRow` field of this run's value, the quantity
    and the claim in words."""

    key: str
    field: str
    quantity: str
    claim: str


COLUMNS = (
    Column("cka", "cka_base", "linear CKA of the base features",
           "linear CKA calls the two nets' representations the same"),
    Column("cca", "cca_base", "R²_CCA of the base features",
           "CCA calls the two nets' representations the same"),
    Column("jsd", "jsd", "JSD of the outputs (bits)", "the two nets' outputs differ"),
    Column("rank", "rank", "rank coefficient of the outputs",
           "the two nets rank the classes in opposite orders"),
    Column("accuracy", "accuracy_net1", "validation accuracy of Net1",
           "Net1 classifies as accurately as the thesis's"),
)

SUMMARY = (
    "Two networks share one frozen pretrained base; each masks part of the base's feature vector "
    "and adds a linear head. Net1 learns the true labels of a binary task, Net2 the flipped "
    "labels. d_ratio is the fraction of the D feature dimensions each mask zeroes: Net1 keeps the "
    "first k = D − ⌊d_ratio·D + ½⌋ dimensions, Net2 the last k (disjoint from d_ratio 0.5 on). "
    "A control net, trained on the true labels through Net2's mask, separates the labels' effect "
    "from the masks'. The base features are identical (same frozen base, same images), so their "
    "CKA and CCA are exactly 1, yet the two nets compute opposite functions: representational "
    "similarity does not imply functional similarity.\n\n"
    "How d_ratio is read: the thesis defines it as 'the number of unmasked nodes over the total "
    "number of nodes', with Net1 keeping the first N dimensions and Net2 the last 512 − N. Read "
    "so, Net1 would see no feature at d_ratio 0 and could do no better than chance, and it would "
    "grow more accurate as d_ratio rises. The thesis's own Table 4.1 says the opposite: its "
    "validation accuracy is 97.7% at d_ratio 0 and falls at every step to 89.5% at 0.9, which "
    "fits only d_ratio as the fraction masked. That is the reading this study implements, each "
    "net keeping the same number k of dimensions (with Net2 keeping 512 − N, one of the two "
    "nets would see nothing at one end of the sweep).\n\n"
    "Choices the thesis leaves open, as this run makes them: CKA and CCA are those of the base "
    "features, before masking, as the thesis computes them; the masked features' are shown too "
    "(the stronger claim). JSD "
    "is in bits (base 2, between 0 and 1), averaged over the task's test images; in nats it "
    "would be ln 2 ≈ 0.693 times as large. The rank coefficient is Spearman's correlation "
    "between the two nets' output vectors, averaged over the test images: with two classes each "
    "image's coefficient is +1 or −1, so the mean is exactly 1 − 2 × the fraction of images on "
    "which the nets disagree (the thesis's −0.95 means they disagree on 97.5% of them). The heads "
    "are L2-regularised logistic regressions fitted to convergence (convex, so no seed), not "
    "trained by SGD; at d_ratio 0 the flipped problem is the mirror image of the true one, so "
    "Net2's head is Net1's with its two rows swapped (to the solver's tolerance), the nets "
    "disagree on every image and the rank coefficient is −1 (the thesis's −0.95 comes from "
    "heads trained by SGD). Task images are normalised with the task data set's own channel "
    "statistics, not the base's pretraining statistics. The thesis's 'validation accuracy' is "
    "set beside Net1's accuracy on the task's test split.\n\n"
    "Input size: no profile runs at the thesis's 224×224, the paper profile included. Every "
    "profile runs the base, and the task's images, at the base's pretraining resolution (32×32 "
    "on the standard and paper profiles, 8×8 digits on quick; the 'input size' row below). Why: "
    "ImageNet32's images are 32×32, so 224×224 inputs would only upsample them; simfunc's "
    "ResNet-18 is the CIFAR variant (3×3 stride-1 stem, no max-pool), which at 224×224 costs 49 "
    "times its 32×32 compute (the paper profile's pretraining, about 1.9 GPU hours at 32×32 by "
    "BENCHMARKS.md's estimate, would take about 90); and the data layer keeps decoded images "
    "in memory at the network's input size, which for ImageNet32's 1.28 million training images at 224×224 is "
    "about 190 GB (uint8), more than the 128 GB of host memory of the one-GPU machine the "
    "paper profiles are sized for.\n\n"
    "Beside the thesis: every cell of Table 4.1 (d_ratio 0, 0.25, 0.5, 0.8, 0.9 × CKA, CCA, JSD, "
    "rank coefficient, validation accuracy), the thesis's values taken from its text, is set "
    "beside this run's, with the trends over d_ratio (JSD falls, the rank coefficient rises, "
    f"Net1's accuracy falls: by at least {TREND:g}, {TREND:g} and {ACCURACY_FALL:g} from the "
    "first d_ratio to the last). Each cell is judged by the rule its row "
    f"states: the same representation at CKA and CCA ≥ {SAME:g}; outputs that differ at JSD ≥ "
    f"{JSD_DIFFER:g} bits; opposite rankings at a rank coefficient ≤ {OPPOSITE_RANK:g}; Net1's "
    f"accuracy within {ACCURACY_TOLERANCE:g} of the thesis's where the task, the base network "
    "and its pretraining data are the thesis's, and not comparable where they are not (a "
    "linear head's accuracy belongs to its task and its base). No p-value "
    "or confidence interval is given, and no relation across pairs is fitted: every pair is "
    "built on the one frozen base network, so the five d_ratios are five constructions from a "
    "single network, not a sample of networks, and network-level inference (permuting or "
    "resampling networks) has nothing to resample. For the same reason the study's pairs are "
    "not ranked in the measure leaderboard. The heads are deterministic given the base, "
    "so the run-to-run spread of these numbers is the spread over base networks; the test suite "
    "measures it over five base seeds."
)
FIGURE_CAPTION = (
    "Left: similarity of the two nets' masked features (and of the base features, dotted) against "
    "d_ratio. Right: JSD, rank coefficient and disagreement of their outputs (solid: Net1 vs "
    "Net2, trained on flipped labels; dashed: Net1 vs the control net, trained on the same labels "
    "with Net2's mask); stars: the thesis's values."
)
SWEEP_TABLE = ("The sweep: per d_ratio, the kept dimensions, CKA and CCA before and after "
               "masking, the output measures of Net1 vs Net2 and of Net1 vs the control, and "
               "each net's accuracy (Net2's against the flipped labels it was trained on)")
MEASURES_TABLE = ("Every measure on the masked features and every output measure, per pair and "
                  "d_ratio")


def cell_id(d_ratio: float, key: str) -> str:
    """The scorecard id of one cell of Table 4.1: ``existence.d0.25.jsd``."""
    return f"existence.d{d_ratio:g}.{key}"


def accuracy_not_comparable(settings: Settings) -> str | None:
    """Why this run's Net1 accuracy cannot be set against the thesis's, or None when it can
    (the thesis's task, Cats vs Dogs, on the thesis's base: ResNet18 at full width pretrained on
    ImageNet32). The input size differs in every profile; ``differs`` says so."""
    base, task = settings.base, settings.task
    reasons = []
    if task.dataset != THESIS_TASK:
        reasons.append(f"the task is {task.name} on "
                       f"{describe_dataset(task.dataset, task.classes)}, not Cats vs Dogs")
    arch, width, data = THESIS_BASE
    if (base.arch, float(base.width)) != (arch, width):
        reasons.append(f"the base is {base.arch} at width {base.width:g}, not ResNet18")
    if base.dataset != data:
        reasons.append(f"the base is pretrained on "
                       f"{describe_dataset(base.dataset, base.classes)}, not ImageNet32")
    if not reasons:
        return None
    return ("; ".join(reasons) + ": a linear head's accuracy on a frozen base belongs to its task "
            "and its base, so this run's accuracy says nothing about the thesis's")


def cell_rule(key: str, thesis: float | None) -> PointRule:
    """The rule a Table 4.1 cell is judged by (``thesis``: the thesis's value of the cell, which
    only the accuracy's rule uses)."""
    if key == "cka":
        return AtLeast(SAME, "the same representation, linear CKA")
    if key == "cca":
        return AtLeast(SAME, "the same representation, R²_CCA")
    if key == "jsd":
        return AtLeast(JSD_DIFFER, "outputs that differ, JSD in bits")
    if key == "rank":
        return AtMost(OPPOSITE_RANK, "opposite rankings, the rank coefficient")
    if key == "accuracy":
        if thesis is None:
            raise ValueError("the accuracy's rule needs the thesis's value")
        return Within(thesis, ACCURACY_TOLERANCE, "as accurate as the thesis's")
    raise ValueError(f"no rule for the column {key!r}")


def differs(settings: Settings, result: ExistenceResult) -> str:
    """How this run's experiment differs from the thesis's ch. 4 (Cats vs Dogs at 224×224 on a
    frozen ResNet18 pretrained on ImageNet32, 512-d features, heads trained by SGD)."""
    base, task, out = settings.base, settings.task, []
    if task.dataset != THESIS_TASK:
        out.append(f"task: {task.name} ({describe_dataset(task.dataset, task.classes)}), not "
                   "Cats vs Dogs")
    dim = result.feature_dim
    features = "" if dim is None else f", {dim}-d features"
    if (base.arch, float(base.width)) != THESIS_BASE[:2] or (dim is not None and dim != 512):
        out.append(f"base: {base.arch} ×{base.width:g}{features}, not ResNet18 (512-d)")
    subset = settings.training.train_subset
    budget = (f"{settings.training.epochs} epochs"
              + ("" if subset is None else f" on {subset:,} images"))
    if base.dataset != THESIS_BASE[2]:
        out.append(f"pretrained on {describe_dataset(base.dataset, base.classes)} ({budget}), "
                   "not ImageNet32")
    else:
        out.append(f"pretrained for {budget} (the thesis does not say how long)")
    size = result.input_size
    shown = "at the data set's own size" if size is None else f"{size}×{size}"
    out.append(f"input {shown}, not {THESIS_INPUT_SIZE}×{THESIS_INPUT_SIZE}")
    out.append("heads: logistic regression fitted to convergence, not SGD")
    out.append("d_ratio read as the fraction masked (the thesis's words: unmasked)")
    return "; ".join(out)


def _cell_rows(by_ratio: Mapping[str, SweepRow], d_ratio: float, common: str,
               accuracy_reason: str | None) -> list[ThesisRow]:
    """The five cells of Table 4.1 at one of the thesis's d_ratios."""
    row = by_ratio.get(f"{d_ratio:g}")
    thesis_row = THESIS[d_ratio]
    out = []
    for column in COLUMNS:
        thesis = getattr(thesis_row, column.key)
        value = None if row is None else getattr(row, column.field)
        extra = {"jsd": "; JSD in bits (the thesis names no base)",
                 "accuracy": "; Net1's test accuracy for the thesis's 'validation accuracy'"
                 }.get(column.key, "")
        remark = ""
        judgement: Judgement
        if row is None:
            judgement = not_comparable(f"this run's sweep leaves out d_ratio {d_ratio:g}")
        elif column.key == "accuracy" and accuracy_reason is not None:
            judgement = not_comparable(accuracy_reason)
        else:
            judgement = judge_point(value, cell_rule(column.key, thesis),
                                    undefined="the measure was not recorded at this d_ratio")
        if column.key == "jsd" and value is not None:
            remark = f"In nats: {value * math.log(2):.3f}."
        elif column.key == "rank" and row is not None and row.disagreement is not None:
            remark = f"= 1 − 2 × disagreement ({row.disagreement:.3f})."
        out.append(ThesisRow(
            quantity=f"d_ratio {d_ratio:g}: {column.quantity}", thesis=thesis, value=value,
            claim=f"at d_ratio {d_ratio:g}, {column.claim}", judgement=judgement,
            percent=column.key == "accuracy", remark=remark, id=cell_id(d_ratio, column.key),
            n=None if row is None else 1, n_of="pair of nets (one base network)",
            differs=common + extra))
    return out


def _other_rows(row: SweepRow) -> list[ThesisRow]:
    """The cells at a d_ratio the thesis did not run: context, without a verdict."""
    d = row.d_ratio
    return [ThesisRow(quantity=f"d_ratio {d:g}: {column.quantity}", thesis=None,
                      value=getattr(row, column.field), percent=column.key == "accuracy",
                      remark="The thesis did not run this d_ratio.")
            for column in COLUMNS]


@dataclass(frozen=True)
class Trend:
    """A claimed trend over the sweep: ``field`` (a :class:`SweepRow` field) moves in
    ``direction`` (+1 rises, −1 falls) by at least ``bound`` from the first d_ratio to the last;
    ``column``: the :class:`Table41Row` field of the thesis's values."""

    claim_id: str
    field: str
    column: str
    words: str
    direction: int
    bound: float


TRENDS = (
    Trend("existence.jsd_falls", "jsd", "jsd", "JSD", -1, TREND),
    Trend("existence.rank_rises", "rank", "rank", "the rank coefficient", 1, TREND),
    Trend("existence.accuracy_falls", "accuracy_net1", "accuracy", "Net1's accuracy", -1,
          ACCURACY_FALL),
)


def _trend_rows(rows: Sequence[SweepRow], common: str) -> list[ThesisRow]:
    """JSD falls, the rank coefficient rises and Net1's accuracy falls as d_ratio grows: each
    judged on its change from the sweep's first d_ratio to its last."""
    out = []
    first, last = (rows[0], rows[-1]) if rows else (None, None)
    thesis_ends = (first is not None and last is not None and first.d_ratio == 0.0
                   and last.d_ratio == 0.9)
    for trend in TRENDS:
        words, direction = trend.words, trend.direction
        moves = "falls" if direction < 0 else "rises"
        claim = f"{words} {moves} as more features are masked"
        thesis_change = round(getattr(THESIS[0.9], trend.column)
                              - getattr(THESIS[0.0], trend.column), 3)
        meaning = f"{words} {moves}, its change over the sweep"
        rule: PointRule = (AtMost(-trend.bound, meaning) if direction < 0
                           else AtLeast(trend.bound, meaning))
        if len(rows) < 2:
            out.append(ThesisRow(
                quantity=f"change in {words} over the sweep", thesis=thesis_change, value=None,
                claim=claim, judgement=not_comparable("this run's sweep has fewer than two "
                                                      "d_ratios"),
                id=trend.claim_id, differs=common))
            continue
        series = [getattr(r, trend.field) for r in rows]
        ends = f"d_ratio {first.d_ratio:g} → {last.d_ratio:g}"
        capital = words[0].upper() + words[1:]
        if any(v is None for v in series):
            value, remark = None, f"{capital} is missing at some d_ratio."
        else:
            value = series[-1] - series[0]
            steps = [b - a for a, b in zip(series, series[1:])]
            moving = sum(1 for s in steps if s * direction > 0)
            remark = (f"{capital} {moves} at {moving} of {len(steps)} steps: "
                      f"{' → '.join(f'{v:.3f}' for v in series)} (thesis, d_ratio 0 → 0.9: "
                      + " → ".join(f"{getattr(t, trend.column):g}" for t in THESIS.values())
                      + ").")
        out.append(ThesisRow(
            quantity=f"change in {words}, {ends}",
            thesis=thesis_change if thesis_ends else None, value=value, claim=claim,
            judgement=judge_point(value, rule, undefined=f"{words} is missing at some d_ratio"),
            n=len(rows), n_of="d_ratios", remark=remark, id=trend.claim_id, differs=common))
    return out


def _control_row(rows: Sequence[SweepRow], controls: Sequence[ControlRow]) -> ThesisRow:
    """simfunc's control: a net on the true labels through Net2's mask stays near Net1."""
    quantity = "largest share, over d_ratios, of the control pair's JSD in Net1–Net2's"
    claim = "the gap between Net1 and Net2 comes from the flipped labels, not from the masks"
    common = dict(thesis=None, claim=claim, n_of="d_ratios", source="simfunc",
                  id="existence.control", differs="simfunc's own control, not in the thesis")
    if not controls:
        return ThesisRow(quantity=quantity, value=None, **common,
                         judgement=not_comparable("this run fits no control net (controls is "
                                                  "off)"))
    flipped = {f"{r.d_ratio:g}": r.jsd for r in rows}
    shares = [(c.d_ratio, c.jsd / flipped[f"{c.d_ratio:g}"]) for c in controls
              if c.jsd is not None and flipped.get(f"{c.d_ratio:g}")]
    worst = max(shares, key=lambda s: s[1]) if shares else None
    value = None if worst is None else worst[1]
    return ThesisRow(
        quantity=quantity, value=value, n=len(shares), **common,
        judgement=judge_point(value, AtMost(CONTROL_SHARE, "the masks alone make little of the "
                                            "gap"), undefined="no d_ratio has both JSDs"),
        remark=("The control net learns the true labels through Net2's mask; its JSD to Net1 "
                "by d_ratio: " + ", ".join(f"{c.d_ratio:g}: {c.jsd:.3f}" for c in controls
                                           if c.jsd is not None)
                + ("" if worst is None else f" (largest share at d_ratio {worst[0]:g})") + "."))


def _input_row(size: int | None) -> ThesisRow:
    return ThesisRow(
        quantity="input size of the base and the task (pixels per side)",
        thesis=THESIS_INPUT_SIZE, value=size,  # an int: shown as 32, not 32.000
        remark="The base's pretraining resolution; the summary says why not 224.")


def thesis_rows(result: ExistenceResult, settings: Settings) -> list[ThesisRow]:
    """The input size, Table 4.1's 25 cells (every d_ratio the thesis ran; those of other
    d_ratios this run swept as context), the trends over d_ratio and the control."""
    rows = sorted(result.rows, key=lambda r: r.d_ratio)
    by_ratio = {f"{r.d_ratio:g}": r for r in rows}
    common = differs(settings, result)
    accuracy_reason = accuracy_not_comparable(settings)
    out = [_input_row(result.input_size)]
    for d_ratio in THESIS:
        out += _cell_rows(by_ratio, d_ratio, common, accuracy_reason)
    thesis_keys = {f"{d:g}" for d in THESIS}
    for row in rows:
        if f"{row.d_ratio:g}" not in thesis_keys:
            out += _other_rows(row)
    out += _trend_rows(rows, common)
    out.append(_control_row(rows, result.controls))
    return out


def section(name: str, title: str, result: ExistenceResult, settings: Settings,
            figures: Sequence[FigureRef], tables: Sequence[Table]) -> Section:
    """The study's report section."""
    described = stand_ins({"ImageNet32 (pretraining)": (settings.base.dataset, settings.base.classes),
                           "Cats vs Dogs (task)": (settings.task.dataset, settings.task.classes)})
    positive = ", ".join(map(str, settings.task.positive))
    described["Cats vs Dogs (task)"] += f"; label 1 = class {positive} ({settings.task.name})"
    return Section(id=name, title=title, summary=SUMMARY, figures=list(figures),
                   tables=list(tables), thesis_rows=thesis_rows(result, settings),
                   stand_ins=described, settings=settings_dict(settings))
