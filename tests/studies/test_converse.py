"""The converse study on its quick profile: identical outputs while CKA falls, asserted, and two
stored values recomputed from scratch.

The quick profile is seeded, so the run is deterministic. The bounds below come from running it
with five seed pairs (``simfunc run converse --set teacher_seed=T --set student_seed=S``;
everything else the quick profile's: a CNN at width 0.5 on digits, κ ∈ {1 … 1e6}, students
distilled for 20 epochs with CKA penalties 0, 1, 10):

    seeds   CKA at κ=1e6 (its limit)   linear CKA of the students, penalty 0 / 1 / 10   independent
    0,1        0.0114 (0.0114)           0.913 / 0.052 / 0.027                          0.880
    2,3        0.0122 (0.0122)           0.919 / 0.092 / 0.028                          0.888
    4,5        0.0088 (0.0088)           0.914 / 0.065 / 0.026                          0.899
    6,7        0.0098 (0.0098)           0.912 / 0.049 / 0.023                          0.885
    8,9        0.0055 (0.0055)           0.899 / 0.073 / 0.014                          0.884
    (0,1 is the profile's: this test)

Over the five: the constructions' largest JSD is 4.0e-17 bits, largest |logit difference|
2.4e-10, largest |1 − R²_CCA| 2.5e-14, and CKA never rises with κ; every student and the
independent network disagree with the teacher on at most 2.5% of the test images (JSD at most
0.080 bits, the penalty-10 students').

The exact construction holds to rounding in every seed: JSD below 1e-15 bits, R²_CCA within
1e-9 of 1, linear CKA non-increasing in κ down to its limit. A CKA penalty drives the students'
CKA to the teacher far down in every seed while they still agree with the teacher on almost every
test image.

The findings alone do not notice a construction along the wrong direction or a comparison on the
wrong images, so a construction and a student are recomputed independently: the teacher and the
student loaded from the cache and run on the digits test split, the stretch built from an
eigendecomposition of the teacher's training features, and the measures themselves applied.

The claims are simfunc's own, never the thesis's: the scorecard's ``converse.*`` rows carry no
thesis value or section, and each rule must reject the opposite finding (outputs that differ,
CKA that rises, CCA off 1, a student that does not match).
"""

from __future__ import annotations

import html
import sqlite3

import numpy as np
import pytest

from simfunc import InputError, functional, representational
from simfunc.scorecard import Scorecard, Verdict
from simfunc.studies.converse import prose
from simfunc.studies.converse.result import Construction, ConverseResult, Student
from simfunc.studies.framework import StudyResult, run_study

from study_checks import summary_reads_back

pytestmark = pytest.mark.usefixtures("one_torch_thread")
slow = pytest.mark.slow

CLAIMS = {"converse.outputs_identical", "converse.cka_falls", "converse.cka_dissimilar",
          "converse.cca_stays_one", "converse.student_dissimilar",
          "converse.student_same_function", "converse.penalty_lowers_cka"}

LOW_CKA = 0.1  # the construction's CKA at κ = 1e6; measured 0.0055 … 0.0122
PENALISED_CKA = 0.15  # the penalty-10 student's CKA to the teacher; measured 0.014 … 0.028
PLAIN_CKA = 0.7  # the plain (penalty 0) student's; measured 0.899 … 0.919
STUDENT_DISAGREEMENT = 0.05  # every student's disagreement with the teacher; measured ≤ 0.025


@pytest.fixture(scope="module")
def root(study_root):
    return study_root  # cache/ is the session's shared study cache (conftest.py)


@pytest.fixture(scope="module")
def quick(root) -> StudyResult:
    return run_study("converse", "quick", out=root / "runs", cache_dir=root / "cache", jobs=1,
                     progress=False)


