"""The converse study: identical outputs with dissimilar representations, exact and trained."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest
import torch

from simfunc import InputError, functional, representational
from simfunc.data import load
from simfunc.extract import activations
from simfunc.studies.converse_jobs import (
    cka_limit,
    insert_feature_map,
    least_variance_direction,
    stretch_map,
    torch_linear_cka,
)
from simfunc.studies.framework import run_study


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    """A small CNN trained for two epochs on digits, and the digits train/test images."""
    from simfunc.train.supervised import TrainConfig, load_model, train

    out = tmp_path_factory.mktemp("teacher")
    train(TrainConfig(arch="cnn", width=0.5, epochs=2, batch_size=64), out, progress=False)
    return (load_model(out), load("digits", "train", image_size=8, channels=1),
            load("digits", "test", image_size=8, channels=1))


def test_stretch_map_has_the_condition_number_and_its_inverse():
    rng = np.random.default_rng(0)
    direction = rng.standard_normal(16)
    for condition in (1.0, 10.0, 1e6):
        matrix, inverse = stretch_map(direction, condition)
        assert np.linalg.cond(matrix) == pytest.approx(condition, rel=1e-8)
        assert np.allclose(matrix @ inverse, np.eye(16), atol=1e-9)
        assert np.allclose(matrix, matrix.T)
    with pytest.raises(InputError, match="at least 1"):
        stretch_map(direction, 0.5)
    with pytest.raises(InputError, match="non-zero"):
        stretch_map(np.zeros(4), 10.0)


def test_least_variance_direction_skips_dead_units():
    rng = np.random.default_rng(1)
    features = rng.standard_normal((200, 5)) * np.array([5.0, 4.0, 3.0, 0.5, 2.0])
    features = np.column_stack([features, np.zeros(200)])  # a dead unit
    v = least_variance_direction(features)
    assert abs(v[3]) == pytest.approx(1.0, abs=0.05)  # the smallest live variance
    assert abs(v[5]) < 1e-12


def test_construction_keeps_outputs_and_drives_cka_down_while_cca_stays_one(teacher):
    model, train, test = teacher
    reference = activations(model.double(), test, ["features", "logits"], dtype=np.float64)
    train_features = activations(model, train, ["features"], dtype=np.float64)["features"]
    direction = least_variance_direction(train_features)
    matrix, inverse = stretch_map(direction, 1e4)
    changed = activations(insert_feature_map(model, matrix, inverse), test,
                          ["features", "logits"], dtype=np.float64)
    assert functional.jsd(reference["logits"], changed["logits"], from_logits=True) < 1e-10
    assert np.max(np.abs(reference["logits"] - changed["logits"])) < 1e-8
    assert np.allclose(changed["features"], reference["features"] @ matrix)
    assert representational.linear_cka(reference["features"], changed["features"]) < 0.2
    assert representational.cca(reference["features"], changed["features"]) == pytest.approx(
        1.0, abs=1e-8)
    assert representational.mean_cca(reference["features"], changed["features"]) == (
        pytest.approx(1.0, abs=1e-8))


def test_cka_limit_is_where_cka_goes_as_the_stretch_grows():
    rng = np.random.default_rng(2)
    features = rng.standard_normal((300, 8)) @ rng.standard_normal((8, 8))
    direction = least_variance_direction(features)
    limit = cka_limit(features, direction)
    values = [representational.linear_cka(features, features @ stretch_map(direction, k)[0])
              for k in (10.0, 1e3, 1e6)]
    assert values[0] > values[1] > values[2] >= limit - 1e-9
    assert values[2] == pytest.approx(limit, abs=1e-6)
    # the least-variance direction is where a stretch lowers CKA the most
    other = rng.standard_normal(8)
    assert cka_limit(features, other) > limit


def test_torch_cka_equals_the_measure_and_has_a_gradient():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((50, 6))
    y = x @ rng.standard_normal((6, 4)) + 0.5 * rng.standard_normal((50, 4))
    X = torch.tensor(x, requires_grad=True)
    value = torch_linear_cka(X, torch.tensor(y))
    assert float(value.detach()) == pytest.approx(representational.linear_cka(x, y), abs=1e-10)
    value.backward()
    assert X.grad is not None and torch.isfinite(X.grad).all() and X.grad.abs().sum() > 0


TINY = {"epochs": 2, "conditions": "1,1000", "penalties": "0,1", "distill_epochs": 3,
        "test_subset": 120, "independent": False}


@pytest.mark.slow
def test_converse_end_to_end(tmp_path):
    result = run_study("converse", "quick", out=tmp_path / "runs", cache_dir=tmp_path / "cache",
                       overrides=TINY, progress=False)
    with sqlite3.connect(result.run_dir / "results.sqlite") as connection:
        rows = connection.execute(
            "SELECT model_b, layer, measure, value FROM pairs WHERE model_a = 'teacher'").fetchall()
        kinds = dict(connection.execute("SELECT model_id, kind FROM models").fetchall())
    assert kinds == {"teacher": "classifier", "teacher-stretch1": "construction",
                     "teacher-stretch1000": "construction", "student-penalty0": "distilled",
                     "student-penalty1": "distilled"}
    values = {(b, layer, m): v for b, layer, m, v in rows}
    assert values[("teacher-stretch1000", "output", "jsd")] < 1e-10
    assert values[("teacher-stretch1000", "features", "cca")] == pytest.approx(1.0, abs=1e-8)
    assert values[("teacher-stretch1000", "features", "linear_cka")] < 0.5
    assert values[("teacher-stretch1", "features", "linear_cka")] == pytest.approx(1.0, abs=1e-9)
    for student in ("student-penalty0", "student-penalty1"):
        for measure in ("linear_cka", "jsd", "disagreement"):
            layer = "output" if measure in functional.OUTPUT_MEASURES else "features"
            assert (student, layer, measure) in values
    summary = json.loads((result.run_dir / "summary.json").read_text())
    assert [c["condition"] for c in summary["constructions"]] == [1.0, 1000.0]
    assert {s["model"] for s in summary["students"]} == {"student-penalty0", "student-penalty1"}
    assert all(0 <= s["accuracy"] <= 1 for s in summary["students"])
    assert (result.run_dir / "figures" / "converse.png").is_file()
