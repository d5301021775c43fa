"""simfunc.train.supervised: real training runs at small sizes, checkpoints, resume, refusal.

Digits (scikit-learn's, bundled) for the fast tests; a width-reduced ResNet-18 on a subset of
the shared CIFAR-10 folder ($SIMFUNC_SHARED_DATA, default <repo>/../shared/data) for the real
image path, skipped when that folder is absent. The resume test SIGKILLs a real
``python -m simfunc train`` process and checks the rerun ends bit-identical to an
uninterrupted run.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from simfunc import InputError
from simfunc.io import config_hash
from simfunc.train.config import learning_rate_factor
from simfunc.train.supervised import (
    METRICS_FILE,
    MODEL_FILE,
    STATE_FILE,
    THESIS_CHECKPOINT_EPOCHS,
    TrainConfig,
    checkpoint_name,
    evaluate,
    load_model,
    resolve_config,
    scale_checkpoint_epochs,
    train,
)

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("SIMFUNC_SHARED_DATA", REPO.parent / "shared" / "data"))
needs_cifar = pytest.mark.skipif(
    not (SHARED / "cifar10").is_dir(),
    reason=f"shared image data not found at {SHARED} (set SIMFUNC_SHARED_DATA)",
)


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Decoded images go to a temporary cache, never the user's home."""
    monkeypatch.setenv("SIMFUNC_CACHE", str(tmp_path / "cache"))


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


def assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), f"{name} differs"


# --------------------------------------------------------------------------- configuration


def test_thesis_checkpoint_list_and_its_scaling():
    # The thesis (§3.4): every epoch to 10, every 5 to 40, every 10 to 100.
    assert THESIS_CHECKPOINT_EPOCHS == (
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 35, 40, 50, 60, 70, 80, 90, 100,
    )  # fmt: skip
    assert scale_checkpoint_epochs(100) == THESIS_CHECKPOINT_EPOCHS
    assert scale_checkpoint_epochs(10) == tuple(range(11))
    assert scale_checkpoint_epochs(20) == (0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 18, 20)
    assert scale_checkpoint_epochs(3) == (0, 1, 2, 3)
    assert scale_checkpoint_epochs(0) == (0,)
    with pytest.raises(InputError, match="after the last epoch"):
        scale_checkpoint_epochs(10, [0, 150])


def test_learning_rate_schedules_match_torch_schedulers():
    epochs = 12
    parameter = torch.nn.Parameter(torch.zeros(1))
    references = {
        "cosine": lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs),
        "step": lambda opt: torch.optim.lr_scheduler.MultiStepLR(opt, [6, 9], gamma=0.1),
        "constant": lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, lambda e: 1.0),
    }
    for schedule, make in references.items():
        optimizer = torch.optim.SGD([parameter], lr=0.1)
        scheduler = make(optimizer)
        for epoch in range(epochs):
            expected = optimizer.param_groups[0]["lr"]
            assert 0.1 * learning_rate_factor(schedule, epoch, epochs) == pytest.approx(
                expected, rel=1e-12, abs=1e-15
            ), (schedule, epoch)
            optimizer.step()
            scheduler.step()
    # Milestones at 50 % and 75 % of 100 epochs: the thesis's 50 and 75.
    assert learning_rate_factor("step", 49, 100) == 1.0
    assert learning_rate_factor("step", 50, 100) == pytest.approx(0.1)
    assert learning_rate_factor("step", 75, 100) == pytest.approx(0.01)


def test_config_round_trips_through_json_and_hashes_stably():
    config = TrainConfig(
        arch="resnet18",
        width=0.25,
        dataset="cifar10",
        classes=["cat", "dog"],
        epochs=20,
        checkpoint_epochs=[20, 0, 5, 5],
        train_subset=1000,
    )
    assert config.checkpoint_epochs == (0, 5, 20) and config.classes == ("cat", "dog")
    text = json.dumps(config.to_dict())
    again = TrainConfig.from_dict(json.loads(text))
    assert again == config
    assert config_hash("train", again.to_dict()) == config_hash("train", config.to_dict())
    assert config_hash("train", config.replace(seed=1).to_dict()) != config_hash(
        "train", config.to_dict()
    )


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"arch": "resnet9"}, "arch"),
        ({"epochs": -1}, "epochs"),
        ({"lr": 0}, "lr"),
        ({"lr": float("nan")}, "lr"),
        ({"momentum": -0.5}, "momentum"),
        ({"schedule": "linear"}, "schedule"),
        ({"batch_size": 1}, "batch_size"),
        ({"in_channels": 2}, "in_channels"),
        ({"checkpoint_epochs": (0, 11)}, "checkpoint_epochs"),
        ({"checkpoint_epochs": "0,1"}, "checkpoint_epochs"),
        ({"augment": "yes"}, "augment"),
        ({"width": 0}, "width"),
        ({"classes": ()}, "classes is empty"),
        ({"classes": (1, 1)}, "twice"),
        ({"classes": "01"}, "classes"),
        ({"classes": (-1,)}, "negative"),
        ({"classes": (0.5,)}, "classes"),
    ],
)
def test_bad_configurations_are_refused(changes, message):
    with pytest.raises(InputError, match=message):
        TrainConfig(**{"epochs": 10, **changes})


