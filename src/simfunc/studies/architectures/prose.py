"""The architectures study's report: its words, and its numbers beside the thesis's.

Everything a reader of the report sees that is not a number computed by the analysis is here:
the section's summary, captions and titles, and the thesis's findings as
:class:`~simfunc.report.ThesisRow` s, which :mod:`simfunc.report` renders as the findings
list and the "this run beside the thesis" table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Sequence

from simfunc.report import FigureRef, Section, Table, ThesisRow, holds, same_sign
from simfunc.settings import settings_dict
from simfunc.studies.common import inference_remark, stand_ins

if TYPE_CHECKING:
    from simfunc.studies.architectures import Settings

__all__ = ["THESIS", "thesis_rows", "section"]

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


def figure_title(n_pairs: int, dataset: str) -> str:
    return f"{n_pairs} pairs of trained networks on {dataset}, penultimate features"


def panel_title(output: str) -> str:
    return f"CKA vs {'JSD' if output == 'jsd' else 'rank coefficient'}"


def _relation_row(relation: Mapping[str, Any], key: str, quantity: str, claim: str) -> ThesisRow:
    rho = relation.get("spearman")
    ci = relation.get("spearman_ci")
    return ThesisRow(
        quantity=quantity, thesis=THESIS[key], value=rho, claim=claim,
        ci=tuple(ci) if ci is not None else None, p_value=relation.get("spearman_p"),
        n=relation.get("n"), verdict=same_sign(THESIS[key], rho),
        remark=inference_remark(relation),
    )


def thesis_rows(summary: Mapping[str, Any]) -> list[ThesisRow]:
    """The thesis's four findings beside this run's numbers."""
    jsd, rank = summary["spearman_cka_vs_jsd"], summary["spearman_cka_vs_rank"]
    rows = [
        _relation_row(jsd, "spearman_cka_vs_jsd", "Spearman ρ(CKA, JSD), trained pairs",
                      "higher CKA goes with lower JSD"),
        _relation_row(rank, "spearman_cka_vs_rank",
                      "Spearman ρ(CKA, rank coefficient), trained pairs",
                      "higher CKA goes with a higher rank coefficient"),
    ]
    if "discordant_fraction" in jsd:
        rows.append(ThesisRow(
            quantity="pairs of pairs breaking the CKA–JSD trend", thesis="many",
            value=jsd["discordant_fraction"], claim="many pairs break the trend", percent=True,
            n=jsd["n"] * (jsd["n"] - 1) // 2, n_of="pairs of pairs",
            remark="A pair of pairs breaks the trend when the one with the higher CKA has the "
                   "larger JSD.",
        ))
    untrained = summary.get("untrained")
    if untrained:
        trained_jsd = untrained["mean_jsd_trained"]
        low, high = untrained["cka_range"]
        rows.append(ThesisRow(
            quantity="mean JSD of untrained pairs", thesis="≈ 0", value=untrained["mean_jsd"],
            claim="untrained pairs have JSD ≈ 0 at any CKA", n=summary["n_untrained_pairs"],
            verdict=holds(None if trained_jsd is None
                          else untrained["mean_jsd"] < UNTRAINED_JSD_RATIO * trained_jsd),
            remark=(f"Their CKA spans {low:.2f}–{high:.2f}; trained pairs' mean JSD is "
                    + ("n/a" if trained_jsd is None else f"{trained_jsd:.3f}")
                    + f" (≈ 0 here: below {UNTRAINED_JSD_RATIO:g} of it)."),
        ))
    return rows


def section(name: str, title: str, summary: Mapping[str, Any], settings: Settings,
            figures: Sequence[FigureRef], tables: Sequence[Table]) -> Section:
    """The study's report section."""
    return Section(
        id=name, title=title, summary=SUMMARY, figures=list(figures), tables=list(tables),
        thesis_rows=thesis_rows(summary),
        stand_ins=stand_ins({"CIFAR-100": (settings.dataset, settings.classes)}),
        settings=settings_dict(settings),
    )
