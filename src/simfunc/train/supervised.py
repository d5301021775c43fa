"""Supervised training of image classifiers: SGD with checkpoints, resumable, reproducible.

    from simfunc.train.supervised import TrainConfig, train, load_model

    config = TrainConfig(arch="resnet18", width=0.25, dataset="cifar10", epochs=30,
                         checkpoint_epochs=scale_checkpoint_epochs(30))
    metrics = train(config, "runs/resnet18-seed0")          # resumes if interrupted
    model = load_model("runs/resnet18-seed0")               # the final weights, eval mode

**What a run writes** (every file atomically: a temporary file, then a rename):

* ``checkpoint-epoch-NNN.pt`` after each epoch in ``config.checkpoint_epochs`` (epoch 0 is the
  initial, untrained weights) and ``model.pt`` at the end: model files, see
  :mod:`simfunc.train.modelfile`;
* ``training-state.pt`` at the end of every epoch: weights, optimizer state (momentum buffers),
  the epoch, the per-epoch history -- all a resumed run needs. It is deleted once the run has
  finished;
* ``metrics.json`` last: final ``test_accuracy`` and ``test_loss``; per-epoch ``train_loss``
  and ``test_accuracy_per_epoch``; a ``history`` row per epoch (losses, accuracies, learning
  rate, seconds, process CPU seconds); the configuration as given and as resolved;
  ``wall_time_seconds`` (epochs with their evaluation and checkpoints, over every attempt),
  ``train_seconds`` and ``train_cpu_seconds`` (the SGD steps alone: wall time, and the
  process's CPU time, which a busy shared machine inflates less); the epochs a run resumed
  from (``resumed_from_epochs``); versions of simfunc, torch, numpy and Python.

Every ``.pt`` file holds tensors and plain Python values only and loads with
``torch.load(weights_only=True)``.

**Rerunning** ``train`` on a directory: a finished run (``metrics.json``) returns its metrics
without training; an unfinished one resumes after the last epoch whose state was saved; a
directory holding another configuration raises InputError naming the differences.

**Determinism**: the initial weights come from ``config.seed``; each epoch's shuffling and
augmentation come from a generator seeded with ``(seed, epoch)``, so no random state is carried
from one epoch to the next and a resumed run ends with the same weights, bit for bit, as an
uninterrupted one (same machine, same thread count). The learning rate is a function of the
epoch, and for ``onecycle`` of the step within it
(:func:`~simfunc.train.config.learning_rate_factor`), so there is no scheduler state to
restore. On accelerators ``torch.use_deterministic_algorithms`` is on while training (on the
CPU it costs 5-12 % and is not needed: see ``_reproducible``).

**Speed**: the training images stay in memory as uint8; each step indexes a batch of them,
augments the batch in one gather (:func:`~simfunc.data.transforms.crop_flip_batch`) and
normalises it -- no DataLoader, no worker processes. A final batch of a single image is
skipped (batch norm needs two). On an accelerator the uint8 training images are copied to it
once (50,000 CIFAR images are 150 MB) and each epoch's order, crop offsets and flips once per
epoch, so a step moves no data between host and device; the progress bar reads the running
loss (a synchronisation) at most twice a second.

**Recipe options** (fields of :class:`TrainConfig`, each off by default): ``label_smoothing``,
``nesterov``, the per-step ``onecycle`` schedule with its ``warmup``, ``channels_last`` memory
order and ``bfloat16`` autocast (``precision``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import simfunc
from simfunc.data import ImageDataset, load, resolve
from simfunc.data.sources import ArraySet
from simfunc.data.transforms import augmentation_padding, crop_flip_batch, normalize
from simfunc.errors import InputError
from simfunc.io import atomic_torch_save, atomic_write_json, load_json, load_torch
from simfunc.io.atomic import is_temp_file
from simfunc.nets import count_parameters
from simfunc.train.config import (
    PRECISIONS,
    SCHEDULES,
    THESIS_CHECKPOINT_EPOCHS,
    TrainConfig,
    learning_rate_factor,
    scale_checkpoint_epochs,
)
from simfunc.train.modelfile import (
    MODEL_FILE,
    build_from_config,
    checkpoint_name,
    load_model,
    read_model_file,
    save_model_file,
)
from simfunc.validation import check_int

__all__ = [
    "METRICS_FILE",
    "MODEL_FILE",
    "PRECISIONS",
    "SCHEDULES",
    "STATE_FILE",
    "THESIS_CHECKPOINT_EPOCHS",
    "TrainConfig",
    "checkpoint_name",
    "evaluate",
    "load_model",
    "read_model_file",
    "resolve_config",
    "scale_checkpoint_epochs",
    "train",
]

logger = logging.getLogger("simfunc.train")

METRICS_FILE = "metrics.json"
STATE_FILE = "training-state.pt"
STATE_FORMAT = "simfunc.training-state"
EVAL_BATCH_SIZE = 512


# --------------------------------------------------------------------------- configuration


def resolve_config(config: TrainConfig) -> TrainConfig:
    """Fill in the fields left ``None`` from the dataset (without decoding any image).

    ``num_classes``: the number of classes (of ``classes`` when set); ``in_channels`` and
    ``image_size``: the dataset's own (digits: 1 and 8; image files: 3 and 32); ``augment``:
    on except for digits.
    """
    if not isinstance(config, TrainConfig):
        raise InputError(f"config must be a TrainConfig, got {type(config).__name__}")
    source = resolve(config.dataset, "train", config.data_root)
    if isinstance(source, ArraySet):
        native_channels, native_size = int(source.images.shape[1]), int(source.images.shape[-1])
    else:
        native_channels, native_size = 3, 32
    if not source.classes:
        raise InputError(f"dataset {config.dataset!r} has no class labels: it cannot be trained on")
    present = len(source.classes) if config.classes is None else len(config.classes)
    num_classes = config.num_classes if config.num_classes is not None else present
    if num_classes < present:
        raise InputError(
            f"num_classes={num_classes} is smaller than the {present} classes of dataset "
            f"{config.dataset!r}" + ("" if config.classes is None else " selected by classes")
        )
    return config.replace(
        num_classes=num_classes,
        in_channels=config.in_channels if config.in_channels is not None else native_channels,
        image_size=config.image_size if config.image_size is not None else native_size,
        augment=config.augment if config.augment is not None else source.name != "digits",
    )


def _load_split(resolved: TrainConfig, split: str) -> ImageDataset:
    subset = resolved.train_subset if split == "train" else resolved.test_subset
    return load(
        resolved.dataset,
        split,
        data_root=resolved.data_root,
        image_size=resolved.image_size,
        channels=resolved.in_channels,
        subset=subset,
        seed=resolved.subset_seed,
        classes=None if resolved.classes is None else list(resolved.classes),
    )


# --------------------------------------------------------------------------- the run directory


def _stored_config(out_dir: Path) -> tuple[TrainConfig, TrainConfig] | None:
    """(given, resolved) configuration of whatever run ``out_dir`` holds, or None."""
    metrics = out_dir / METRICS_FILE
    if metrics.is_file():
        content = load_json(metrics)
        if isinstance(content, dict) and "config" in content and "resolved_config" in content:
            return (
                TrainConfig.from_dict(content["config"]),
                TrainConfig.from_dict(content["resolved_config"]),
            )
    state = out_dir / STATE_FILE
    if state.is_file():
        content = _read_state(state)
        return TrainConfig.from_dict(content["config"]), TrainConfig.from_dict(
            content["resolved_config"]
        )
    candidates = [out_dir / MODEL_FILE] + sorted(out_dir.glob("checkpoint-epoch-*.pt"))
    for path in candidates:
        if path.is_file():
            record = read_model_file(path)
            return record.config, record.resolved_config
    return None


def _check_same_run(out_dir: Path, config: TrainConfig) -> TrainConfig | None:
    """The resolved config of the run in ``out_dir`` if it is ``config``'s; None if empty."""
    stored = _stored_config(out_dir)
    if stored is None:
        return None
    given, resolved = stored
    if given == config:
        return resolved
    differences = resolve_config(config).differences(resolved)
    if differences:
        raise InputError(
            f"{str(out_dir)!r} holds a training run with another configuration "
            f"({'; '.join(differences)}); choose another output directory or delete it"
        )
    return resolved


