"""The files a training run writes for its weights, and ``load_model`` that reads them back.

A model file (``model.pt``, or ``checkpoint-epoch-NNN.pt`` with the epoch in three digits,
e.g. ``checkpoint-epoch-005.pt``) is a plain dict saved with ``torch.save`` and read with
``torch.load(weights_only=True)`` -- tensors, numbers, strings, lists and dicts only, so
loading one never runs code:

    {"format": "simfunc.model", "version": 1,
     "config": {...},            # the TrainConfig as given (TrainConfig.to_dict())
     "resolved_config": {...},   # with the dataset's defaults filled in: what was built
     "epoch": 12,                # epochs of training behind these weights (0 = initial)
     "classes": ["airplane", ...],  # the class names of the training set, in label order
     "state_dict": {...}}        # model.state_dict(), batch-norm statistics included

The network is rebuilt from ``resolved_config`` (architecture, classes, width, channels,
image size) and the weights loaded strictly.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from simfunc.errors import InputError
from simfunc.io import atomic_torch_save, load_torch
from simfunc.nets import Classifier, build
from simfunc.train.config import TrainConfig

__all__ = [
    "MODEL_FILE",
    "MODEL_FORMAT",
    "ModelFile",
    "build_from_config",
    "checkpoint_name",
    "load_model",
    "read_model_file",
    "save_model_file",
]

MODEL_FILE = "model.pt"
MODEL_FORMAT = "simfunc.model"
MODEL_VERSION = 1


def checkpoint_name(epoch: int) -> str:
    """``checkpoint-epoch-007.pt`` for epoch 7 (at least three digits)."""
    return f"checkpoint-epoch-{epoch:03d}.pt"


@dataclass(frozen=True)
class ModelFile:
    """The contents of a model file (see the module docstring)."""

    config: TrainConfig
    resolved_config: TrainConfig
    epoch: int
    classes: tuple[str, ...]
    state_dict: dict[str, torch.Tensor]
    path: Path


def build_from_config(resolved: TrainConfig) -> Classifier:
    """The untrained network a resolved configuration describes, seeded with its ``seed``."""
    missing = [
        name
        for name in ("num_classes", "in_channels", "image_size")
        if getattr(resolved, name) is None
    ]
    if missing:
        raise InputError(f"the configuration is not resolved: {', '.join(missing)} unset")
    return build(
        resolved.arch,
        resolved.num_classes,
        width=resolved.width,
        in_channels=resolved.in_channels,
        input_size=resolved.image_size,
        seed=resolved.seed,
    )


def save_model_file(
    path: str | os.PathLike[str],
    model: nn.Module,
    config: TrainConfig,
    resolved: TrainConfig,
    epoch: int,
    classes: tuple[str, ...] = (),
) -> Path:
    """Write ``model``'s weights with their configuration atomically (CPU tensors)."""
    state = {
        name: tensor.detach().to("cpu", copy=True) for name, tensor in model.state_dict().items()
    }
    return atomic_torch_save(
        path,
        {
            "format": MODEL_FORMAT,
            "version": MODEL_VERSION,
            "config": config.to_dict(),
            "resolved_config": resolved.to_dict(),
            "epoch": int(epoch),
            "classes": [str(name) for name in classes],
            "state_dict": state,
        },
    )


def _model_path(path_or_dir: str | os.PathLike[str], epoch: int | None) -> Path:
    path = Path(path_or_dir)
    if path.is_dir():
        path = path / (MODEL_FILE if epoch is None else checkpoint_name(epoch))
        if not path.is_file():
            raise InputError(
                f"{str(path)!r} does not exist: is {str(path.parent)!r} a finished training "
                "directory"
                + ("" if epoch is None else f" with a checkpoint at epoch {epoch}")
                + "?"
            )
    elif epoch is not None:
        raise InputError("epoch= applies to a training directory, not to a model file")
    elif not path.is_file():
        raise InputError(
            f"model {str(path)!r} does not exist (expected a model.pt file or a training directory)"
        )
    return path


def read_model_file(path_or_dir: str | os.PathLike[str], epoch: int | None = None) -> ModelFile:
    """Read a model file, or ``model.pt`` (or the checkpoint of ``epoch``) of a directory."""
    path = _model_path(path_or_dir, epoch)
    content: Any = load_torch(path)
    if not isinstance(content, dict) or content.get("format") != MODEL_FORMAT:
        raise InputError(
            f"{str(path)!r} is not a simfunc model file (written by simfunc.train): it has no "
            f"{MODEL_FORMAT!r} header"
        )
    if content.get("version") != MODEL_VERSION:
        raise InputError(
            f"{str(path)!r} has model file version {content.get('version')!r}; this simfunc "
            f"reads version {MODEL_VERSION}"
        )
    return ModelFile(
        config=TrainConfig.from_dict(content["config"]),
        resolved_config=TrainConfig.from_dict(content["resolved_config"]),
        epoch=int(content["epoch"]),
        classes=tuple(content.get("classes", ())),
        state_dict=content["state_dict"],
        path=path,
    )


def load_model(
    path_or_dir: str | os.PathLike[str],
    device: str | torch.device = "cpu",
    epoch: int | None = None,
) -> Classifier:
    """Rebuild a trained network from a model file or a training directory, in eval mode.

    ``path_or_dir``: a ``model.pt`` / ``checkpoint-epoch-NNN.pt`` file, or a training
    directory (its ``model.pt``, or with ``epoch=`` its checkpoint of that epoch). The file is
    read with ``torch.load(weights_only=True)``. The returned classifier carries
    ``training_config`` (the resolved :class:`TrainConfig`), ``trained_epochs`` and
    ``classes`` (the training set's class names).
    """
    record = read_model_file(path_or_dir, epoch)
    model = build_from_config(record.resolved_config)
    try:
        model.load_state_dict(record.state_dict, strict=True)
    except RuntimeError as error:
        raise InputError(
            f"{str(record.path)!r}: the weights do not fit the network its configuration "
            f"describes: {str(error).splitlines()[0]}"
        ) from None
    model.training_config = record.resolved_config
    model.trained_epochs = record.epoch
    model.classes = record.classes
    return model.to(device).eval()