def _pairs(quick: StudyResult, model_b: str) -> dict[tuple[str, str], float]:
    with sqlite3.connect(quick.run_dir / "results.sqlite") as connection:
        return {(layer, measure): value for layer, measure, value in connection.execute(
            "SELECT layer, measure, value FROM pairs WHERE model_a = 'teacher' AND model_b = ?",
            (model_b,))}


@slow
def test_the_exact_construction_keeps_the_outputs_while_cka_falls_and_cca_stays_one(quick):
    constructions = quick.result.constructions
    assert summary_reads_back(quick)
    assert [c.condition for c in constructions] == [1.0, 10.0, 100.0, 1e3, 1e4, 1e6]
    assert max(c.jsd for c in constructions) < 1e-12
    assert max(c.max_abs_logit_difference for c in constructions) < 1e-8
    assert all(c.cca == pytest.approx(1.0, abs=1e-9) for c in constructions)
    assert all(c.measures["mean_cca"] == pytest.approx(1.0, abs=1e-9) for c in constructions)
    cka = [c.linear_cka for c in constructions]
    assert cka[0] == pytest.approx(1.0, abs=1e-12)  # κ = 1 is the identity
    assert all(b <= a + 1e-9 for a, b in zip(cka, cka[1:])), cka
    assert cka[-1] < LOW_CKA
    assert cka[-1] == pytest.approx(quick.result.cka_limit, abs=1e-3)


@slow
def test_a_cka_penalty_makes_students_with_the_teachers_function_and_dissimilar_features(quick):
    students = {s.model: s for s in quick.result.students}
    assert set(students) == {"student-penalty0", "student-penalty1", "student-penalty10",
                             "independent"}
    assert students["student-penalty0"].linear_cka > PLAIN_CKA
    assert students["student-penalty10"].linear_cka < PENALISED_CKA
    for name, student in students.items():
        assert student.disagreement < STUDENT_DISAGREEMENT, name


@slow
def test_the_scorecard_holds_simfuncs_own_claims_judged(quick):
    """scorecard.json (as the run wrote it): exactly the converse's claims, none credited to the
    thesis, every one reproduced on the quick profile; the report never says "Thesis:"."""
    card = Scorecard.read(quick.run_dir)
    rows = {row.id: row for row in card.rows}
    assert set(rows) == CLAIMS
    for row in rows.values():
        assert (row.source, row.section, row.thesis) == ("simfunc", None, None), row.id
        assert row.verdict is Verdict.REPRODUCED, (row.id, row.why)
        assert "digits" in row.differs
    assert rows["converse.outputs_identical"].value < 1e-12
    assert rows["converse.cka_dissimilar"].value < LOW_CKA
    assert rows["converse.student_same_function"].value < STUDENT_DISAGREEMENT
    # each value is the database's, for the model the claim names (read by SQL, not the study)
    kappas = ("1", "10", "100", "1000", "10000", "1e+06")
    stretched = {k: _pairs(quick, f"teacher-stretch{k}") for k in kappas}
    penalised, plain = _pairs(quick, "student-penalty10"), _pairs(quick, "student-penalty0")
    expected = {
        "converse.outputs_identical": max(stretched[k][("output", "jsd")] for k in kappas),
        "converse.cka_dissimilar": stretched["1e+06"][("features", "linear_cka")],
        "converse.cca_stays_one": max((stretched[k][("features", "cca")] for k in kappas),
                                      key=lambda v: abs(1 - v)),
        "converse.student_dissimilar": penalised[("features", "linear_cka")],
        "converse.student_same_function": penalised[("output", "disagreement")],
        "converse.penalty_lowers_cka": (penalised[("features", "linear_cka")]
                                        - plain[("features", "linear_cka")]),
    }
    for claim_id, value in expected.items():
        assert rows[claim_id].value == pytest.approx(value, abs=1e-15), claim_id
    report = html.unescape((quick.run_dir / "report.html").read_text(encoding="utf-8"))
    assert "Thesis:" not in report
    assert report.count("simfunc's own claim (not the thesis's)") >= len(CLAIMS)