def _remove_temp_files(out_dir: Path) -> None:
    for path in out_dir.iterdir():
        if path.is_file() and is_temp_file(path):
            path.unlink(missing_ok=True)


def _read_state(path: Path) -> dict[str, Any]:
    content = load_torch(path)
    if not isinstance(content, dict) or content.get("format") != STATE_FORMAT:
        raise InputError(f"{str(path)!r} is not a simfunc training state")
    return content


# --------------------------------------------------------------------------- the loop


def _epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """The generator of epoch ``epoch`` (1-based): seeded from (seed, epoch) alone."""
    state = np.random.SeedSequence([seed, epoch]).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(state))


def _epoch_order(
    n: int, padding: int | None, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
    """The epoch's permutation and, with augmentation, per-position crop offsets and flips."""
    order = torch.randperm(n, generator=generator)
    if padding is None:
        return order, None, None, None
    top = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
    left = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
    flip = torch.rand(n, generator=generator) < 0.5
    return order, top, left, flip


def evaluate(
    model: nn.Module,
    data: ImageDataset,
    device: str | torch.device = "cpu",
    batch_size: int = EVAL_BATCH_SIZE,
) -> tuple[float, float]:
    """(mean cross-entropy loss, accuracy) of ``model`` on ``data``, in eval mode, no grad.

    The model's train/eval mode is restored afterwards.
    """
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    if len(data) == 0:
        raise InputError("evaluate: the dataset is empty")
    was_training = model.training
    model.eval()
    total_loss, correct = 0.0, 0
    try:
        with torch.inference_mode():
            for start in range(0, len(data), batch_size):
                images = data.images[start : start + batch_size].to(device)
                labels = data.labels[start : start + batch_size].to(device)
                logits = model(normalize(images, data.mean, data.std))
                total_loss += float(F.cross_entropy(logits, labels, reduction="sum"))
                correct += int((logits.argmax(1) == labels).sum())
    finally:
        model.train(was_training)
    return total_loss / len(data), correct / len(data)


class _Trainer:
    """One run's moving parts: data, network, optimizer, history."""

    def __init__(self, config: TrainConfig, resolved: TrainConfig, device: torch.device) -> None:
        self.config = config
        self.resolved = resolved
        self.device = device
        self.train_data = _load_split(resolved, "train")
        self.test_data = _load_split(resolved, "test")
        if len(self.train_data) < 2:
            raise InputError("the training set needs at least 2 images")
        self.images = self.train_data.images.to(device)
        self.labels = self.train_data.labels.to(device)
        self.padding = augmentation_padding(resolved.image_size) if resolved.augment else None
        self.memory_format = (
            torch.channels_last if resolved.channels_last else torch.contiguous_format
        )
        self.model = build_from_config(resolved).to(device, memory_format=self.memory_format)
        self.optimizer = torch.optim.SGD(
            self.model.parameters(),
            lr=resolved.lr,
            momentum=resolved.momentum,
            weight_decay=resolved.weight_decay,
            nesterov=resolved.nesterov,
        )
        self.history: list[dict[str, Any]] = []
        self.resumed_from: list[int] = []
        self.wall_time = 0.0
        self.epoch = 0

    # ---- state
    def state(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "version": 1,
            "config": self.config.to_dict(),
            "resolved_config": self.resolved.to_dict(),
            "epoch": self.epoch,
            "model": {
                k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()
            },
            "optimizer": _to_cpu(self.optimizer.state_dict()),
            "history": self.history,
            "resumed_from": self.resumed_from,
            "wall_time": self.wall_time,
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"], strict=True)
        self.optimizer.load_state_dict(state["optimizer"])
        self.epoch = int(state["epoch"])
        self.history = list(state["history"])
        self.resumed_from = list(state["resumed_from"]) + [self.epoch]
        self.wall_time = float(state["wall_time"])

    # ---- one epoch
    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.resolved.precision == "float32":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    def run_epoch(self, progress: bool) -> dict[str, Any]:
        from simfunc.progress import progress_bar

        epoch = self.epoch + 1
        resolved = self.resolved
        epochs = resolved.epochs
        n = len(self.images)
        batch_size = resolved.batch_size
        order, top, left, flip = (
            None if part is None else part.to(self.device)
            for part in _epoch_order(n, self.padding, _epoch_generator(resolved.seed, epoch))
        )
        starts = [s for s in range(0, n, batch_size) if n - s >= 2]

        def rate(batch_index: int) -> float:
            return resolved.lr * learning_rate_factor(
                resolved.schedule,
                epoch - 1,
                epochs,
                batch_index=batch_index,
                batches_per_epoch=len(starts),
                warmup=resolved.warmup,
            )

        started, started_cpu = time.perf_counter(), time.process_time()
        self.model.train()
        # Running sums stay on the device (no synchronisation per step on a GPU).
        total_loss = torch.zeros((), dtype=torch.float64, device=self.device)
        correct = torch.zeros((), dtype=torch.int64, device=self.device)
        seen = 0
        shown = started
        bar = progress_bar(
            starts, desc=f"epoch {epoch}/{epochs}", unit="batch", leave=False, disable=not progress
        )
        for batch_index, start in enumerate(bar):
            lr = rate(batch_index)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            index = order[start : start + batch_size]
            images = self.images[index]
            if self.padding is not None:
                images = crop_flip_batch(
                    images,
                    self.padding,
                    top[start : start + batch_size],
                    left[start : start + batch_size],
                    flip[start : start + batch_size],
                )
            labels = self.labels[index]
            inputs = normalize(images, self.train_data.mean, self.train_data.std)
            inputs = inputs.contiguous(memory_format=self.memory_format)
            with self._autocast():
                logits = self.model(inputs)
                loss = F.cross_entropy(
                    logits.float(), labels, label_smoothing=resolved.label_smoothing
                )
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            count = len(labels)
            total_loss += loss.detach().double() * count
            correct += (logits.detach().argmax(1) == labels).sum()
            seen += count
            if progress and (time.perf_counter() - shown > 0.5 or start == starts[-1]):
                shown = time.perf_counter()
                bar.set_postfix(
                    loss=f"{float(total_loss) / seen:.4f}", acc=f"{int(correct) / seen:.3f}"
                )
        bar.close()
        seconds = time.perf_counter() - started
        cpu_seconds = time.process_time() - started_cpu
        row: dict[str, Any] = {
            "epoch": epoch,
            "learning_rate": rate(0),
            "train_loss": float(total_loss) / seen,
            "train_accuracy": int(correct) / seen,
            "test_loss": None,
            "test_accuracy": None,
            "seconds": seconds,
            "cpu_seconds": cpu_seconds,
            "images_per_second": seen / seconds if seconds > 0 else None,
        }
        if self.resolved.eval_each_epoch or epoch == epochs:
            row["test_loss"], row["test_accuracy"] = evaluate(
                self.model, self.test_data, self.device
            )
        self.epoch = epoch
        self.history.append(row)
        return row


def _to_cpu(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, dict):
        return {k: _to_cpu(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_cpu(v) for v in value]
    return value


@contextlib.contextmanager
def _reproducible(device: torch.device, threads: int | None) -> Iterator[None]:
    """A thread count, and deterministic algorithms on accelerators, for the block only.

    On the CPU, torch's kernels already give the same bits run after run at a fixed thread
    count (the resume and determinism tests check it), and
    ``torch.use_deterministic_algorithms(True)`` made CPU training 5-12 % slower, so it is
    switched on for other devices only (with cuDNN's deterministic mode; ``warn_only`` so an
    operation without a deterministic kernel warns instead of failing). On CUDA it also sets
    ``CUBLAS_WORKSPACE_CONFIG=:4096:8`` unless set, which cuBLAS needs to be deterministic.
    """
    previous_deterministic = torch.are_deterministic_algorithms_enabled()
    previous_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    previous_cudnn = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    previous_threads = torch.get_num_threads()
    if device.type == "cuda":
        # cuBLAS gives the same bits run after run only with a fixed workspace; it reads this
        # when it starts in the process (a setting made by the user is kept).
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    if device.type != "cpu":
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous_deterministic, warn_only=previous_warn)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = previous_cudnn
        torch.set_num_threads(previous_threads)


def _device(device: str | torch.device) -> torch.device:
    try:
        chosen = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise InputError(f"device {device!r} is not a torch device: {error}") from None
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device {device!r}: CUDA is not available on this machine")
    return chosen


def _versions() -> dict[str, str]:
    return {
        "simfunc": simfunc.__version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def _metrics(trainer: _Trainer, threads: int) -> dict[str, Any]:
    history = trainer.history
    if history:
        test_loss, test_accuracy = history[-1]["test_loss"], history[-1]["test_accuracy"]
    else:  # epochs=0: the untrained network
        test_loss, test_accuracy = evaluate(trainer.model, trainer.test_data, trainer.device)
    checkpoints = {str(e): checkpoint_name(e) for e in trainer.resolved.checkpoint_epochs}
    return {
        "test_accuracy": test_accuracy,
        "test_loss": test_loss,
        "train_loss": [row["train_loss"] for row in history],
        "train_accuracy": [row["train_accuracy"] for row in history],
        "test_accuracy_per_epoch": [row["test_accuracy"] for row in history],
        "history": history,
        "epochs": trainer.resolved.epochs,
        "checkpoints": checkpoints,
        "model_file": MODEL_FILE,
        "config": trainer.config.to_dict(),
        "resolved_config": trainer.resolved.to_dict(),
        "num_parameters": count_parameters(trainer.model),
        "train_examples": len(trainer.train_data),
        "test_examples": len(trainer.test_data),
        "wall_time_seconds": trainer.wall_time,
        "train_seconds": sum(row["seconds"] for row in history),
        "train_cpu_seconds": sum(row.get("cpu_seconds", 0.0) for row in history),
        "resumed_from_epochs": trainer.resumed_from,
        "device": str(trainer.device),
        "threads": threads,
        "versions": _versions(),
    }


def train(
    config: TrainConfig,
    out_dir: str | os.PathLike[str],
    progress: bool = True,
    device: str | torch.device = "cpu",
    threads: int | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Train ``config``'s network into ``out_dir`` and return the metrics (see the module
    docstring for the files, resuming and determinism).

    Args:
        config: the run (a :class:`TrainConfig`).
        out_dir: the run's directory (created if needed). A finished run there is returned
            as is; an unfinished one is resumed; another configuration's is refused.
        progress: show a tqdm bar per epoch (loss and accuracy so far).
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
        threads: torch's intra-op thread count while training (None: leave it).
        log: called with one line per epoch (epoch, losses, accuracies); the lines also go to
            the ``simfunc.train`` logger.
    """
    if not isinstance(config, TrainConfig):
        raise InputError(f"config must be a TrainConfig, got {type(config).__name__}")
    if threads is not None:
        threads = check_int(threads, "threads", minimum=1)
    chosen = _device(device)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"out_dir {str(out)!r} exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    _remove_temp_files(out)

    def say(message: str) -> None:
        logger.info(message)
        if log is not None:
            log(message)
        elif progress:
            from tqdm.auto import tqdm

            tqdm.write(message)

    resolved = _check_same_run(out, config)
    if resolved is not None and (out / METRICS_FILE).is_file():
        if not (out / MODEL_FILE).is_file():
            raise InputError(
                f"{str(out)!r} has {METRICS_FILE} but no {MODEL_FILE}: the directory is damaged; "
                "delete it to train again"
            )
        finished = load_json(out / METRICS_FILE)
        (out / STATE_FILE).unlink(missing_ok=True)  # killed just before removing it
        say(f"{out}: already trained, test accuracy {finished['test_accuracy']:.4f}")
        return finished
    if resolved is None:
        resolved = resolve_config(config)

    with _reproducible(chosen, threads):
        trainer = _Trainer(config, resolved, chosen)
        state_path = out / STATE_FILE
        if state_path.is_file():
            trainer.restore(_read_state(state_path))
            missing = [
                checkpoint_name(e)
                for e in resolved.checkpoint_epochs
                if e <= trainer.epoch and not (out / checkpoint_name(e)).is_file()
            ]
            if missing:
                raise InputError(
                    f"{str(out)!r}: cannot resume, the checkpoint(s) {', '.join(missing)} of "
                    "epochs already trained are missing; delete the directory to train again"
                )
            say(f"{out}: resuming after epoch {trainer.epoch} of {resolved.epochs}")
        elif 0 in resolved.checkpoint_epochs:
            save_model_file(
                out / checkpoint_name(0),
                trainer.model,
                config,
                resolved,
                0,
                trainer.train_data.classes,
            )

        while trainer.epoch < resolved.epochs:
            epoch_started = time.perf_counter()
            row = trainer.run_epoch(progress)
            epoch = trainer.epoch
            tested = (
                f", test loss {row['test_loss']:.4f}, test accuracy {row['test_accuracy']:.4f}"
                if row["test_accuracy"] is not None
                else ""
            )
            say(
                f"epoch {epoch}/{resolved.epochs}: lr {row['learning_rate']:.4g}, train loss "
                f"{row['train_loss']:.4f}, train accuracy {row['train_accuracy']:.4f}{tested} "
                f"({row['seconds']:.1f} s)"
            )
            if epoch in resolved.checkpoint_epochs:
                save_model_file(
                    out / checkpoint_name(epoch),
                    trainer.model,
                    config,
                    resolved,
                    epoch,
                    trainer.train_data.classes,
                )
            trainer.wall_time += time.perf_counter() - epoch_started
            atomic_torch_save(state_path, trainer.state())

        save_model_file(
            out / MODEL_FILE,
            trainer.model,
            config,
            resolved,
            trainer.epoch,
            trainer.train_data.classes,
        )
        metrics = _metrics(trainer, torch.get_num_threads())
    atomic_write_json(out / METRICS_FILE, metrics)
    state_path.unlink(missing_ok=True)
    say(f"{out}: test accuracy {metrics['test_accuracy']:.4f} after {resolved.epochs} epoch(s)")
    return metrics