def test_from_dict_rejects_unknown_keys():
    with pytest.raises(InputError, match="learning_rate"):
        TrainConfig.from_dict({"learning_rate": 0.1})


def test_resolution_takes_shape_and_classes_from_the_dataset():
    digits = resolve_config(TrainConfig(dataset="digits"))
    assert (digits.num_classes, digits.in_channels, digits.image_size, digits.augment) == (
        10,
        1,
        8,
        False,
    )
    assert resolve_config(TrainConfig(dataset="digits", in_channels=3)).in_channels == 3


@needs_cifar
def test_resolution_of_an_image_folder():
    config = resolve_config(TrainConfig(dataset="cifar10", data_root=str(SHARED)))
    assert (config.num_classes, config.in_channels, config.image_size, config.augment) == (
        10,
        3,
        32,
        True,
    )


# --------------------------------------------------------------------------- training


@pytest.mark.slow
def test_digits_cnn_learns_and_writes_every_file(tmp_path):
    config = TrainConfig(arch="cnn", dataset="digits", epochs=6, checkpoint_epochs=(0, 3, 6))
    out = tmp_path / "run"
    metrics = train(config, out, progress=False)
    assert metrics["test_accuracy"] >= 0.90
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(
        [METRICS_FILE, MODEL_FILE] + [checkpoint_name(e) for e in (0, 3, 6)]
    )  # the resume state is removed once the run has finished
    on_disk = json.loads((out / METRICS_FILE).read_text())
    assert on_disk["test_accuracy"] == metrics["test_accuracy"]
    assert len(on_disk["train_loss"]) == 6 and len(on_disk["test_accuracy_per_epoch"]) == 6
    assert on_disk["config"] == config.to_dict()
    assert on_disk["resumed_from_epochs"] == []
    assert on_disk["versions"]["torch"] == torch.__version__
    assert on_disk["train_loss"][-1] < on_disk["train_loss"][0]

    # Every file loads with weights_only=True (torch.load refuses anything that runs code).
    for path in out.glob("*.pt"):
        content = torch.load(path, map_location="cpu", weights_only=True)
        assert content["resolved_config"]["in_channels"] == 1
    assert torch.load(out / checkpoint_name(0), weights_only=True)["epoch"] == 0

    # The final model file and the last checkpoint hold the same weights.
    assert_same_weights(weights(out / MODEL_FILE), weights(out / checkpoint_name(6)))
    # The initial checkpoint is the untrained network built from the seed.
    from simfunc.nets import build

    untrained = build("cnn", 10, in_channels=1, input_size=8, seed=config.seed)
    assert_same_weights(weights(out / checkpoint_name(0)), untrained.state_dict())

    # load_model rebuilds the network; its accuracy is the recorded one.
    model = load_model(out)
    assert not model.training and model.in_channels == 1 and model.input_size == 8
    assert model.classes == tuple(str(d) for d in range(10))
    from simfunc.data import load

    _, accuracy = evaluate(model, load("digits", "test", image_size=8, channels=1))
    assert accuracy == pytest.approx(metrics["test_accuracy"], abs=1e-12)

    # A finished run is not trained again: nothing is rewritten.
    stamps = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert train(config, out, progress=False) == on_disk
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == stamps

    # Another configuration in the same directory is refused, naming the difference.
    with pytest.raises(InputError, match=r"another configuration.*lr: 0\.1"):
        train(config.replace(lr=0.1), out, progress=False)


def test_training_is_deterministic_and_seeded(tmp_path):
    config = TrainConfig(arch="mlp", dataset="digits", epochs=2, width=0.25, augment=True)
    first = train(config, tmp_path / "a", progress=False)
    second = train(config, tmp_path / "b", progress=False)
    other = train(config.replace(seed=1), tmp_path / "c", progress=False)
    assert_same_weights(weights(tmp_path / "a" / MODEL_FILE), weights(tmp_path / "b" / MODEL_FILE))
    assert first["train_loss"] == second["train_loss"]
    assert not torch.equal(
        weights(tmp_path / "a" / MODEL_FILE)["logits.weight"],
        weights(tmp_path / "c" / MODEL_FILE)["logits.weight"],
    )
    assert other["config"]["seed"] == 1


def test_training_on_a_selection_of_classes(tmp_path):
    config = TrainConfig(arch="mlp", dataset="digits", classes=(7, 3, 5), epochs=2, width=0.5)
    assert resolve_config(config).num_classes == 3
    metrics = train(config, tmp_path, progress=False)
    model = load_model(tmp_path)
    assert model.classes == ("7", "3", "5") and model.logits.out_features == 3
    from simfunc.data import load

    every_label = load("digits", "test", image_size=8, channels=1).labels
    assert metrics["test_examples"] == sum(int((every_label == c).sum()) for c in (7, 3, 5))
    assert metrics["test_accuracy"] > 0.8