@slow
def test_a_construction_recomputed_independently(quick, root):
    """κ = 1000 from scratch: the stretch along the least-variance eigenvector of the teacher's
    training features (float64), applied to its test features."""
    from simfunc.data import load
    from simfunc.extract import activations
    from simfunc.train.supervised import load_model

    with sqlite3.connect(quick.run_dir / "results.sqlite") as connection:
        artifacts = dict(connection.execute("SELECT model_id, artifact FROM models"))
    teacher = load_model(root / "cache" / artifacts["teacher"]).double()
    train = load("digits", "train", image_size=8, channels=1)
    test = load("digits", "test", image_size=8, channels=1)
    train_features = activations(teacher, train, ["features"], dtype=np.float64)["features"]
    centred = train_features - train_features.mean(axis=0)
    values, vectors = np.linalg.eigh(centred.T @ centred)
    v = vectors[:, np.flatnonzero(values > 1e-8 * values[-1])[0]]
    stretch = np.eye(len(v)) + (1000.0 - 1.0) * np.outer(v, v)
    features = activations(teacher, test, ["features"], dtype=np.float64)["features"]
    stored = _pairs(quick, "teacher-stretch1000")
    assert stored[("features", "linear_cka")] == pytest.approx(
        representational.linear_cka(features, features @ stretch), abs=1e-9)


@slow
def test_a_student_recomputed_independently(quick, root):
    """The penalty-1 student against the teacher from scratch: both networks from the cache on
    the digits test split, their penultimate features and logits through the measures."""
    from simfunc.data import load
    from simfunc.extract import activations
    from simfunc.train.supervised import load_model

    with sqlite3.connect(quick.run_dir / "results.sqlite") as connection:
        artifacts = dict(connection.execute("SELECT model_id, artifact FROM models"))
    test = load("digits", "test", image_size=8, channels=1)
    acts = [activations(load_model(root / "cache" / artifacts[m]), test, ["features", "logits"])
            for m in ("teacher", "student-penalty1")]
    stored = _pairs(quick, "student-penalty1")
    assert stored[("features", "linear_cka")] == pytest.approx(
        representational.linear_cka(acts[0]["features"], acts[1]["features"]), abs=1e-6)
    for name in ("jsd", "disagreement"):
        expected = functional.OUTPUT_MEASURES[name](acts[0]["logits"], acts[1]["logits"],
                                                    from_logits=True)
        assert stored[("output", name)] == pytest.approx(expected, abs=1e-6), name


@slow
def test_the_report_rebuilds_identically(quick):
    from simfunc.reproduce import rebuild

    run_dir = quick.run_dir
    before = {name: (run_dir / name).read_text() for name in ("report.html", "scorecard.json")}
    for name in before:
        (run_dir / name).unlink()
    rebuild(run_dir)
    assert {name: (run_dir / name).read_text() for name in before} == before


def test_the_plan_refuses_bad_settings():
    from simfunc.studies.converse import STUDY

    with pytest.raises(InputError, match="at least 1"):
        STUDY.plan(STUDY.settings("quick", {"conditions": "0.5,10"}))
    with pytest.raises(InputError, match=">= 0"):
        STUDY.plan(STUDY.settings("quick", {"penalties": "-1"}))
    with pytest.raises(InputError, match="twice"):
        STUDY.plan(STUDY.settings("quick", {"penalties": "1,1"}))


# ------------------------------------------------------------------------------ the rules


