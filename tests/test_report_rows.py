"""The report layer renders a study's declared ThesisRows: findings for rows with a claim, the
"beside the thesis" table for all of them, and every declared remark somewhere."""

from __future__ import annotations

from simfunc.report import Section, ThesisRow, Verdict, holds, render, same_sign


def test_verdicts_follow_sign_and_condition():
    assert same_sign(-0.75, -0.2) is Verdict.AGREES
    assert same_sign(-0.75, 0.2) is Verdict.DIFFERS
    assert same_sign(-0.75, None) is Verdict.UNDEFINED
    assert (holds(True), holds(False)) == (Verdict.AGREES, Verdict.DIFFERS)


def test_every_remark_is_rendered_once_and_claims_become_findings():
    rows = [
        ThesisRow("ρ(CKA, JSD)", -0.75, -0.6, claim="CKA tracks JSD", remark="network-level p",
                  verdict=same_sign(-0.75, -0.6)),
        ThesisRow("input size", 224, 32, remark="ImageNet32 images are 32×32",
                  verdict=holds(False)),
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
