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

from typing import TYPE_CHECKING, Protocol, Sequence

from simfunc.errors import InputError
from simfunc.studies.classifier_jobs import ClassifierTraining, untrained_config

if TYPE_CHECKING:
    from simfunc.train.supervised import TrainConfig

__all__ = ["ROLES", "TwoTrainingSets", "network_config"]

ROLES = ("A", "B", "untrained")  # what a network was trained on


class TwoTrainingSets(Protocol):
    """The settings both studies share: the two training sets and the network."""

    dataset_a: str
    classes_a: tuple[int, ...] | None
    dataset_b: str
    classes_b: tuple[int, ...] | None
    data_root: str | None
    arch: str
    width: float
    image_size: int | None
    training: ClassifierTraining


def network_config(settings: TwoTrainingSets, role: str, seed: int) -> TrainConfig:
    """The run of the network of ``role`` (A, B or untrained) and ``seed``: trained on A or B,
    or the initial weights of the run of ``seed`` on A."""
    if role not in ROLES:
        raise InputError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    dataset, classes = ((settings.dataset_b, settings.classes_b) if role == "B"
                        else (settings.dataset_a, settings.classes_a))
    config = settings.training.config(
        arch=settings.arch, dataset=dataset, seed=seed, width=settings.width,
        image_size=settings.image_size, data_root=settings.data_root, classes=classes,
    ).replace(in_channels=3)
    return untrained_config(config) if role == "untrained" else config


#: The thesis's data sets for A, B and the third test set C (§3.1, §3.2).
THESIS_SETS = {"A": "cifar100", "B": "imagenet32", "C": "voc"}


def differs_from_thesis(settings: TwoTrainingSets, dataset_c: str, seeds: int,
                        thesis_seeds: int, extra: Sequence[str] = ()) -> str:
    """How a two-training-set run differs from the thesis's (ResNet-18 at full width, trained
    on CIFAR-100 and ImageNet32, tested also on Pascal VOC): data, network, seeds, training."""
    from simfunc.studies.common import describe_dataset

    out = []
    used = {"A": (settings.dataset_a, settings.classes_a),
            "B": (settings.dataset_b, settings.classes_b), "C": (dataset_c, None)}
    for role, (name, classes) in used.items():
        if name != THESIS_SETS[role] or classes:
            out.append(f"{role}: {describe_dataset(name, classes)}, not "
                       f"{describe_dataset(THESIS_SETS[role])}")
    if settings.arch not in ("resnet18", "resnet110") or settings.width != 1.0:
        out.append(f"network: {settings.arch} at width ×{settings.width:g}, not the thesis's "
                   "full-width ResNet")
    if seeds != thesis_seeds:
        out.append(f"{seeds} seed(s) a training set, not {thesis_seeds}")
    out.append(f"{settings.training.epochs} training epoch(s) (the thesis does not say how many)")
    out.extend(extra)
    return "; ".join(out)
