"""Feature surgery (``simfunc.nets.surgery``), distillation (``simfunc.train.distill``) and the
converse study's construction math (least-variance direction, CKA's limit), on a small CNN
trained on digits."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from simfunc import InputError, functional, representational
from simfunc.data import load
from simfunc.extract import activations
from simfunc.nets import build
from simfunc.nets.surgery import insert_feature_map, stretch_map
from simfunc.studies.converse.jobs import cka_limit, least_variance_direction
from simfunc.train.distill import DistillConfig, distill

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


def test_insert_feature_map_refuses_a_wrong_shape(teacher):
    model, _, _ = teacher
    dim = model.feature_dim
    with pytest.raises(InputError, match=f"\\({dim}, {dim}\\)"):
        insert_feature_map(model, np.eye(dim + 1), np.eye(dim + 1))
    with pytest.raises(InputError, match="simfunc classifier"):
        insert_feature_map(torch.nn.Linear(2, 2), np.eye(2), np.eye(2))


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


@pytest.fixture(scope="module")
def targets(teacher):
    model, train, _ = teacher
    acts = activations(model, train, ["features", "logits"])
    return torch.from_numpy(acts["logits"]), torch.from_numpy(acts["features"])


def _student(teacher, seed=1):
    model = teacher[0]
    return build("cnn", model.num_classes, width=0.5, in_channels=1, input_size=8, seed=seed)


def test_distillation_matches_the_teacher_and_the_penalty_lowers_cka(teacher, targets):
    """Plain distillation drives the KL down; a CKA penalty ends with a lower batch CKA; a rerun
    from the same initialisation and seed gives the same student, bit for bit."""
    _, train, test = teacher
    logits, features = targets
    config = DistillConfig(epochs=3, lr=3e-3, batch_size=64)
    histories, students = {}, {}
    for penalty in (0.0, 5.0):
        students[penalty] = _student(teacher)
        histories[penalty] = distill(students[penalty], train, logits, features, config=config,
                                     penalty=penalty, seed=1)
    plain = histories[0.0]
    assert [row["epoch"] for row in plain] == [1, 2, 3]
    assert plain[-1]["kl"] < plain[0]["kl"]
    assert histories[5.0][-1]["batch_cka"] < plain[-1]["batch_cka"]
    again = _student(teacher)
    assert distill(again, train, logits, features, config=config, penalty=0.0, seed=1) == plain
    for a, b in zip(again.parameters(), students[0.0].parameters()):
        assert torch.equal(a, b)
    assert not students[0.0].training  # left in eval mode


def test_distillation_refuses_bad_input(teacher, targets):
    _, train, _ = teacher
    logits, features = targets
    config = DistillConfig(epochs=1)
    with pytest.raises(InputError, match="penalty"):
        distill(_student(teacher), train, logits, features, config=config, penalty=-1.0)
    with pytest.raises(InputError, match="one row per image"):
        distill(_student(teacher), train, logits[:-1], features, config=config)
    with pytest.raises(InputError, match="batch_size"):
        DistillConfig(batch_size=2)
    with pytest.raises(InputError, match="epochs"):
        DistillConfig(epochs=0)
