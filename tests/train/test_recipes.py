"""The training recipe options of TrainConfig: one-cycle, label smoothing, Nesterov,
channels-last, bfloat16 autocast.

Each option must be off by default without changing the configuration's dictionary (so the
cache keys and results of every existing run stay as they were), must change the training
when switched on, must be deterministic given the seed, and must resume bit for bit.
"""

from __future__ import annotations

import pytest
import torch

from simfunc import InputError
from simfunc.io import config_hash
from simfunc.train.config import ADDED_FIELDS, learning_rate_factor
from simfunc.train.supervised import (
    MODEL_FILE,
    STATE_FILE,
    TrainConfig,
    checkpoint_name,
    evaluate,
    load_model,
    train,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

#: The keys of TrainConfig.to_dict() before the recipe options existed: cache keys of runs
#: that do not use them are made from exactly these.
ORIGINAL_KEYS = {
    "arch", "dataset", "data_root", "classes", "width", "num_classes", "in_channels",
    "image_size", "train_subset", "test_subset", "subset_seed", "seed", "epochs", "lr",
    "momentum", "weight_decay", "schedule", "batch_size", "augment", "checkpoint_epochs",
    "eval_each_epoch",
}  # fmt: skip

RECIPE = {
    "schedule": "onecycle",
    "warmup": 0.2,
    "label_smoothing": 0.1,
    "nesterov": True,
    "channels_last": True,
}


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SIMFUNC_CACHE", str(tmp_path / "cache"))


def weights(path):
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


def same_weights(a, b) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# --------------------------------------------------------------------------- configuration


def test_defaults_leave_the_dictionary_and_the_cache_key_as_before():
    config = TrainConfig(arch="cnn", dataset="digits", epochs=3, checkpoint_epochs=(0, 3))
    assert set(config.to_dict()) == ORIGINAL_KEYS
    assert set(ADDED_FIELDS) == {f for f in TrainConfig.__dataclass_fields__} - ORIGINAL_KEYS
    # An option at a non-default value appears, round-trips and changes the key.
    tuned = config.replace(**RECIPE, precision="bfloat16")
    assert set(tuned.to_dict()) == ORIGINAL_KEYS | set(ADDED_FIELDS)
    assert TrainConfig.from_dict(tuned.to_dict()) == tuned
    assert TrainConfig.from_dict(config.to_dict()) == config
    keys = {config_hash("train", c.to_dict()) for c in (config, tuned)}
    for name, value in {**RECIPE, "precision": "bfloat16"}.items():
        keys.add(config_hash("train", config.replace(**{name: value}).to_dict()))
    assert len(keys) == 2 + len(RECIPE) + 1


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"schedule": "one-cycle"}, "schedule"),
        ({"warmup": 1.0}, "warmup"),
        ({"warmup": -0.1}, "warmup"),
        ({"warmup": float("nan")}, "warmup"),
        ({"label_smoothing": 1.0}, "label_smoothing"),
        ({"label_smoothing": -0.01}, "label_smoothing"),
        ({"label_smoothing": True}, "label_smoothing"),
        ({"nesterov": "yes"}, "nesterov"),
        ({"nesterov": True, "momentum": 0.0}, "nesterov needs momentum"),
        ({"channels_last": 1}, "channels_last"),
        ({"precision": "float16"}, "precision"),
    ],
)
def test_bad_recipe_options_are_refused(changes, message):
    with pytest.raises(InputError, match=message):
        TrainConfig(**changes)


@pytest.mark.parametrize(
    "steps_per_epoch, epochs, warmup", [(7, 3, 0.3), (40, 5, 0.25), (1, 9, 0.5)]
)
def test_onecycle_matches_torch_one_cycle_lr(steps_per_epoch, epochs, warmup):
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=0.1)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer,
        max_lr=0.1,
        total_steps=epochs * steps_per_epoch,
        pct_start=warmup,
        anneal_strategy="cos",
        cycle_momentum=False,
    )
    for epoch in range(epochs):
        for batch in range(steps_per_epoch):
            expected = optimizer.param_groups[0]["lr"]
            ours = 0.1 * learning_rate_factor(
                "onecycle",
                epoch,
                epochs,
                batch_index=batch,
                batches_per_epoch=steps_per_epoch,
                warmup=warmup,
            )
            assert ours == pytest.approx(expected, rel=1e-12, abs=1e-15), (epoch, batch)
            optimizer.step()
            scheduler.step()


