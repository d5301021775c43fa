"""The cross-dataset study's report: its words, and its numbers beside the thesis's.

Everything a reader sees that is not a number computed by the analysis is here: the summary
(with the choices the thesis leaves open), captions, titles, table rows, and the thesis's
finding as :class:`~simfunc.report.ThesisRow` s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Sequence

from simfunc.report import FigureRef, Section, Table, ThesisRow, holds
from simfunc.settings import settings_dict
from simfunc.studies.common import stand_ins

if TYPE_CHECKING:
    from simfunc.studies.cross_dataset import Settings

__all__ = ["thesis_rows", "section", "table_row", "set_label"]

LAYER_WORDS = {"last_conv": "the last convolutional map, flattened (the thesis's layer)",
               "features": "the pooled penultimate features"}
MEANS_TABLE = ("Mean CKA by kind of pair, per layer and test set; difference = within − "
               "across training sets, with its network-bootstrap interval and one-sided Mantel p")
CLAIM = ("networks trained on the same set stay more similar to each other than to networks "
         "trained on the other set, on every test set")


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


def table_row(layer: str, test_set: str, means: Mapping[str, Any],
              contrast: Mapping[str, Any]) -> dict[str, Any]:
    ci = contrast.get("ci")
    return {"layer": layer, "test set": test_set, **means,
            "difference": contrast.get("difference"),
            "95% CI": "n/a" if not ci else f"{ci[0]:.3f} to {ci[1]:.3f}",
            "Mantel p": contrast.get("p")}


def _contrast_row(contrast: Mapping[str, Any], quantity: str, claim: str = "",
                  verdict_holds: bool | None = None, lead: str = "") -> ThesisRow:
    if "undefined" in contrast:
        return ThesisRow(quantity=quantity, thesis="> 0", value=None, claim=claim,
                         verdict=holds(None), remark=str(contrast["undefined"]))
    ci = contrast["ci"]
    how = "all" if contrast["exact"] else "random"
    remark = lead + (f"Within {contrast['within']:.3f}, across {contrast['across']:.3f}. p: one-sided "
              f"Mantel test over {contrast['n_networks']} networks ({how} "
              f"{contrast['n_relabellings']} relabellings; the smallest p this design allows "
              f"is {contrast['smallest_p']:.2g}); interval: network bootstrap within training "
              "sets." + "".join(f" {note}." for note in contrast.get("notes", [])))
    return ThesisRow(
        quantity=quantity, thesis="> 0", value=contrast["difference"], claim=claim,
        ci=tuple(ci) if ci else None, p_value=contrast["p"],
        n=contrast["n_within"] + contrast["n_across"],
        verdict=holds(contrast["difference"] > 0 if verdict_holds is None else verdict_holds),
        remark=remark,
    )


def thesis_rows(summary: Mapping[str, Any]) -> list[ThesisRow]:
    """The thesis's finding beside this run's numbers: each test set, all of them pooled, and
    the pooled difference at each other layer."""
    rows = []
    for role, values in summary["test_sets"].items():
        rows.append(_contrast_row(
            values["contrast"], f"mean CKA within − across training sets, test set {role} "
            f"({values['dataset']})"))
    positive = sum(row.value is not None and row.value > 0 for row in rows)
    rows.append(_contrast_row(
        summary["pooled"], "mean CKA within − across training sets, all test sets",
        claim=CLAIM, verdict_holds=summary["same_training_set_more_similar_on_every_test_set"],
        lead=f"Within above across on {positive} of {len(rows)} test sets. "))
    for layer, values in summary["by_layer"].items():
        if layer != summary["layer"]:
            rows.append(_contrast_row(
                values["pooled"], f"the same at {layer_words(layer)}, all test sets"))
    return rows


def section(name: str, title: str, summary: Mapping[str, Any], settings: Settings,
            sets: Mapping[str, tuple[str, Sequence[int] | None]], figures: Sequence[FigureRef],
            tables: Sequence[Table]) -> Section:
    """The study's report section (``sets``: test set A, B, C -> (dataset, classes))."""
    return Section(
        id=name, title=title, summary=_summary_text(settings), figures=list(figures),
        tables=list(tables), thesis_rows=thesis_rows(summary),
        stand_ins=stand_ins({"CIFAR-100 (A)": sets["A"], "ImageNet32 (B)": sets["B"],
                             "Pascal VOC (C)": sets["C"]}),
        settings=settings_dict(settings),
    )
