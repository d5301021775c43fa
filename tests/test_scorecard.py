"""The one verdict rule (simfunc.scorecard): reference cases, properties, and the json."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simfunc import InputError
from simfunc.scorecard import (
    SCHEMA,
    AtLeast,
    AtMost,
    Scorecard,
    ScoreRow,
    Verdict,
    Within,
    judge_point,
    judge_relation,
    not_comparable,
)


@pytest.mark.parametrize("sign, ci, verdict", [
    (-1, (-0.9, -0.2), Verdict.REPRODUCED),
    (-1, (0.1, 0.5), Verdict.CONTRADICTED),
    (-1, (-0.4, 0.3), Verdict.INCONCLUSIVE),
    (1, (0.2, 0.9), Verdict.REPRODUCED),
    (1, (-0.9, -0.01), Verdict.CONTRADICTED),
    (1, (0.0, 0.4), Verdict.INCONCLUSIVE),  # touching 0 does not exclude it
])
def test_a_relation_is_judged_by_its_interval(sign, ci, verdict):
    assert judge_relation(sign, ci).verdict is verdict


def test_the_issue_example_a_sign_without_an_interval_is_not_a_reproduction():
    # ρ = 0.139 with p = 0.64 "as in the thesis" before; -0.05 in [-0.4, 0.3] likewise.
    assert judge_relation(1, None, value=0.139, undefined="two runs per cell").verdict \
        is Verdict.INCONCLUSIVE
    judged = judge_relation(-1, (-0.4, 0.3), value=-0.05, thesis=-0.721)
    assert judged.verdict is Verdict.INCONCLUSIVE and "contains 0" in judged.why


def test_the_words_say_where_the_thesis_value_lies():
    inside = judge_relation(-1, (-0.8, -0.3), thesis=-0.75)
    outside = judge_relation(-1, (-0.45, -0.31), thesis=-0.721)
    assert inside.thesis_inside is True and "lies inside it" in inside.why
    assert outside.verdict is Verdict.REPRODUCED and outside.thesis_inside is False
    assert "size differs" in outside.why


def test_no_interval_is_inconclusive_and_says_why():
    judged = judge_relation(-1, None, value=-0.4, undefined="35% of the resamples defined")
    assert judged.verdict is Verdict.INCONCLUSIVE and "35% of the resamples" in judged.why
    assert judge_relation(1, (float("nan"), 0.3)).verdict is Verdict.INCONCLUSIVE
    undefined = judge_relation(1, None, undefined="x is constant")
    assert "undefined in this run: x is constant" == undefined.why


def test_a_reference_other_than_zero():
    assert judge_relation(1, (0.6, 0.9), reference=0.5).verdict is Verdict.REPRODUCED
    judged = judge_relation(1, (0.4, 0.9), reference=0.5)
    assert judged.verdict is Verdict.INCONCLUSIVE and "contains 0.5" in judged.why


def test_expected_sign_must_be_a_sign():
    with pytest.raises(InputError, match="expected_sign"):
        judge_relation(0, (0.1, 0.2))


intervals = st.tuples(st.floats(-1, 1), st.floats(-1, 1)).map(sorted)


@given(intervals, st.sampled_from([1, -1]))
def test_an_interval_containing_zero_is_never_decided(ci, sign):
    verdict = judge_relation(sign, ci).verdict
    if ci[0] <= 0 <= ci[1]:
        assert verdict is Verdict.INCONCLUSIVE
    else:
        assert verdict in (Verdict.REPRODUCED, Verdict.CONTRADICTED)


@given(intervals, st.sampled_from([1, -1]))
def test_flipping_the_claim_and_the_interval_keeps_the_verdict(ci, sign):
    flipped = (-ci[1], -ci[0])
    assert judge_relation(sign, ci).verdict is judge_relation(-sign, flipped).verdict


@given(intervals)
def test_opposite_claims_never_both_reproduce(ci):
    verdicts = {judge_relation(1, ci).verdict, judge_relation(-1, ci).verdict}
    assert verdicts in ({Verdict.INCONCLUSIVE}, {Verdict.REPRODUCED, Verdict.CONTRADICTED})


def test_point_rules():
    same = AtLeast(0.9, "the same representation")
    assert judge_point(0.999, same).verdict is Verdict.REPRODUCED
    failed = judge_point(0.5, same)
    assert failed.verdict is Verdict.CONTRADICTED and "≥ 0.9" in failed.why
    assert judge_point(0.2, AtMost(0.25, "small")).verdict is Verdict.REPRODUCED
    assert judge_point(0.55, Within(0.59, 0.05)).verdict is Verdict.REPRODUCED
    assert judge_point(0.50, Within(0.59, 0.05)).verdict is Verdict.CONTRADICTED
    missing = judge_point(None, same, undefined="no pair")
    assert missing.verdict is Verdict.INCONCLUSIVE and "no pair" in missing.why
    assert not_comparable("224×224 is not run").verdict is Verdict.NOT_COMPARABLE


def _row(claim_id, verdict=Verdict.REPRODUCED):
    return ScoreRow(id=claim_id, study="s", section="3.3", claim="c", thesis=-0.75, value=-0.5,
                    ci=(-0.7, -0.2), p_value=0.01, n=45, n_of="pairs", verdict=verdict,
                    why="w", differs="d")


def test_the_json_round_trips_and_counts_every_verdict(tmp_path):
    card = Scorecard("quick", "0.1.0", [_row("s.a"), _row("s.b", Verdict.NOT_COMPARABLE)])
    path = card.write(tmp_path)
    values = json.loads(path.read_text())
    assert values["schema"] == SCHEMA and values["profile"] == "quick"
    assert values["counts"] == {"reproduced": 1, "contradicted": 0, "inconclusive": 0,
                                "not comparable": 1}
    assert set(values["rows"][0]) >= {"id", "study", "section", "claim", "thesis", "value", "ci",
                                      "p_value", "n", "n_of", "verdict", "why", "differs"}
    assert Scorecard.read(tmp_path) == card


def test_ids_are_unique_and_the_schema_is_checked(tmp_path):
    with pytest.raises(InputError, match="s.a"):
        Scorecard("quick", "0", [_row("s.a"), _row("s.a")])
    (tmp_path / "scorecard.json").write_text(json.dumps({"schema": 99, "rows": []}))
    with pytest.raises(InputError, match="schema 99"):
        Scorecard.read(tmp_path)


def test_the_terminal_table_has_a_line_a_claim_and_the_counts():
    card = Scorecard("quick", "0", [_row("s.a"), _row("s.b", Verdict.INCONCLUSIVE)])
    lines = card.terminal().splitlines()
    assert len(lines) == 4 and "s.a" in lines[1] and "inconclusive" in lines[2]
    assert lines[-1].strip() == "1 reproduced · 0 contradicted · 1 inconclusive · 0 not comparable"


def test_a_point_rule_says_whether_the_thesis_value_meets_it():
    judged = judge_point(0.95, AtLeast(0.9, "the same"), thesis=0.99)
    assert judged.thesis_inside is True and "the thesis's 0.99 meets it too" in judged.why
    assert judge_point(0.95, AtMost(0.25, "small"), thesis=0.59).thesis_inside is False


def test_a_claim_on_every_part_needs_every_part():
    from simfunc.scorecard import judge_all

    yes, no, open_ = (judge_relation(1, (0.1, 0.2)), judge_relation(1, (-0.3, -0.1)),
                      judge_relation(1, (-0.1, 0.2)))
    assert judge_all([("A", yes), ("B", yes)]).verdict is Verdict.REPRODUCED
    assert judge_all([("A", yes), ("B", no), ("C", open_)]).verdict is Verdict.CONTRADICTED
    judged = judge_all([("A", yes), ("C", open_)])
    assert judged.verdict is Verdict.INCONCLUSIVE and "C (inconclusive)" in judged.why
    assert judge_all([]).verdict is Verdict.INCONCLUSIVE