def test_onecycle_shape_rises_then_falls_to_almost_zero():
    factors = [
        learning_rate_factor("onecycle", e, 4, batch_index=b, batches_per_epoch=25, warmup=0.3)
        for e in range(4)
        for b in range(25)
    ]
    peak = factors.index(max(factors))
    assert factors[0] == pytest.approx(1 / 25) and max(factors) == pytest.approx(1.0)
    assert 28 <= peak <= 30  # 30 % of 100 steps
    assert all(a < b for a, b in zip(factors[:peak], factors[1 : peak + 1]))
    assert all(a > b for a, b in zip(factors[peak:], factors[peak + 1 :]))
    assert factors[-1] == pytest.approx(1 / 25e4)
    # Too few steps to warm up: it starts at the peak and only anneals.
    short = [
        learning_rate_factor("onecycle", 0, 1, batch_index=b, batches_per_epoch=3, warmup=0.1)
        for b in range(3)
    ]
    assert short[0] == 1.0 and short[1] < 1.0 and short[2] == pytest.approx(1 / 25e4)
    # A single step: the peak.
    assert learning_rate_factor("onecycle", 0, 1, batch_index=0, batches_per_epoch=1) == 1.0


# --------------------------------------------------------------------------- real training


BASE = {"arch": "cnn", "dataset": "digits", "epochs": 2, "width": 0.25, "augment": True}


@pytest.fixture(scope="module")
def plain_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("plain")
    return train(TrainConfig(**BASE), out, progress=False), weights(out / MODEL_FILE)


@pytest.mark.parametrize(
    "option",
    [
        {"label_smoothing": 0.1},
        {"nesterov": True},
        {"schedule": "onecycle"},
        {"channels_last": True},
        {"precision": "bfloat16"},  # slow on CPUs without bfloat16 units: a small network
    ],
    ids=lambda option: next(iter(option)),
)
def test_each_option_changes_the_training_and_is_deterministic(tmp_path, plain_run, option):
    plain, plain_weights = plain_run
    config = TrainConfig(**BASE, **option)
    first = train(config, tmp_path / "a", progress=False)
    second = train(config, tmp_path / "b", progress=False)
    a, b = weights(tmp_path / "a" / MODEL_FILE), weights(tmp_path / "b" / MODEL_FILE)
    assert same_weights(a, b) and first["train_loss"] == second["train_loss"]
    assert not same_weights(a, plain_weights)
    assert first["train_loss"] != plain["train_loss"]
    assert first["test_accuracy"] > 0.3  # it still learns (chance is 0.1)
    # The reported test loss is plain cross-entropy of the saved model, whatever the recipe.
    from simfunc.data import load

    test = load("digits", "test", image_size=8, channels=1)
    loss, accuracy = evaluate(load_model(tmp_path / "a"), test)
    assert loss == pytest.approx(first["test_loss"], rel=1e-6)
    assert accuracy == pytest.approx(first["test_accuracy"], abs=1e-12)


def test_label_smoothing_trains_towards_the_smoothed_target(tmp_path):
    # With heavy smoothing the optimum puts 1 - s + s/k on the label: the trained network's
    # mean top probability is pulled well below the plain network's.
    config = TrainConfig(arch="mlp", dataset="digits", epochs=8, width=1.0)
    plain = train(config, tmp_path / "plain", progress=False)
    smooth = train(config.replace(label_smoothing=0.5), tmp_path / "smooth", progress=False)
    from simfunc.data import load

    images = load("digits", "test", image_size=8, channels=1).normalized()

    def top_probability(run):
        with torch.inference_mode():
            return float(load_model(tmp_path / run)(images).softmax(1).max(1).values.mean())

    assert top_probability("smooth") < 1 - 0.5 + 0.5 / 10 + 0.08 < top_probability("plain")
    assert smooth["test_accuracy"] > 0.85 and plain["test_accuracy"] > 0.85


class Interrupt(Exception):
    pass


def test_an_interrupted_run_with_every_option_resumes_bit_identical(tmp_path):
    # onecycle's learning rate depends on the step, the augmentation on (seed, epoch): a run
    # interrupted after epoch 2 and resumed must end with the uninterrupted run's weights.
    config = TrainConfig(**{**BASE, "epochs": 4, **RECIPE, "checkpoint_epochs": (0, 2, 4)})

    def stop_at_epoch_3(line: str) -> None:
        if line.startswith("epoch 3/"):
            raise Interrupt  # before epoch 3's state is saved: the state of epoch 2 remains

    with pytest.raises(Interrupt):
        train(config, tmp_path / "cut", progress=False, log=stop_at_epoch_3)
    assert (tmp_path / "cut" / STATE_FILE).is_file()
    assert not (tmp_path / "cut" / MODEL_FILE).exists()
    resumed = train(config, tmp_path / "cut", progress=False, log=lambda line: None)
    whole = train(config, tmp_path / "whole", progress=False)
    assert resumed["resumed_from_epochs"] == [2]
    for name in (MODEL_FILE, checkpoint_name(2), checkpoint_name(4)):
        assert same_weights(weights(tmp_path / "cut" / name), weights(tmp_path / "whole" / name))
    assert resumed["train_loss"] == whole["train_loss"]
    assert [row["learning_rate"] for row in resumed["history"]] == [
        row["learning_rate"] for row in whole["history"]
    ]
