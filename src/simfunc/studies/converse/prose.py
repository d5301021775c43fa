"""The converse study's report: its words, and its claims beside what this run measured.

The converse is not a section of the thesis: it turns chapter 4 around (cf. Davari et al.
2023). Its claims are what the construction guarantees — identical outputs, CKA falling with
the condition number, CCA staying 1 — and what the trained version is meant to show; they are
declared as :class:`~simfunc.report.ThesisRow` s (the "thesis" column holds the expected value)
and checked exactly, without a statistic: every construction value is an exact computation of
one teacher, and every pair contains that teacher, so there is no sample of independent units
to draw a p-value from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Sequence

from simfunc.report import FigureRef, Section, Table, ThesisRow, holds
from simfunc.settings import settings_dict
from simfunc.studies.common import stand_ins

if TYPE_CHECKING:
    from simfunc.studies.converse import Settings

__all__ = ["SHOWN", "thesis_rows", "section"]

SHOWN = ("linear_cka", "debiased_cka", "rbf_cka", "cca", "mean_cca", "svcca", "pwcca",
         "procrustes", "angular_shape", "mutual_knn", "rsa")
IDENTICAL_JSD = 1e-10  # bits: the constructions' outputs count as identical below this
IDENTICAL_LOGITS = 1e-8  # largest |logit difference| of identical outputs (float64 rounding)
CCA_ONE = 1e-6  # R²_CCA within this of 1 "stays 1"
LOW_CKA = 0.5  # the stretched network's CKA at the largest κ is "dissimilar" below this
MONOTONE_SLACK = 1e-9  # CKA may rise by rounding error between two κ and still "fall"
MATCHING = 0.05  # a student "matches" the teacher when they disagree on at most this fraction

SUMMARY = (
    "The thesis's chapter 4 builds two networks with identical representations and opposite "
    "functions. This section shows the reverse gap: networks computing the same function whose "
    "representations the measures call dissimilar.\n\n"
    "(a) Exact: an invertible map A = I + (κ − 1)·v·vᵀ (condition number κ, v the least-variance "
    "principal direction of the teacher's training features) is inserted after the feature layer "
    "and A⁻¹ folded into the last layer, so the outputs are unchanged (float64 throughout). "
    "(b) Trained: students distilled from the teacher's outputs (KL divergence on the teacher's "
    "training images, Adam) with a penalty on the linear CKA between their features and the "
    "teacher's, computed differentiably on each batch; an independently trained network of the "
    "students' seed is the reference.\n\n"
    "The converse is not a section of the thesis: in the findings and the table below, the "
    "'thesis' value is what the construction guarantees or what the trained version sets out to "
    "show. Choices to know: JSD is in bits (base 2, between 0 and 1), averaged over the test images. "
    "Every pair is a network against the same teacher, so no relation across pairs is fitted or "
    "tested: each claim below is checked on the exact values, with the thresholds named beside it."
)
FIGURE_CAPTION = (
    "Left: the exact construction — similarity between the teacher's features and the features "
    "after the inserted map, against the map's condition number (the outputs are identical "
    "throughout). Right: linear CKA against JSD of the outputs for every network compared with "
    "the teacher: constructions, distilled students (labelled with their CKA penalty) and an "
    "independently trained network."
)
CONSTRUCTION_TABLE = ("Exact construction: every measure between the teacher and the network "
                      "with the inserted map, per condition number κ")
STUDENTS_TABLE = ("Trained version: the students (and the independent network) against the "
                  "teacher; accuracy on the test set")


def _construction_rows(summary: Mapping[str, Any]) -> list[ThesisRow]:
    items = summary["constructions"]
    n = len(items)
    jsd = [r["jsd"] for r in items if r.get("jsd") is not None]
    cca = [r["cca"] for r in items if r.get("cca") is not None]
    cka = [(r["condition"], r["linear_cka"]) for r in items if r.get("linear_cka") is not None]
    logits = max(r["max_abs_logit_difference"] for r in items)
    rows = [
        ThesisRow(quantity="largest JSD of the outputs over every κ (bits)", thesis=0.0,
                  value=max(jsd) if jsd else None, claim="the outputs stay identical",
                  verdict=holds(max(jsd) < IDENTICAL_JSD if jsd else None), n=n, n_of="κ",
                  remark=f"Counted as identical below {IDENTICAL_JSD:g} bits; the largest "
                         f"|logit difference| is {logits:.1e}."),
        ThesisRow(quantity="largest |logit difference| over every κ", thesis=0.0, value=logits,
                  verdict=holds(logits < IDENTICAL_LOGITS), n=n, n_of="κ",
                  remark=f"float64 rounding: counted as 0 below {IDENTICAL_LOGITS:g}."),
    ]
    if cka:
        values = [v for _, v in cka]
        falls = all(b <= a + MONOTONE_SLACK for a, b in zip(values, values[1:]))
        limit = summary.get("cka_limit")
        rows.append(ThesisRow(
            quantity=f"linear CKA to the teacher at κ = {cka[-1][0]:g}", thesis="falls",
            value=values[-1], claim="linear CKA falls as κ grows",
            verdict=holds(falls and values[-1] < LOW_CKA), n=len(values), n_of="κ",
            remark="By κ: " + ", ".join(f"{c:g}: {v:.4f}" for c, v in cka)
                   + (f"; the limit as κ → ∞ is {limit:.4f}" if limit is not None else "")
                   + f". Counted as falling when no step rises and the last value is below "
                     f"{LOW_CKA:g}."))
    if cca:
        furthest = max(cca, key=lambda v: abs(1 - v))
        rows.append(ThesisRow(
            quantity="R²_CCA to the teacher, furthest from 1 over every κ", thesis=1.0,
            value=furthest, claim="CCA, invariant to invertible linear maps, stays 1",
            verdict=holds(abs(1 - furthest) < CCA_ONE), n=len(cca), n_of="κ",
            remark=f"Counted as 1 within {CCA_ONE:g}."))
    return rows


def _student_rows(summary: Mapping[str, Any]) -> list[ThesisRow]:
    students = sorted((s for s in summary["students"] if s.get("penalty") is not None),
                      key=lambda s: s["penalty"])
    rows = [ThesisRow(quantity=f"student, CKA penalty {s['penalty']:g}: linear CKA to the teacher",
                      thesis=None, value=s.get("linear_cka"),
                      remark=f"JSD {_fmt(s.get('jsd'), '.4f')} bits, disagreement "
                             f"{_fmt(s.get('disagreement'), '.3f')}, accuracy "
                             f"{_fmt(s.get('accuracy'), '.3f')}.")
            for s in students]
    plain = students[0] if students and students[0]["penalty"] == 0 else None
    strongest = students[-1] if students else None
    if plain is not None and strongest is not plain and None not in (
            plain.get("linear_cka"), strongest.get("linear_cka")):
        drop = strongest["linear_cka"] - plain["linear_cka"]
        rows.append(ThesisRow(
            quantity=f"change in linear CKA, penalty 0 → {strongest['penalty']:g}",
            thesis="falls", value=drop,
            claim="a CKA penalty lowers CKA while the student still matches the teacher's outputs",
            verdict=holds(None if strongest.get("disagreement") is None
                          else drop < 0 and strongest["disagreement"] <= MATCHING),
            remark=f"JSD to the teacher {_fmt(plain.get('jsd'), '.4f')} → "
                   f"{_fmt(strongest.get('jsd'), '.4f')} bits, disagreement "
                   f"{_fmt(plain.get('disagreement'), '.3f')} → "
                   f"{_fmt(strongest.get('disagreement'), '.3f')}; counted as matching the "
                   f"teacher at a disagreement of {MATCHING:g} or less."))
    for s in (s for s in summary["students"] if s.get("penalty") is None):
        rows.append(ThesisRow(
            quantity="independently trained network: linear CKA to the teacher", thesis=None,
            value=s.get("linear_cka"),
            remark=f"The reference (true labels, the students' seed): JSD "
                   f"{_fmt(s.get('jsd'), '.4f')} bits, accuracy {_fmt(s.get('accuracy'), '.3f')}."))
    return rows


def _fmt(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def thesis_rows(summary: Mapping[str, Any]) -> list[ThesisRow]:
    """The construction's claims, the students' CKA and the reference, and the teacher."""
    rows = _construction_rows(summary) if summary["constructions"] else []
    rows += _student_rows(summary)
    if summary["teacher_accuracy"] is not None:
        rows.append(ThesisRow(quantity="teacher's test accuracy", thesis=None,
                              value=summary["teacher_accuracy"]))
    return rows


def section(name: str, title: str, summary: Mapping[str, Any], settings: Settings,
            figures: Sequence[FigureRef], tables: Sequence[Table]) -> Section:
    """The study's report section."""
    return Section(id=name, title=title, summary=SUMMARY, figures=list(figures),
                   tables=list(tables), thesis_rows=thesis_rows(summary),
                   stand_ins=stand_ins({"training set": (settings.dataset, settings.classes)}),
                   settings=settings_dict(settings))
