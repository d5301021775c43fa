"""The existence study's report: its words, and Table 4.1 of the thesis beside this run's numbers.

Everything a reader of the report sees that is not a number computed by the analysis is here:
the section's summary (with every choice the thesis leaves open), captions and titles, and the
thesis's Table 4.1 and its trend as :class:`~simfunc.report.ThesisRow` s.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from simfunc.report import FigureRef, Section, Table, ThesisRow, holds, same_sign
from simfunc.settings import settings_dict
from simfunc.studies.common import stand_ins

if TYPE_CHECKING:
    from simfunc.studies.existence import Settings

__all__ = ["THESIS", "THESIS_INPUT_SIZE", "thesis_rows", "section"]

# Table 4.1 of the thesis, one entry per d_ratio it ran, as far as simfunc's sources quote it
# (the row at d_ratio 0 and JSD and the rank coefficient at 0.9). None: not quoted.
THESIS: dict[float, dict[str, float]] = {
    0.0: {"cka": 0.99, "cca": 0.99, "jsd": 0.59, "rank": -0.95, "accuracy": 0.977},
    0.25: {},
    0.5: {},
    0.8: {},
    0.9: {"jsd": 0.29, "rank": -0.70},
}
THESIS_INPUT_SIZE = 224
SAME = 0.9  # base-feature CKA / CCA at least this: "identical representations"
JSD_LARGE = 0.25  # bits: "the outputs differ" (a quarter of JSD's range; thesis's least 0.29)
ACCURATE = 0.9  # Net1's validation accuracy at least this: "a working classifier"

SUMMARY = (
    "Two networks share one frozen pretrained base; each masks part of the base's feature vector "
    "and adds a linear head. Net1 learns the true labels of a binary task, Net2 the flipped "
    "labels. d_ratio is the fraction of the D feature dimensions each mask zeroes: Net1 keeps the "
    "first k = D − ⌊d_ratio·D + ½⌋ dimensions, Net2 the last k (disjoint from d_ratio 0.5 on). "
    "A control net, trained on the true labels through Net2's mask, separates the labels' effect "
    "from the masks'. The base features are identical (same frozen base, same images), so their "
    "CKA and CCA are exactly 1, yet the two nets compute opposite functions: representational "
    "similarity does not imply functional similarity.\n\n"
    "Choices the thesis leaves open, as this run makes them: d_ratio is read as above (the "
    "thesis's wording is ambiguous). CKA and CCA are those of the base features, before masking, "
    "as the thesis computes them; the masked features' are shown too (the stronger claim). JSD "
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
    "statistics, not the base's pretraining statistics.\n\n"
    "Input size: no profile runs at the thesis's 224×224, the paper profile included. Every "
    "profile runs the base, and the task's images, at the base's pretraining resolution (32×32 "
    "on the standard and paper profiles, 8×8 digits on quick; the 'input size' row below). Why: "
    "ImageNet32's images are 32×32, so 224×224 inputs would only upsample them; simfunc's "
    "ResNet-18 is the CIFAR variant (3×3 stride-1 stem, no max-pool), which at 224×224 costs 49 "
    "times its 32×32 compute (the paper profile's pretraining, about 1.9 GPU hours at 32×32 by "
    "BENCHMARKS.md's estimate, would take about 90); and the data layer keeps decoded images in memory at the "
    "network's input size, which for ImageNet32's 1.28 million training images at 224×224 is "
    "about 190 GB (uint8), more than the 128 GB of host memory of the one-GPU machine the "
    "paper profiles are sized for.\n\n"
    "Beside the thesis: simfunc's sources quote Table 4.1's row at d_ratio 0 (CKA, CCA, JSD, "
    "rank coefficient, accuracy) and its JSD and rank coefficient at d_ratio 0.9; every row this "
    "run computes is listed, and a thesis cell the sources do not quote shows '–'. No p-value "
    "or confidence interval is given, and no relation across pairs is fitted: every pair is "
    "built on the one frozen base network, so the five d_ratios are five constructions from a "
    "single network, not a sample of networks, and network-level inference (permuting or "
    "resampling networks) has nothing to resample. The heads are deterministic given the base, "
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


def _row(d_ratio: float, key: str, quantity: str, value: float | None, *, verdict_of: Any = None,
         claim: str = "", remark: str = "") -> ThesisRow:
    thesis = THESIS.get(d_ratio, {}).get(key)
    verdict = None if thesis is None or verdict_of is None else verdict_of(thesis, value)
    if thesis is None and not remark:
        remark = "The thesis's value at this d_ratio is not among those simfunc's sources quote."
    return ThesisRow(quantity=f"d_ratio {d_ratio:g}: {quantity}", thesis=thesis, value=value,
                     claim=claim if thesis is not None else "", verdict=verdict,
                     remark=remark)


def _at_least(bound: float) -> Any:
    return lambda _thesis, value: holds(None if value is None else value >= bound)


def _table_rows(row: Mapping[str, Any]) -> list[ThesisRow]:
    d, jsd = row["d_ratio"], row["jsd"]
    nats = "" if jsd is None else f" In nats: {jsd * math.log(2):.3f}."
    return [
        _row(d, "cka", "linear CKA of the base features", row["cka_base"],
             verdict_of=_at_least(SAME), claim="the two nets' representations are the same",
             remark=f"Counted as the same at {SAME:g} or above."),
        _row(d, "cca", "R²_CCA of the base features", row["cca_base"],
             verdict_of=_at_least(SAME), claim="CCA calls them the same too"),
        _row(d, "jsd", "JSD of the outputs (bits)", jsd, verdict_of=_at_least(JSD_LARGE),
             claim="their outputs differ",
             remark=f"Counted as differing at {JSD_LARGE:g} bits or more.{nats}"),
        _row(d, "rank", "rank coefficient of the outputs", row["rank"], verdict_of=same_sign,
             claim="their outputs rank the classes in opposite orders",
             remark=(f"= 1 − 2 × disagreement ({row['disagreement']:.3f})."
                     if row["disagreement"] is not None else "")),
    ]


def _trend_rows(rows: Sequence[Mapping[str, Any]]) -> list[ThesisRow]:
    first, last = rows[0], rows[-1]
    ends = f"d_ratio {first['d_ratio']:g} → {last['d_ratio']:g}"
    thesis_ends = first["d_ratio"] == 0.0 and last["d_ratio"] == 0.9
    out = []
    for key, words, direction in (("jsd", "JSD", -1), ("rank", "rank coefficient", 1)):
        series = [r[key] for r in rows]
        if any(v is None for v in series):
            continue
        steps = [b - a for a, b in zip(series, series[1:])]
        moving = sum(1 for s in steps if s * direction > 0)
        thesis = THESIS[0.9][key] - THESIS[0.0][key] if thesis_ends else None
        out.append(ThesisRow(
            quantity=f"change in {words}, {ends}", thesis=None if thesis is None else round(thesis, 2),
            value=series[-1] - series[0],
            claim=f"{words} {'falls' if direction < 0 else 'rises'} as more features are masked",
            verdict=holds((series[-1] - series[0]) * direction > 0), n=len(rows), n_of="d_ratios",
            remark=(f"{words} {'falls' if direction < 0 else 'rises'} at {moving} of {len(steps)} "
                    f"steps: {' → '.join(f'{v:.3f}' for v in series)}"
                    + (" (thesis: " + f"{THESIS[0.0][key]:g} → {THESIS[0.9][key]:g})"
                       if thesis_ends else "") + "."),
        ))
    return out


def _input_row(size: int | None) -> ThesisRow:
    return ThesisRow(
        quantity="input size of the base and the task (pixels per side)",
        thesis=THESIS_INPUT_SIZE, value=size,  # an int: shown as 32, not 32.000
        verdict=holds(None if size is None else size == THESIS_INPUT_SIZE),
        remark="The base's pretraining resolution; the summary says why not 224.")


def thesis_rows(summary: Mapping[str, Any]) -> list[ThesisRow]:
    """The input size, Table 4.1 (every d_ratio run: CKA, CCA, JSD, rank coefficient), Net1's
    accuracy, the trends over d_ratio and the control, beside the thesis."""
    rows = summary["rows"]
    out = [_input_row(summary.get("input_size"))]
    out += [r for row in rows for r in _table_rows(row)]
    first = rows[0] if rows else None
    if first is not None and first["d_ratio"] == 0.0:
        out.append(_row(0.0, "accuracy", "validation accuracy of Net1", first["accuracy_net1"],
                        verdict_of=_at_least(ACCURATE), claim="Net1 is an accurate classifier",
                        remark=f"Counted as accurate at {ACCURATE:g} or above."))
    if len(rows) > 1:
        out.extend(_trend_rows(rows))
    control = [c["jsd"] for c in summary["controls"] if c["jsd"] is not None]
    if control:
        out.append(ThesisRow(
            quantity="largest JSD of Net1 vs the control net (same labels, Net2's mask)",
            thesis=None, value=max(control), n=len(control), n_of="d_ratios",
            remark="simfunc's control, not in the thesis: a small value here means the gap "
                   "between Net1 and Net2 comes from the flipped labels, not from the masks."))
    return out


def section(name: str, title: str, summary: Mapping[str, Any], settings: Settings,
            figures: Sequence[FigureRef], tables: Sequence[Table]) -> Section:
    """The study's report section."""
    described = stand_ins({"ImageNet32 (pretraining)": (settings.base.dataset, settings.base.classes),
                           "Cats vs Dogs (task)": (settings.task.dataset, settings.task.classes)})
    positive = ", ".join(map(str, settings.task.positive))
    described["Cats vs Dogs (task)"] += f"; label 1 = class {positive} ({settings.task.name})"
    return Section(id=name, title=title, summary=SUMMARY, figures=list(figures),
                   tables=list(tables), thesis_rows=thesis_rows(summary), stand_ins=described,
                   settings=settings_dict(settings))