def _result(*, jsd=4e-17, cka=(1.0, 0.6, 0.2, 0.05, 0.02, 0.011), cca=1.0 - 2e-14,
            students=((0.0, 0.91, 0.01), (1.0, 0.05, 0.02), (10.0, 0.03, 0.025)),
            constructions=True) -> ConverseResult:
    """A converse result: constructions at κ = 1 … 1e6 with the given JSD, linear CKAs and
    R²_CCA (none without ``constructions``); students (penalty, linear CKA, disagreement) and
    an independent network."""
    kappas = (1.0, 10.0, 100.0, 1e3, 1e4, 1e6)[:len(cka)]
    return ConverseResult(
        teacher_accuracy=0.98, cka_limit=0.0114,
        constructions=tuple(Construction(
            model=f"c{k:g}", measures={"jsd": jsd, "linear_cka": c, "cca": cca}, condition=k,
            max_abs_logit_difference=1e-10) for k, c in zip(kappas, cka)) if constructions else (),
        students=tuple(Student(model=f"student-penalty{p:g}", penalty=p, accuracy=0.97,
                               measures={"linear_cka": c, "jsd": 0.05, "disagreement": d})
                       for p, c, d in students)
        + (Student(model="independent", penalty=None, accuracy=0.97,
                   measures={"linear_cka": 0.88, "jsd": 0.04, "disagreement": 0.02}),))


def _verdicts(result: ConverseResult) -> dict[str, Verdict]:
    rows = [r for r in prose.thesis_rows(result, "setup") if r.id is not None]
    for row in rows:  # simfunc's own: rendered and scored without the thesis
        assert row.source == "simfunc" and row.thesis is None
        assert not row.finding().startswith("Thesis")
        score = row.score_row("converse", None)
        assert score.section is None and score.thesis is None and score.differs == "setup"
    assert len(rows) == len(CLAIMS) and {r.id for r in rows} == CLAIMS
    return {r.id: r.judgement.verdict for r in rows}


def test_the_rules_pass_the_guaranteed_findings():
    assert set(_verdicts(_result()).values()) == {Verdict.REPRODUCED}


@pytest.mark.parametrize("change, claim", [
    ({"jsd": 0.2}, "converse.outputs_identical"),  # the outputs differ
    ({"cka": (1.0, 0.6, 0.7, 0.05)}, "converse.cka_falls"),  # CKA rises from κ 10 to 100
    ({"cka": (1.0, 0.9, 0.8, 0.7)}, "converse.cka_dissimilar"),  # still similar at the end
    ({"cca": 0.99}, "converse.cca_stays_one"),  # CCA moved by the stretch
    ({"students": ((0.0, 0.91, 0.01), (10.0, 0.55, 0.02))}, "converse.student_dissimilar"),
    ({"students": ((0.0, 0.91, 0.01), (10.0, 0.03, 0.3))}, "converse.student_same_function"),
    ({"students": ((0.0, 0.4, 0.01), (10.0, 0.3, 0.02))}, "converse.penalty_lowers_cka"),
])
def test_each_rule_rejects_the_opposite_finding(change, claim):
    verdicts = _verdicts(_result(**change))
    assert verdicts[claim] is Verdict.CONTRADICTED
    assert {c for c, v in verdicts.items() if v is not Verdict.REPRODUCED} == {claim}


def test_a_claim_this_run_cannot_test_is_not_comparable_with_the_reason():
    result = _result(students=((0.0, 0.91, 0.01),), constructions=False)  # plain distillation only
    rows = {r.id: r for r in prose.thesis_rows(result) if r.id is not None}
    assert set(rows) == CLAIMS
    for claim_id, row in rows.items():
        assert row.judgement.verdict is Verdict.NOT_COMPARABLE, claim_id
        assert ("no construction" in row.judgement.why if "student" not in claim_id
                and "penalty" not in claim_id else "no student" in row.judgement.why), claim_id


def test_a_layer_the_teacher_lacks_is_refused_before_any_job(tmp_path):
    from simfunc import InputError
    from simfunc.studies.framework import run_study

    with pytest.raises(InputError, match="output measures"):
        run_study("converse", "quick", out=tmp_path / "runs", cache_dir=tmp_path / "cache",
                  overrides={"layer": "output"}, progress=False)
    assert not (tmp_path / "cache").exists()
