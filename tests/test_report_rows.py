"""The report layer renders a study's declared ThesisRows: findings for rows with a claim, the
"beside the thesis" table for all of them, and every declared remark somewhere; simfunc's own
claims are never credited to the thesis."""

from __future__ import annotations

from simfunc.report import Section, ThesisRow, render
from simfunc.scorecard import AtMost, Verdict, judge_point, judge_relation


def test_every_remark_is_rendered_once_and_claims_become_findings():
    rows = [
        ThesisRow("ρ(CKA, JSD)", -0.75, -0.6, claim="CKA tracks JSD", remark="network-level p",
                  ci=(-0.8, -0.3), judgement=judge_relation(-1, (-0.8, -0.3), thesis=-0.75)),
        ThesisRow("input size", 224, 32, remark="ImageNet32 images are 32×32"),
    ]
    page = render("t", [Section(id="s", title="S", summary="", thesis_rows=rows)])
    assert "CKA tracks JSD" in page
    assert page.count("network-level p") == 1  # under Findings, not again in the table
    assert page.count("ImageNet32 images are 32×32") == 1  # in the table's remark column
    assert "<th>remark</th>" in page


def test_no_remark_column_when_no_row_needs_one():
    rows = [ThesisRow("ρ", -0.75, -0.6, claim="c", remark="r")]
    page = render("t", [Section(id="s", title="S", summary="", thesis_rows=rows)])
    assert "<th>remark</th>" not in page


def test_simfuncs_own_claim_is_not_credited_to_the_thesis():
    row = ThesisRow("largest JSD", 0.0, 1e-17, claim="the outputs stay identical",
                    judgement=judge_point(1e-17, AtMost(1e-10, "identical")),
                    id="converse.outputs_identical", source="simfunc")
    assert row.finding().startswith("simfunc's own claim")
    assert row.shown_thesis() != "0"
    score = row.score_row("converse", "4")
    assert (score.thesis, score.section, score.verdict) == (None, None, Verdict.REPRODUCED)
    page = render("t", [Section(id="s", title="S", summary="", thesis_rows=[row])])
    assert "Thesis:" not in page
