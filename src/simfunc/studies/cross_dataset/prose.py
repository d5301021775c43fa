"""The cross-dataset study's report: its words, and its numbers beside the thesis's.

Everything a reader sees that is not a number computed by the analysis is here: the summary
(with the choices the thesis leaves open), captions, titles, table rows, and the thesis's
finding as :class:`~simfunc.report.ThesisRow` s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from simfunc.report import FigureRef, Section, Table, ThesisRow
from simfunc.scorecard import judge_all, judge_relation
from simfunc.settings import settings_dict
from simfunc.studies.common import stand_ins
from simfunc.studies.training_sets import differs_from_thesis

if TYPE_CHECKING:
    from simfunc.studies.cross_dataset import Settings
    from simfunc.studies.cross_dataset.result import (
        CrossDatasetResult,
        GroupMeans,
        TrainingSetContrast,
    )

__all__ = ["differs", "section", "set_label", "table_row", "thesis_rows"]

LAYER_WORDS = {"last_conv": "the last convolutional map, flattened (the thesis's layer)",
               "features": "the pooled penultimate features"}
MEANS_TABLE = ("Mean CKA by kind of pair, per layer and test set; difference = within − "
               "across training sets, with its network-bootstrap interval and one-sided Mantel p")
CLAIM = ("networks trained on the same set stay more similar to each other than to networks "
         "trained on the other set (all test sets pooled)")
EVERY_CLAIM = "… and so on every test set, the third set (seen by neither) included"


def layer_words(layer: str) -> str:
    return LAYER_WORDS.get(layer, f"layer {layer}")


def set_label(dataset: str, classes: Sequence[int] | None) -> str:
    return dataset + (f" {classes[0]}–{classes[-1]}" if classes else "")


def heatmap_title(layer: str) -> str:
    return (f"Linear CKA of {layer_words(layer)}, every pair of networks "
            "(A-s*: trained on A, B-s*: trained on B)")


def heatmap_caption(layer: str, headline: bool) -> str:
    return (f"Pairwise linear CKA of {layer_words(layer)} on the test sets of A, B and the "
            "third set C" + ("." if headline else "; beside the headline, not the thesis's "
                             "layer."))


def _summary_text(settings: Settings) -> str:
    others = [layer_words(layer) for layer in settings.layers[1:]]
    return (
        "One heatmap per test set: linear CKA for every pair of networks. Networks trained on "
        "A come first, then those trained on B, then untrained ones (each the initial weights "
        "of a seed of its own); blocks along the diagonal are pairs with the same training "
        f"set. The headline layer is {layer_words(settings.layers[0])}"
        + (f"; {', '.join(others)} shown beside it." if others else ".") + "\n\n"
        "The finding is the difference of mean CKA within and across training sets over the "
        "trained networks. Its p-value is a one-sided Mantel test (the networks relabelled, "
        "one relabelling for every test set; the thesis predicts within above across) and its "
        "interval a network bootstrap within training sets: networks, not pairs, are the "
        "units, as every network is in many pairs. Networks that fall in the same groups "
        "again give the same difference, so few networks per training set bound p from below "
        "(0.1 with three each).\n\n"
        "Choices the thesis leaves open: the images of each test set are normalised with that "
        "data set's own channel statistics (per test set), not with those of the network's "
        "training set (per network); CKA is the linear, biased estimator on the test images "
        f"({settings.test_subset or 'all'} per test set)."
    )


def table_row(layer: str, test_set: str, means: GroupMeans,
              contrast: TrainingSetContrast) -> dict[str, Any]:
    ci = contrast.ci
    return {"layer": layer, "test set": test_set, **asdict(means),
            "difference": contrast.difference,
            "95% CI": "n/a" if not ci else f"{ci[0]:.3f} to {ci[1]:.3f}",
            "Mantel p": contrast.p}


def differs(settings: Settings) -> str:
    """How this run differs from the thesis's §3.2 (ResNet-18, three seeds on each of CIFAR-100
    and ImageNet32, three untrained; 5,800 test images of each set and all of Pascal VOC)."""
    extra = [f"{settings.test_subset or 'all'} test images a set, not 5,800"]
    if settings.layers[0] != "last_conv":
        extra.append(f"headline layer {settings.layers[0]}, not the last convolutional map")
    return differs_from_thesis(settings, settings.dataset_c, len(settings.seeds), 3, extra)


def _contrast_row(contrast: TrainingSetContrast, quantity: str, claim_id: str | None,
                  differ: str, claim: str = "", lead: str = "") -> ThesisRow:
    if contrast.undefined is not None:
        return ThesisRow(quantity=quantity, thesis="> 0", value=None, claim=claim,
                         judgement=judge_relation(1, None, undefined=contrast.undefined),
                         remark=contrast.undefined, id=claim_id, differs=differ)
    ci = contrast.ci
    how = "all" if contrast.exact else "random"
    notes = "".join(f" {note}." for note in contrast.notes)
    remark = lead + (f"Within {contrast.within:.3f}, across {contrast.across:.3f}. p: one-sided "
              f"Mantel test over {contrast.n_networks} networks ({how} "
              f"{contrast.n_relabellings} relabellings; the smallest p this design allows "
              f"is {contrast.smallest_p:.2g}); interval: network bootstrap within training "
              "sets." + notes)
    n = None if contrast.n_within is None or contrast.n_across is None else \
        contrast.n_within + contrast.n_across
    return ThesisRow(
        quantity=quantity, thesis="> 0", value=contrast.difference, claim=claim,
        ci=ci, p_value=contrast.p, n=n,
        judgement=judge_relation(1, ci, value=contrast.difference,
                                 undefined="the network bootstrap gave no interval" + notes,
                                 what="network-bootstrap 95% interval"),
        remark=remark, id=claim_id, differs=differ,
    )


def thesis_rows(result: CrossDatasetResult, differ: str = "") -> list[ThesisRow]:
    """The thesis's finding beside this run's numbers: all test sets pooled (the headline
    claim), each test set, and the pooled difference at each other layer."""
    per_set = []
    for role, values in result.test_sets.items():
        per_set.append(_contrast_row(
            values.contrast, f"mean CKA within − across training sets, test set {role} "
            f"({values.dataset})", f"cross_dataset.within_minus_across.{role}", differ,
            claim=f"within above across on test set {role}"))
    positive = sum(row.value is not None and row.value > 0 for row in per_set)
    rows = [_contrast_row(
        result.pooled, "mean CKA within − across training sets, all test sets",
        "cross_dataset.within_minus_across", differ, claim=CLAIM,
        lead=f"Within above across on {positive} of {len(per_set)} test sets. ")]
    rows += per_set
    parts = [(f"test set {row.id.rsplit('.', 1)[1]}", row.judgement) for row in per_set
             if row.judgement is not None]
    rows.append(ThesisRow(
        quantity="within above across on every test set", thesis="every test set",
        value=None if not per_set else min(
            (row.value for row in per_set if row.value is not None), default=None),
        claim=EVERY_CLAIM, n=len(per_set), n_of="test sets", judgement=judge_all(parts),
        id="cross_dataset.every_test_set", differs=differ,
        remark="The value is the smallest difference over the test sets; the verdict needs "
               "every test set's interval above 0."))
    for layer, values in result.by_layer.items():
        if layer != result.layer:
            rows.append(_contrast_row(
                values.pooled, f"the same at {layer_words(layer)}, all test sets", None,
                differ))
    return rows


def section(name: str, title: str, result: CrossDatasetResult, settings: Settings,
            sets: Mapping[str, tuple[str, Sequence[int] | None]], figures: Sequence[FigureRef],
            tables: Sequence[Table]) -> Section:
    """The study's report section (``sets``: test set A, B, C -> (dataset, classes))."""
    return Section(
        id=name, title=title, summary=_summary_text(settings), figures=list(figures),
        tables=list(tables), thesis_rows=thesis_rows(result, differs(settings)),
        stand_ins=stand_ins({"CIFAR-100 (A)": sets["A"], "ImageNet32 (B)": sets["B"],
                             "Pascal VOC (C)": sets["C"]}),
        settings=settings_dict(settings),
    )
