"""The architectures study's report: its words, and its numbers beside the thesis's.

Everything a reader of the report sees that is not a number computed by the analysis is here:
the section's summary, captions and titles, and the thesis's findings as
:class:`~simfunc.report.ThesisRow` s, which :mod:`simfunc.report` renders as the findings
list and the "this run beside the thesis" table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from simfunc.report import FigureRef, Section, Table, ThesisRow
from simfunc.scorecard import (
    AtLeast,
    AtMost,
    judge_point,
    judge_relation,
    not_comparable,
)
from simfunc.settings import settings_dict
from simfunc.studies.common import (
    describe_dataset,
    inference_remark,
    relation_interval,
    stand_ins,
)

if TYPE_CHECKING:
    from simfunc.studies.architectures import Settings
    from simfunc.studies.architectures.result import ArchitecturesResult
    from simfunc.studies.relation import Relation

__all__ = ["THESIS", "THESIS_ARCHS", "differs", "section", "thesis_rows"]

THESIS = {"spearman_cka_vs_jsd": -0.75, "spearman_cka_vs_rank": 0.703}  # Table 3.1

SUMMARY = (
    "Each point is a pair of networks compared on the same test images: the linear CKA of "
    "their penultimate features against the Jensen–Shannon divergence (left) and the Spearman "
    "rank coefficient (right) of their outputs. Blue: pairs of trained networks (the line is "
    "fitted to these); red: pairs of untrained networks, each the initial weights of a trained "
    "one.\n\n"
    "Choices the thesis leaves open: JSD is in bits (base 2, between 0 and 1), averaged over the "
    "test images; the rank coefficient is Spearman's correlation between the two networks' "
    "output vectors, averaged over the test images."
)
SCATTER_CAPTION = (
    "CKA vs JSD and vs the rank coefficient of the outputs, trained pairs in blue, untrained in "
    "red; title: least-squares slope and Spearman's ρ over the trained pairs."
)
NETWORKS_TABLE = "Trained networks"
PAIRS_TABLE = ("Pairs of trained networks, most similar representations first: each network's "
               "test accuracy beside the pair's CKA, JSD and rank coefficient")
# A tenth of the trained pairs' JSD counts as "≈ 0" for the untrained pairs.
UNTRAINED_JSD_RATIO = 0.1
# "Many pairs break the trend": at least this fraction of pairs of pairs is discordant.
MANY_DISCORDANT = 0.1
THESIS_ARCHS = ("vgg11", "vgg13", "vgg16", "resnet18", "resnet34", "mobilenet", "mobilenetv2")


def differs(settings: Settings) -> str:
    """How this run's experiment differs from the thesis's §3.3 (CIFAR-100; the seven
    architectures at full width; fully trained)."""
    out = []
    if settings.dataset != "cifar100":
        out.append(f"data: {describe_dataset(settings.dataset, settings.classes)}, not CIFAR-100")
    if tuple(settings.archs) != THESIS_ARCHS:
        out.append(f"networks: {', '.join(settings.archs)}, not the thesis's seven "
                   "(VGG11/13/16, ResNet18/34, MobileNet, MobileNetV2)")
    if settings.width != 1.0:
        out.append(f"width ×{settings.width:g}")
    if settings.image_size not in (None, 32):
        out.append(f"input {settings.image_size}×{settings.image_size}, not 32×32")
    out.append(f"{len(settings.seeds)} seed(s) an architecture; training {settings.training.epochs} "
               "epoch(s) (the thesis trains fully and does not say how long)")
    return "; ".join(out)


def figure_title(n_pairs: int, dataset: str) -> str:
    return f"{n_pairs} pairs of trained networks on {dataset}, penultimate features"


def panel_title(output: str) -> str:
    return f"CKA vs {'JSD' if output == 'jsd' else 'rank coefficient'}"


def _relation_row(relation: Relation, key: str, quantity: str, claim: str,
                  claim_id: str, expected_sign: int, differ: str) -> ThesisRow:
    ci, undefined = relation_interval(relation)
    return ThesisRow(
        quantity=quantity, thesis=THESIS[key], value=relation.rho, claim=claim, ci=ci,
        p_value=relation.p_value, n=relation.n,
        judgement=judge_relation(expected_sign, ci, thesis=THESIS[key],
                                 value=relation.rho, undefined=undefined,
                                 what="network-bootstrap 95% interval"),
        remark=inference_remark(relation), id=claim_id, differs=differ,
    )


def thesis_rows(result: ArchitecturesResult, differ: str = "") -> list[ThesisRow]:
    """The thesis's four findings beside this run's numbers."""
    jsd, rank = result.spearman_cka_vs_jsd, result.spearman_cka_vs_rank
    rows = [
        _relation_row(jsd, "spearman_cka_vs_jsd", "Spearman ρ(CKA, JSD), trained pairs",
                      "higher CKA goes with lower JSD", "architectures.cka_jsd", -1, differ),
        _relation_row(rank, "spearman_cka_vs_rank",
                      "Spearman ρ(CKA, rank coefficient), trained pairs",
                      "higher CKA goes with a higher rank coefficient", "architectures.cka_rank",
                      1, differ),
    ]
    if jsd.discordant_fraction is None:
        rows.append(ThesisRow(
            quantity="pairs of pairs breaking the CKA–JSD trend", thesis="many", value=None,
            claim="many pairs break the trend",
            judgement=judge_point(None, AtLeast(MANY_DISCORDANT, "many pairs of pairs discordant"),
                                  undefined=jsd.undefined or "no relation"),
            id="architectures.discordant", differs=differ))
    else:
        rows.append(ThesisRow(
            quantity="pairs of pairs breaking the CKA–JSD trend", thesis="many",
            value=jsd.discordant_fraction, claim="many pairs break the trend", percent=True,
            n=jsd.n * (jsd.n - 1) // 2, n_of="pairs of pairs",
            judgement=judge_point(jsd.discordant_fraction,
                                  AtLeast(MANY_DISCORDANT, "many pairs of pairs discordant")),
            remark="A pair of pairs breaks the trend when the one with the higher CKA has the "
                   "larger JSD.", id="architectures.discordant", differs=differ,
        ))
    untrained = result.untrained
    if untrained is not None:
        trained_jsd = untrained.mean_jsd_trained
        low, high = untrained.cka_range
        ratio = None if not trained_jsd else untrained.mean_jsd / trained_jsd
        rows.append(ThesisRow(
            quantity="mean JSD of untrained pairs", thesis="≈ 0", value=untrained.mean_jsd,
            claim="untrained pairs have JSD ≈ 0 at any CKA", n=result.n_untrained_pairs,
            judgement=judge_point(ratio, AtMost(
                UNTRAINED_JSD_RATIO, "≈ 0: the untrained pairs' mean JSD over the trained "
                "pairs'"), undefined="no trained pairs to compare with"),
            id="architectures.untrained_jsd", differs=differ,
            remark=(f"Their CKA spans {low:.2f}–{high:.2f}; trained pairs' mean JSD is "
                    + ("n/a" if trained_jsd is None else f"{trained_jsd:.3f}")
                    + f" (≈ 0 here: below {UNTRAINED_JSD_RATIO:g} of it)."),
        ))
    else:
        rows.append(ThesisRow(
            quantity="mean JSD of untrained pairs", thesis="≈ 0", value=None,
            claim="untrained pairs have JSD ≈ 0 at any CKA",
            judgement=not_comparable("this run has no untrained networks (untrained = false)"),
            id="architectures.untrained_jsd", differs=differ))
    return rows


def section(name: str, title: str, result: ArchitecturesResult, settings: Settings,
            figures: Sequence[FigureRef], tables: Sequence[Table]) -> Section:
    """The study's report section."""
    return Section(
        id=name, title=title, summary=SUMMARY, figures=list(figures), tables=list(tables),
        thesis_rows=thesis_rows(result, differs(settings)),
        stand_ins=stand_ins({"CIFAR-100": (settings.dataset, settings.classes)}),
        settings=settings_dict(settings),
    )
