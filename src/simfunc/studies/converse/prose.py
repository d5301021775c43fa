"""The converse study's report: its words, and its claims beside what this run measured.

The converse is not a section of the thesis: it turns chapter 4 around (cf. Davari et al.
2023). Its claims are simfunc's own (ids ``converse.*``, source "simfunc", no thesis value):
what the construction guarantees — identical outputs, linear CKA falling with the condition
number to a dissimilar value, R²_CCA staying 1 — and what the trained version sets out to show
(a CKA penalty gives a student with the teacher's function and a dissimilar representation).
Each is a point value judged by the rule its row states (:func:`simfunc.scorecard.judge_point`),
without a statistic: every construction value is an exact computation of one teacher, and every
pair contains that teacher, so there is no sample of independent units to draw an interval or a
p-value from.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from simfunc.report import FigureRef, Section, Table, ThesisRow
from simfunc.scorecard import AtMost, Within, judge_point, not_comparable
from simfunc.settings import settings_dict
from simfunc.studies.common import describe_dataset, stand_ins

if TYPE_CHECKING:
    from simfunc.studies.converse import Settings
    from simfunc.studies.converse.result import ConverseResult

__all__ = ["CLAIMS", "SHOWN", "differs", "section", "thesis_rows"]

SHOWN = ("linear_cka", "debiased_cka", "rbf_cka", "cca", "mean_cca", "svcca", "pwcca",
         "procrustes", "angular_shape", "mutual_knn", "rsa")
# The constructions' outputs are identical: JSD at most 1e-10 bits (float64 rounding of a
# quantity that is exactly 0; the measured largest over five seeds is 4e-17).
IDENTICAL_JSD = 1e-10
IDENTICAL_LOGITS = 1e-8  # largest |logit difference| of identical outputs (float64 rounding)
# R²_CCA is invariant to invertible linear maps, so it "stays 1": within 1e-6 of 1 (rounding of
# an eigen-decomposition of a covariance whose condition grows with κ; measured ≤ 3e-14).
CCA_ONE = 1e-6
# "Dissimilar representations": linear CKA at most 0.5, half-way between unrelated (0) and
# identical (1) representations. Used for the stretched network at the largest κ and for the
# most penalised student.
LOW_CKA = 0.5
MONOTONE_SLACK = 1e-9  # CKA may rise by rounding error between two κ and still "fall"
# "The same function": the student disagrees with the teacher on at most 5 % of test images.
MATCHING = 0.05
# "The penalty lowers CKA": the most penalised student's CKA is at least 0.25 below the plain
# (penalty 0) student's, a quarter of CKA's range: the penalty, not distillation, moves it.
PENALTY_DROP = 0.25
# Every claim's id: the same in every run (a claim this run cannot test is "not comparable").
CLAIMS = ("converse.outputs_identical", "converse.cka_falls", "converse.cka_dissimilar",
          "converse.cca_stays_one", "converse.student_dissimilar",
          "converse.student_same_function", "converse.penalty_lowers_cka")

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
    "The converse is not a section of the thesis, and its claims are not the thesis's: they are "
    "simfunc's own (marked so in the scorecard and below, with no thesis value). Choices to "
    "know: JSD is in bits (base 2, between 0 and 1), averaged over the test images. Every pair "
    "is a network against the same teacher, so no relation across pairs is fitted or tested, "
    "and the pairs are not ranked in the measure leaderboard: each claim is judged on the exact "
    "values by the rule its row states — identical outputs at JSD ≤ "
    f"{IDENTICAL_JSD:g} bits; CKA falling when it never rises from one κ to the next (by more "
    f"than {MONOTONE_SLACK:g}); dissimilar representations at linear CKA ≤ {LOW_CKA:g}; CCA "
    f"staying 1 within {CCA_ONE:g}; the same function at a disagreement ≤ {MATCHING:g}; the "
    f"penalty lowering CKA when the most penalised student's is at least {PENALTY_DROP:g} below "
    "the plain student's."
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


def differs(settings: Settings) -> str:
    """The experiment in short (simfunc's own: there is no thesis experiment to differ from)."""
    size = "" if settings.image_size is None else f" at {settings.image_size}×{settings.image_size}"
    return (f"simfunc's own experiment, not in the thesis (cf. Davari et al. 2023): a "
            f"{settings.arch} at width {settings.width:g} trained on "
            f"{describe_dataset(settings.dataset, settings.classes)}{size} for "
            f"{settings.training.epochs} epoch(s); κ ∈ {{"
            + ", ".join(f"{c:g}" for c in settings.conditions) + "}; students distilled for "
            f"{settings.distillation.epochs} epoch(s) with CKA penalties "
            + (", ".join(f"{p:g}" for p in settings.penalties) or "none"))


def _claim(claim_id: str, quantity: str, claim: str, value: float | None, rule: Any = None, *,
           reason: str | None = None, undefined: str | None = None, differ: str = "",
           **fields: Any) -> ThesisRow:
    """One of simfunc's own claims: judged by ``rule``, or not comparable for ``reason``."""
    judgement = (not_comparable(reason) if reason is not None
                 else judge_point(value, rule, undefined=undefined))
    return ThesisRow(quantity=quantity, thesis=None, value=value, claim=claim,
                     judgement=judgement, id=claim_id, source="simfunc", differs=differ,
                     **fields)


def _construction_rows(result: ConverseResult, differ: str) -> list[ThesisRow]:
    items = result.constructions
    none = None if items else "this run builds no construction (conditions is empty)"
    n = len(items)
    jsd = [r.jsd for r in items if r.jsd is not None]
    cca = [r.cca for r in items if r.cca is not None]
    cka = [(r.condition, r.linear_cka) for r in items if r.linear_cka is not None]
    logits = [r.max_abs_logit_difference for r in items
              if r.max_abs_logit_difference is not None]
    values = [v for _, v in cka]
    rises = [b - a for a, b in zip(values, values[1:])]
    limit = result.cka_limit
    by_kappa = ", ".join(f"{c:g}: {v:.4f}" for c, v in cka)
    rows = [
        _claim("converse.outputs_identical", "largest JSD of the outputs over every κ (bits)",
               "the construction's outputs are the teacher's", max(jsd) if jsd else None,
               AtMost(IDENTICAL_JSD, "identical outputs, JSD in bits"), reason=none,
               undefined="JSD was not recorded", differ=differ, n=n, n_of="κ",
               remark=("" if not logits
                       else f"The largest |logit difference| is {max(logits):.1e}.")),
        _claim("converse.cka_falls", "largest rise of linear CKA from one κ to the next",
               "linear CKA falls as κ grows", max(rises) if rises else None,
               AtMost(MONOTONE_SLACK, "CKA never rises as κ grows, to rounding"), reason=none,
               undefined="fewer than two κ have a linear CKA", differ=differ, n=len(values),
               n_of="κ", remark=f"By κ: {by_kappa}." if cka else ""),
        _claim("converse.cka_dissimilar",
               "linear CKA to the teacher at the largest κ"
               + (f" ({cka[-1][0]:g})" if cka else ""),
               "at a large κ, linear CKA calls the two representations dissimilar",
               values[-1] if values else None, AtMost(LOW_CKA, "dissimilar, linear CKA"),
               reason=none, undefined="linear CKA was not recorded", differ=differ,
               remark=("" if limit is None
                       else f"The limit as κ → ∞ (a stretch of one direction) is {limit:.4f}.")),
        _claim("converse.cca_stays_one", "R²_CCA to the teacher, furthest from 1 over every κ",
               "R²_CCA, invariant to invertible linear maps, stays 1",
               max(cca, key=lambda v: abs(1 - v)) if cca else None,
               Within(1.0, CCA_ONE, "stays 1"), reason=none, undefined="R²_CCA was not recorded",
               differ=differ, n=len(cca), n_of="κ"),
    ]
    if logits:
        rows.append(ThesisRow(quantity="largest |logit difference| over every κ", thesis=None,
                              value=max(logits), n=n, n_of="κ", source="simfunc",
                              remark=f"float64 rounding: 0 below {IDENTICAL_LOGITS:g}."))
    return rows


def _student_rows(result: ConverseResult, differ: str) -> list[ThesisRow]:
    students = sorted((s for s in result.students if s.penalty is not None),
                      key=lambda s: s.penalty or 0.0)
    rows = [ThesisRow(quantity=f"student, CKA penalty {s.penalty:g}: linear CKA to the teacher",
                      thesis=None, value=s.linear_cka, source="simfunc",
                      remark=f"JSD {_fmt(s.jsd, '.4f')} bits, disagreement "
                             f"{_fmt(s.disagreement, '.3f')}, accuracy "
                             f"{_fmt(s.accuracy, '.3f')}.")
            for s in students]
    plain = students[0] if students and students[0].penalty == 0 else None
    strongest = students[-1] if students and (students[-1].penalty or 0.0) > 0 else None
    penalised = (None if strongest is not None
                 else "this run distils no student with a CKA penalty above 0")
    which = "" if strongest is None else f" (penalty {strongest.penalty:g})"
    rows.append(_claim(
        "converse.student_dissimilar", f"linear CKA to the teacher, most penalised student{which}",
        "a CKA penalty gives a student whose representation CKA calls dissimilar",
        None if strongest is None else strongest.linear_cka,
        AtMost(LOW_CKA, "dissimilar, linear CKA"), reason=penalised,
        undefined="linear CKA was not recorded", differ=differ))
    rows.append(_claim(
        "converse.student_same_function",
        f"disagreement with the teacher, most penalised student{which}",
        "the penalised student still computes the teacher's function",
        None if strongest is None else strongest.disagreement,
        AtMost(MATCHING, "the same function, the fraction of test images classified "
                         "differently"),
        reason=penalised, undefined="disagreement was not recorded", differ=differ,
        remark=f"JSD to the teacher {_fmt(None if strongest is None else strongest.jsd, '.4f')}"
               " bits."))
    drop_reason = penalised or (None if plain is not None
                                else "this run distils no plain student (penalty 0)")
    drop = (None if drop_reason is not None or plain is None or strongest is None
            or plain.linear_cka is None or strongest.linear_cka is None
            else strongest.linear_cka - plain.linear_cka)
    rows.append(_claim(
        "converse.penalty_lowers_cka",
        "change in linear CKA to the teacher, penalty 0 → "
        + ("the largest" if strongest is None else f"{strongest.penalty:g}"),
        "the CKA penalty, not distillation, lowers CKA", drop,
        AtMost(-PENALTY_DROP, "the penalty lowers CKA"), reason=drop_reason,
        undefined="linear CKA was not recorded", differ=differ,
        remark="" if drop is None or plain is None or strongest is None else
        (f"Linear CKA {plain.linear_cka:.3f} → {strongest.linear_cka:.3f}; disagreement "
         f"{_fmt(plain.disagreement, '.3f')} → {_fmt(strongest.disagreement, '.3f')}.")))
    for s in (s for s in result.students if s.penalty is None):
        rows.append(ThesisRow(
            quantity="independently trained network: linear CKA to the teacher", thesis=None,
            value=s.linear_cka, source="simfunc",
            remark=f"The reference (true labels, the students' seed): JSD "
                   f"{_fmt(s.jsd, '.4f')} bits, accuracy {_fmt(s.accuracy, '.3f')}."))
    return rows


def _fmt(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def thesis_rows(result: ConverseResult, differ: str = "") -> list[ThesisRow]:
    """simfunc's claims (every id of :data:`CLAIMS`, in that order among the rows), the
    students' CKA, the reference and the teacher's accuracy as context."""
    rows = _construction_rows(result, differ) + _student_rows(result, differ)
    if result.teacher_accuracy is not None:
        rows.append(ThesisRow(quantity="teacher's test accuracy", thesis=None,
                              value=result.teacher_accuracy, source="simfunc"))
    return rows


def section(name: str, title: str, result: ConverseResult, settings: Settings,
            figures: Sequence[FigureRef], tables: Sequence[Table]) -> Section:
    """The study's report section."""
    return Section(id=name, title=title, summary=SUMMARY, figures=list(figures),
                   tables=list(tables), thesis_rows=thesis_rows(result, differs(settings)),
                   stand_ins=stand_ins({"training set": (settings.dataset, settings.classes)}),
                   settings=settings_dict(settings))
