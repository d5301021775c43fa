"""The shared image-classifier jobs' contract: its records, and the one rule for untrained networks."""

from __future__ import annotations

import pytest
import torch

from simfunc.studies.classifier_jobs import (
    UNTRAINED_EPOCH,
    ClassifierTraining,
    ImageSet,
    ModelRecord,
    untrained_config,
    untrained_twin,
    with_untrained,
)
from simfunc.train.supervised import TrainConfig, load_model, train


def test_records_and_image_sets_round_trip_through_job_json():
    record = ModelRecord("cnn-s0", epoch=3, trained=True, kind="checkpoint", parent="cnn-s0-final",
                         extra={"lr": 0.1})
    assert ModelRecord.from_json(record.to_json()) == record
    images = ImageSet("digits", "test", subset=50, classes=(0, 1, 2))
    assert images.to_json()["classes"] == [0, 1, 2]
    assert ImageSet.from_json(images.to_json()) == images
    twin = untrained_twin("cnn-s0")
    assert (twin.model_id, twin.epoch, twin.trained, twin.parent) == (
        "cnn-s0-untrained", UNTRAINED_EPOCH, False, "cnn-s0")


def test_the_training_group_builds_the_run_it_describes():
    training = ClassifierTraining(epochs=3, lr=0.2, schedule="step", batch_size=32,
                                  train_subset=100)
    config = training.config(arch="mlp", dataset="digits", seed=4, width=0.5, image_size=8,
                             classes=[0, 1], test_subset=40)
    assert config == TrainConfig(arch="mlp", dataset="digits", seed=4, width=0.5, image_size=8,
                                 classes=(0, 1), test_subset=40, train_subset=100, epochs=3,
                                 lr=0.2, schedule="step", batch_size=32)
    assert with_untrained(config).checkpoint_epochs == (0,)
    assert untrained_config(with_untrained(config)).epochs == 0


def test_the_training_group_carries_the_recipe_options_and_leaves_old_keys_alone():
    plain = ClassifierTraining(epochs=2).config(arch="mlp", dataset="digits", seed=0)
    assert plain.to_dict() == TrainConfig(arch="mlp", dataset="digits", seed=0, epochs=2,
                                          lr=0.05, schedule="cosine").to_dict()
    assert "nesterov" not in plain.to_dict()  # an old cache key is unchanged
    recipe = ClassifierTraining(epochs=2, schedule="onecycle", warmup=0.1, nesterov=True,
                                channels_last=True, label_smoothing=0.1)
    config = recipe.config(arch="mlp", dataset="digits", seed=0)
    assert (config.schedule, config.warmup, config.nesterov, config.channels_last,
            config.label_smoothing) == ("onecycle", 0.1, True, True, 0.1)


@pytest.mark.slow
def test_an_untrained_twin_and_a_zero_epoch_run_of_the_same_seed_are_the_same_network(tmp_path):
    """The one rule: the untrained network of (architecture, seed) is the initialisation of the
    training run with that seed, whichever way a study obtains it."""
    config = TrainConfig(arch="cnn", dataset="digits", image_size=8, classes=(0, 1, 2),
                         train_subset=60, epochs=1, seed=7, batch_size=32,
                         eval_each_epoch=False)
    train(with_untrained(config), tmp_path / "trained", progress=False, threads=1)
    train(untrained_config(config), tmp_path / "untrained", progress=False, threads=1)
    twin = load_model(tmp_path / "trained", epoch=UNTRAINED_EPOCH).state_dict()
    alone = load_model(tmp_path / "untrained").state_dict()
    final = load_model(tmp_path / "trained").state_dict()
    assert twin.keys() == alone.keys()
    assert all(torch.equal(twin[name], alone[name]) for name in twin)
    assert not all(torch.equal(twin[name], final[name]) for name in twin)  # training moved it
