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
"""

from __future__ import annotations

import html
import sqlite3

import numpy as np
import pytest

from simfunc import InputError, functional, representational
from simfunc.studies.framework import StudyResult, run_study

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]

LOW_CKA = 0.1  # the construction's CKA at κ = 1e6; measured 0.0055 … 0.0122
PENALISED_CKA = 0.15  # the penalty-10 student's CKA to the teacher; measured 0.014 … 0.028
PLAIN_CKA = 0.7  # the plain (penalty 0) student's; measured 0.899 … 0.919
STUDENT_DISAGREEMENT = 0.05  # every student's disagreement with the teacher; measured ≤ 0.025


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("converse")


@pytest.fixture(scope="module")
def quick(root) -> StudyResult:
    return run_study("converse", "quick", out=root / "runs", cache_dir=root / "cache", jobs=2,
                     progress=False)


def _pairs(quick: StudyResult, model_b: str) -> dict[tuple[str, str], float]:
    with sqlite3.connect(quick.run_dir / "results.sqlite") as connection:
        return {(layer, measure): value for layer, measure, value in connection.execute(
            "SELECT layer, measure, value FROM pairs WHERE model_a = 'teacher' AND model_b = ?",
            (model_b,))}


def test_the_exact_construction_keeps_the_outputs_while_cka_falls_and_cca_stays_one(quick):
    constructions = quick.summary["constructions"]
    assert [c["condition"] for c in constructions] == [1.0, 10.0, 100.0, 1e3, 1e4, 1e6]
    assert max(c["jsd"] for c in constructions) < 1e-12
    assert max(c["max_abs_logit_difference"] for c in constructions) < 1e-8
    assert all(c["cca"] == pytest.approx(1.0, abs=1e-9) for c in constructions)
    assert all(c["mean_cca"] == pytest.approx(1.0, abs=1e-9) for c in constructions)
    cka = [c["linear_cka"] for c in constructions]
    assert cka[0] == pytest.approx(1.0, abs=1e-12)  # κ = 1 is the identity
    assert all(b <= a + 1e-9 for a, b in zip(cka, cka[1:])), cka
    assert cka[-1] < LOW_CKA
    assert cka[-1] == pytest.approx(quick.summary["cka_limit"], abs=1e-3)


def test_a_cka_penalty_makes_students_with_the_teachers_function_and_dissimilar_features(quick):
    students = {s["model"]: s for s in quick.summary["students"]}
    assert set(students) == {"student-penalty0", "student-penalty1", "student-penalty10",
                             "independent"}
    assert students["student-penalty0"]["linear_cka"] > PLAIN_CKA
    assert students["student-penalty10"]["linear_cka"] < PENALISED_CKA
    for name, student in students.items():
        assert student["disagreement"] < STUDENT_DISAGREEMENT, name


def test_the_report_checks_the_claims(quick):
    report = html.unescape((quick.run_dir / "report.html").read_text(encoding="utf-8"))
    assert "the outputs stay identical" in report and "linear CKA falls as κ grows" in report
    assert "NOT as in the thesis" not in report
    assert "no relation across pairs is fitted" in report


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


def test_the_plan_refuses_bad_settings():
    from simfunc.studies.converse import STUDY

    with pytest.raises(InputError, match="at least 1"):
        STUDY.plan(STUDY.settings("quick", {"conditions": "0.5,10"}))
    with pytest.raises(InputError, match=">= 0"):
        STUDY.plan(STUDY.settings("quick", {"penalties": "-1"}))
    with pytest.raises(InputError, match="twice"):
        STUDY.plan(STUDY.settings("quick", {"penalties": "1,1"}))
