"""The dataset-bias study's report: its words, and its numbers beside the thesis's.

Everything a reader sees that is not a number computed by the analysis is here: the summary
(with the choices the thesis leaves open), captions, titles, and the thesis's finding as
:class:`~simfunc.report.ThesisRow` s.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from simfunc.report import FigureRef, Section, Table, ThesisRow
from simfunc.scorecard import AtMost, judge_point, judge_relation
from simfunc.settings import settings_dict
from simfunc.studies.common import stand_ins
from simfunc.studies.training_sets import differs_from_thesis

if TYPE_CHECKING:
    from simfunc.studies.dataset_bias import Settings
    from simfunc.studies.dataset_bias.result import DatasetBiasResult

__all__ = ["differs", "section", "thesis_rows"]

#: "Never about the network": at most this share of held-out vectors assigned to another network.
NEVER = 0.05


def differs(settings: Settings) -> str:
    """How this run differs from the thesis's §3.1 (ResNet-18 features of two seeds trained on
    each of CIFAR-100 and ImageNet32 and two untrained, on their test sets and Pascal VOC)."""
    return differs_from_thesis(
        settings, settings.dataset_c, len(settings.seeds), 2,
        [f"layer {settings.layer} of {settings.arch}",
         "interval over held-out images for these six networks, none over networks"])

CONFUSION_TITLE = ("Linear SVM confusion (rows: true set, columns: predicted; "
                   "row-normalised)")
CONFUSION_CAPTION = (
    "Row-normalised confusion matrix of the linear SVM over the 18 representation sets. "
    "Off-diagonal mass inside a network's three rows means the SVM mistakes the test set; "
    "inside a test set's six rows, the network."
)
TSNE_CAPTION = ("t-SNE of the features of the six networks, one panel per test set, coloured "
                "by network.")
ERRORS_TABLE = "Where the SVM's mistakes go (shares of all its mistakes)"
KIND_NAMES = {"same_network": "same network, other test set",
              "same_test_set": "same test set, other network",
              "neither": "neither"}


def _summary_text(result: DatasetBiasResult, settings: Settings) -> str:
    labels = result.representation_sets
    return (
        "Six networks (two seeds trained on A, two on B, two untrained) are shown the test "
        "images of A, B and C. A linear SVM learns which of the 18 (test set, network) "
        f"combinations a feature vector comes from. Labels read test set _ network, e.g. "
        f"{labels[0]}. The two untrained networks are the initial weights of their own seeds "
        f"({', '.join(map(str, settings.untrained_seeds))}), unrelated to the trained ones.\n\n"
        f"Choices the thesis leaves open: the features are the flattened {settings.layer} map "
        f"of {settings.arch} ({result.features}-d), each feature standardised with the "
        "mean and standard deviation of the SVM's training rows of all 18 sets together; the "
        "images of each test set are normalised with that data set's own channel statistics "
        "(per test set), not with those of the network's training set (per network); the SVM "
        f"is one-vs-rest with the hinge loss and C = {settings.svm_c:g}, tested on the same "
        f"{result.n_test_per_set} held-out rows of every set (a fraction "
        f"{settings.holdout:g} of {settings.test_subset or 'all'} test images)."
    )


def thesis_rows(result: DatasetBiasResult, differ: str = "") -> list[ThesisRow]:
    """The thesis's finding beside this run's numbers."""
    n_errors = result.n_errors
    share = result.confusions.same_network if n_errors else None
    n_sets = len(result.representation_sets)
    vectors = result.n_test_per_set * n_sets
    rows_remark = (
        f"Intervals: bootstrap over the {result.n_test_per_set} held-out rows (a row is one "
        "image of each test set seen by all six networks), for these six networks and this "
        "SVM; with two networks per training set no interval over networks exists."
    )
    ci = result.same_network_share_ci
    rate_ci = result.other_network_rate_ci
    accuracy_ci = result.svm_accuracy_ci
    if n_errors:
        mistakes = judge_relation(
            1, ci, value=share, reference=0.5,
            what="bootstrap 95% interval of the share", undefined="no bootstrap interval")
    else:
        mistakes = judge_relation(1, None, undefined="the SVM made no mistake, so where its "
                                  "mistakes go is not measured")
    never = judge_point(result.other_network_rate,
                        AtMost(NEVER, "never about the network: share of vectors assigned to "
                               "another network"))
    return [
        ThesisRow(
            quantity="share of the SVM's mistakes that keep the network (another test set)",
            thesis="all", value=share, claim="the SVM is confused about the test set, never "
            "about the network", ci=ci, n=n_errors, n_of="mistakes",
            percent=True, judgement=mistakes, id="dataset_bias.mistakes_keep_network",
            differs=differ,
            remark=("Reproduced when the interval lies above one half: most mistakes keep the "
                    "network. " if n_errors else
                    "The SVM made no mistake at all, so none about the network. ")
            + rows_remark,
        ),
        ThesisRow(
            quantity="share of held-out feature vectors assigned to another network",
            thesis="none", value=result.other_network_rate, claim="never about the network",
            ci=rate_ci, n=vectors, n_of="feature vectors",
            judgement=never, id="dataset_bias.never_other_network", differs=differ,
            remark=f"{round(result.other_network_rate * vectors)} of {vectors}; the "
                   "thesis: never.",
        ),
        ThesisRow(
            quantity=f"SVM accuracy over the {n_sets} representation sets", thesis=None,
            value=result.svm_accuracy, ci=accuracy_ci,
            n=vectors, n_of="feature vectors", remark=f"Chance is {result.chance:.3f}.",
        ),
    ]


def section(name: str, title: str, result: DatasetBiasResult, settings: Settings,
            figures: Sequence[FigureRef], tables: Sequence[Table]) -> Section:
    """The study's report section."""
    return Section(
        id=name, title=title, summary=_summary_text(result, settings), figures=list(figures),
        tables=list(tables), thesis_rows=thesis_rows(result, differs(settings)),
        stand_ins=stand_ins({"CIFAR-100": (settings.dataset_a, settings.classes_a),
                             "ImageNet32": (settings.dataset_b, settings.classes_b),
                             "Pascal VOC": (settings.dataset_c, None)}),
        settings=settings_dict(settings),
    )
