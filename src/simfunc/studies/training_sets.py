"""The design thesis §3.1 (``dataset-bias``) and §3.2 (``cross-dataset``) share: networks of one
architecture trained on data set A, on data set B, and untrained ones, each later shown the
test images of A, B and a third set.

Every network takes three input channels, so that each test set (greyscale digits, colour
photographs) fits every network. An untrained network follows the image studies' one rule
(:mod:`simfunc.studies.classifier_jobs`): it is the initial weights of the training run of its
seed on A — no seed offset; a study that wants untrained networks unrelated to its trained ones
gives them seeds of their own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping, Sequence

from simfunc.errors import InputError
from simfunc.studies.classifier_jobs import ClassifierTraining, untrained_config

if TYPE_CHECKING:
    from simfunc.train.supervised import TrainConfig

__all__ = ["ROLES", "network_config"]

ROLES = ("A", "B", "untrained")  # what a network was trained on


def network_config(training: ClassifierTraining, role: str, seed: int, *, arch: str,
                   width: float, image_size: int | None, data_root: str | None,
                   trained_on: Mapping[str, tuple[str, Sequence[int] | None]]) -> TrainConfig:
    """The run of the network of ``role`` (A, B or untrained) and ``seed``.

    ``trained_on``: ``{"A": (dataset, classes), "B": (dataset, classes)}``.
    """
    if role not in ROLES:
        raise InputError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    dataset, classes = trained_on["B" if role == "B" else "A"]
    config = training.config(arch=arch, dataset=dataset, seed=seed, width=width,
                             image_size=image_size, data_root=data_root, classes=classes
                             ).replace(in_channels=3)
    return untrained_config(config) if role == "untrained" else config
