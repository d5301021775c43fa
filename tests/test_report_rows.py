"""The report layer renders a study's declared ThesisRows: findings for rows with a claim, the
"beside the thesis" table for all of them, every declared remark somewhere, and each claim's
verdict from the one rule in simfunc.scorecard."""

from __future__ import annotations

import pytest

from simfunc.report import Section, ThesisRow, render, scorecard_rows, scorecard_section
from simfunc.scorecard import AtLeast, AtMost, Scorecard, Verdict, judge_point, judge_relation


def test_every_remark_is_rendered_once_and_claims_become_findings():
    rows = [
        ThesisRow("ρ(CKA, JSD)", -0.75, -0.6, claim="CKA tracks JSD", remark="network-level p",
                  ci=(-0.8, -0.4), judgement=judge_relation(-1, (-0.8, -0.4), thesis=-0.75)),
        ThesisRow("input size", 224, 32, remark="ImageNet32 images are 32×32"),
    ]
    page = render("t", [Section(id="s", title="S", summary="", thesis_rows=rows)])
    assert "CKA tracks JSD" in page
    assert page.count("network-level p") == 1  # under Findings, not again in the table
    assert page.count("ImageNet32 images are 32×32") == 1  # in the table's remark column
    assert "<th>remark</th>" in page
    assert "reproduced: 95% interval [-0.800, -0.400] lies below 0" in page


def test_no_remark_column_when_no_row_needs_one():
    rows = [ThesisRow("ρ", -0.75, -0.6, claim="c", remark="r")]
    page = render("t", [Section(id="s", title="S", summary="", thesis_rows=rows)])
    assert "<th>remark</th>" not in page


def test_simfuncs_own_claims_are_never_credited_to_the_thesis():
    row = ThesisRow("JSD of the outputs", None, 0.0, claim="the same function", id="converse.x",
                    source="simfunc", judgement=judge_point(0.0, AtLeast(-1e-9, "identical")))
    page = render("t", [Section(id="s", title="S", summary="", thesis_rows=[row])])
    assert "Thesis:" not in page and "simfunc&#x27;s own claim" in page
    (score,) = scorecard_rows([row], "converse", "9.9")
    assert score.thesis is None and score.section is None and score.source == "simfunc"


def test_only_rows_with_an_id_are_claims_and_a_claim_needs_a_verdict():
    rows = [ThesisRow("a", -0.75, -0.5, id="s.a", judgement=judge_relation(-1, (-0.7, -0.1))),
            ThesisRow("context", None, 0.3)]
    (claim,) = scorecard_rows(rows, "s", "3.3")
    assert (claim.id, claim.verdict, claim.thesis, claim.section) == (
        "s.a", Verdict.REPRODUCED, -0.75, "3.3")
    with pytest.raises(ValueError, match="not a scorecard claim"):
        ThesisRow("b", 1.0, 1.0, id="s.b").score_row("s", None)


def test_the_scorecard_section_lists_every_claim_and_every_verdict_count():
    rows = [ThesisRow("a", -0.75, -0.5, id="s.a", judgement=judge_relation(-1, (-0.7, 0.1))),
            ThesisRow("b", 0.7, 0.5, id="s.b", judgement=judge_relation(1, (0.2, 0.6)))]
    card = Scorecard("quick", "0", scorecard_rows(rows, "s", "3.3"))
    page = render("t", [scorecard_section(card)])
    assert "s.a" in page and "s.b" in page
    assert "1 reproduced · 0 contradicted · 1 inconclusive · 0 not comparable" in page


def test_an_expected_value_of_simfuncs_own_claim_is_not_shown_as_the_thesiss():
    row = ThesisRow("largest JSD", 0.0, 1e-17, claim="the outputs stay identical",
                    judgement=judge_point(1e-17, AtMost(1e-10, "identical")),
                    id="converse.outputs_identical", source="simfunc")
    assert row.finding().startswith("simfunc's own claim")
    assert row.shown_thesis() != "0"
    score = row.score_row("converse", "4")
    assert (score.thesis, score.section, score.verdict) == (None, None, Verdict.REPRODUCED)