def test_zero_epochs_saves_the_untrained_network(tmp_path):
    metrics = train(
        TrainConfig(arch="cnn", epochs=0, checkpoint_epochs=(0,), width=0.25),
        tmp_path,
        progress=False,
    )
    assert metrics["history"] == [] and 0.0 <= metrics["test_accuracy"] <= 0.35
    assert_same_weights(weights(tmp_path / MODEL_FILE), weights(tmp_path / checkpoint_name(0)))


def test_an_unfinished_directory_of_another_configuration_is_refused(tmp_path):
    config = TrainConfig(arch="mlp", epochs=1, width=0.25, checkpoint_epochs=(0,))
    train(config, tmp_path, progress=False)
    (tmp_path / METRICS_FILE).unlink()
    (tmp_path / MODEL_FILE).unlink()  # only the epoch-0 checkpoint is left
    with pytest.raises(InputError, match="another configuration.*arch"):
        train(config.replace(arch="cnn"), tmp_path, progress=False)


def test_bad_arguments_to_train(tmp_path):
    config = TrainConfig(arch="mlp", epochs=1)
    with pytest.raises(InputError, match="TrainConfig"):
        train({"arch": "mlp"}, tmp_path)
    with pytest.raises(InputError, match="device"):
        train(config, tmp_path, device="gpu0")
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="not a directory"):
        train(config, tmp_path / "file")
    with pytest.raises(InputError, match="not a simfunc model"):
        torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
        load_model(tmp_path / "other.pt")


@needs_cifar
@pytest.mark.slow
def test_resnet18_on_cifar10_subset_loss_falls(tmp_path):
    config = TrainConfig(
        arch="resnet18",
        width=0.125,
        dataset="cifar10",
        data_root=str(SHARED),
        train_subset=2000,
        test_subset=200,
        epochs=1,
        batch_size=64,
        lr=0.05,
        checkpoint_epochs=(0,),
    )
    metrics = train(config, tmp_path, progress=False)
    assert metrics["resolved_config"]["in_channels"] == 3 and metrics["train_examples"] == 2000
    from simfunc.data import load

    train_images = load("cifar10", "train", data_root=SHARED, subset=2000)
    before, _ = evaluate(load_model(tmp_path, epoch=0), train_images)
    assert before == pytest.approx(math.log(10), abs=0.15)  # an untrained net guesses
    # The mean training loss over the epoch (early batches included) is already well below
    # the untrained loss, and the predictions beat chance (0.1; its sd here is 0.007).
    assert metrics["train_loss"][0] < before - 0.08
    assert metrics["train_accuracy"][0] > 0.13


# --------------------------------------------------------------------------- resume


def run_cli(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "simfunc", "train", *args],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@pytest.mark.slow
def test_a_killed_run_resumes_and_ends_bit_identical(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "SIMFUNC_CACHE": str(tmp_path / "c")}
    args = [
        "--arch",
        "cnn",
        "--dataset",
        "digits",
        "--epochs",
        "25",
        "--width",
        "0.5",
        "--augment",
        "--checkpoint-epochs",
        "0,1,10,25",
        "--threads",
        "1",
        "--quiet",
    ]
    killed = tmp_path / "killed"
    process = run_cli(args + ["--out", str(killed)], env)
    deadline = time.monotonic() + 120
    while not (killed / STATE_FILE).exists():
        assert process.poll() is None, process.stderr.read().decode()
        assert time.monotonic() < deadline, "no training state appeared within 120 s"
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (killed / METRICS_FILE).exists(), "the run finished before it could be killed"
    assert (killed / checkpoint_name(0)).exists() and not (killed / MODEL_FILE).exists()

    resumed = run_cli(args + ["--out", str(killed)], env)
    stdout, stderr = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, stderr.decode()
    assert "test accuracy" in stdout.decode()
    metrics = json.loads((killed / METRICS_FILE).read_text())
    assert len(metrics["resumed_from_epochs"]) == 1
    start = metrics["resumed_from_epochs"][0]
    assert 1 <= start < 25  # it did not start again from epoch 0
    assert len(metrics["history"]) == 25

    # The same configuration, uninterrupted, in this process.
    config = TrainConfig(
        arch="cnn",
        dataset="digits",
        epochs=25,
        width=0.5,
        augment=True,
        checkpoint_epochs=(0, 1, 10, 25),
    )
    reference = train(config, tmp_path / "whole", progress=False, threads=1)
    assert reference["resumed_from_epochs"] == []
    for name in [MODEL_FILE] + [checkpoint_name(e) for e in (0, 1, 10, 25)]:
        assert_same_weights(weights(killed / name), weights(tmp_path / "whole" / name))
    assert metrics["train_loss"] == reference["train_loss"]
    assert metrics["test_accuracy"] == reference["test_accuracy"]
