"""``TrainConfig``: everything that determines a supervised training run, as plain JSON.

A configuration is a cache key (``simfunc.io.config_hash(config.to_dict())``), so it holds
only what changes the trained weights -- never the device, the thread count or where files go.
Fields left ``None`` are filled in from the dataset by ``resolve`` in
:mod:`simfunc.train.supervised` (classes, channels, image size, augmentation).

Also here: the learning-rate schedules (:func:`learning_rate_factor`) and the thesis's list of
checkpoint epochs (:data:`THESIS_CHECKPOINT_EPOCHS`) with :func:`scale_checkpoint_epochs`,
which maps it onto a shorter run.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from simfunc.errors import InputError
from simfunc.nets import ARCHITECTURES
from simfunc.validation import check_choice, check_int, check_positive

__all__ = [
    "SCHEDULES",
    "THESIS_CHECKPOINT_EPOCHS",
    "TrainConfig",
    "learning_rate_factor",
    "scale_checkpoint_epochs",
]

SCHEDULES = ("cosine", "step", "constant")

#: The epochs at which the thesis (§3.4) saved checkpoints of its 100-epoch runs: 0 (the
#: untrained initial weights), every epoch to 10, every 5 to 40, every 10 to 100.
THESIS_CHECKPOINT_EPOCHS: tuple[int, ...] = (
    tuple(range(0, 11)) + tuple(range(15, 41, 5)) + tuple(range(50, 101, 10))
)


def scale_checkpoint_epochs(
    epochs: int, checkpoints: Iterable[int] = THESIS_CHECKPOINT_EPOCHS, full: int = 100
) -> tuple[int, ...]:
    """Map checkpoint epochs of a ``full``-epoch run onto a run of ``epochs`` epochs.

    Each epoch ``e`` becomes ``round(e * epochs / full)`` (halves rounded up); duplicates are
    merged, so the result is sorted and distinct, keeps 0 and ``epochs`` when the list has 0 and
    ``full``, and is dense at the start like the original. ``scale_checkpoint_epochs(10)`` is
    0, 1, ..., 10; ``scale_checkpoint_epochs(20)`` is 0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16,
    18, 20.
    """
    epochs = check_int(epochs, "epochs", minimum=0)
    full = check_int(full, "full", minimum=1)
    values = [check_int(e, "checkpoints[...]", minimum=0) for e in checkpoints]
    too_late = [e for e in values if e > full]
    if too_late:
        raise InputError(f"checkpoints {too_late} lie after the last epoch {full} of the full run")
    return tuple(sorted({math.floor(e * epochs / full + 0.5) for e in values}))


def learning_rate_factor(schedule: str, epoch_index: int, epochs: int) -> float:
    """The multiplier of the base learning rate during epoch ``epoch_index`` (0-based).

    * ``constant``: 1.
    * ``cosine``: ``(1 + cos(pi * epoch_index / epochs)) / 2`` -- cosine annealing to zero,
      stepped once per epoch (``torch.optim.lr_scheduler.CosineAnnealingLR(T_max=epochs)``).
    * ``step``: ×0.1 from epoch ``ceil(epochs / 2)`` and ×0.01 from ``ceil(3 * epochs / 4)``
      (``MultiStepLR`` with milestones at 50 % and 75 %: epochs 50 and 75 of 100).

    The factor depends on the epoch alone, so a resumed run needs no scheduler state.
    """
    check_choice(schedule, "schedule", SCHEDULES)
    if schedule == "constant":
        return 1.0
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * epoch_index / epochs))
    milestones = (math.ceil(epochs / 2), math.ceil(3 * epochs / 4))
    return 0.1 ** sum(epoch_index >= milestone for milestone in milestones)


def _check_classes(classes: object) -> tuple[int | str, ...]:
    """A non-empty list of distinct class indices (>= 0) or names."""
    if isinstance(classes, (str, bytes)) or not isinstance(classes, Iterable):
        raise InputError(f"classes must be a list of class indices or names, got {classes!r}")
    chosen = tuple(classes)
    if not chosen:
        raise InputError("classes is empty: list at least one class (or None for all)")
    for item in chosen:
        if isinstance(item, bool) or not isinstance(item, (int, str)):
            raise InputError(f"classes must hold class indices or names, got {item!r}")
        if isinstance(item, int) and item < 0:
            raise InputError(f"classes holds the negative index {item}")
    if len(set(chosen)) != len(chosen):
        raise InputError(f"classes lists a class twice: {list(chosen)}")
    return tuple(int(c) if isinstance(c, int) else c for c in chosen)


@dataclass(frozen=True)
class TrainConfig:
    """One supervised training run. Validated on construction (InputError names the field).

    Attributes:
        arch: a name in ``simfunc.nets.ARCHITECTURES``.
        dataset: a dataset name (``simfunc.data.DATASETS``) or an image-folder path.
        data_root: where named datasets are looked up (None: ``$SIMFUNC_DATA_ROOT`` or the
            default; see ``simfunc.data.load``).
        classes: train (and test) on these classes only -- indices or names, relabelled
            0..k-1 in the order given (``simfunc.data.load(classes=...)``); None: all.
        width: channel multiplier of the network.
        num_classes: output classes (None: the dataset's).
        in_channels: 1 (greyscale) or 3 (None: the dataset's own -- 1 for digits, else 3).
        image_size: square input size (None: the dataset's -- 8 for digits, else 32).
        train_subset: train on a class-stratified subset of this many images (None: all).
        test_subset: evaluate on a stratified subset of the test split (None: all).
        subset_seed: seed of both subsets (kept apart from ``seed`` so that runs with
            different seeds see the same images).
        seed: seeds the initial weights, the per-epoch shuffling and the augmentation.
        epochs: number of epochs (0 gives the untrained network).
        lr, momentum, weight_decay: SGD (weight decay on every parameter, as in the thesis's
            reference code).
        schedule: ``cosine``, ``step`` or ``constant`` (see :func:`learning_rate_factor`).
        batch_size: examples per SGD step.
        augment: random crop and horizontal flip on the training images (None: on for every
            dataset but digits, where flipping changes what a digit is).
        checkpoint_epochs: epochs after which the weights are saved (0 = the initial
            weights); each at most ``epochs``.
        eval_each_epoch: evaluate the test split after every epoch (else only at the end).
    """

    arch: str = "cnn"
    dataset: str = "digits"
    data_root: str | None = None
    classes: tuple[int | str, ...] | None = None
    width: float = 1.0
    num_classes: int | None = None
    in_channels: int | None = None
    image_size: int | None = None
    train_subset: int | None = None
    test_subset: int | None = None
    subset_seed: int = 0
    seed: int = 0
    epochs: int = 10
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "cosine"
    batch_size: int = 128
    augment: bool | None = None
    checkpoint_epochs: tuple[int, ...] = field(default=())
    eval_each_epoch: bool = True

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if not isinstance(self.arch, str) or self.arch not in ARCHITECTURES:
            raise InputError(
                f"arch {self.arch!r} is unknown; choose one of {', '.join(ARCHITECTURES)}"
            )
        if hasattr(self.dataset, "__fspath__"):
            set_(self, "dataset", str(self.dataset))
        if not isinstance(self.dataset, str) or not self.dataset:
            raise InputError(
                f"dataset must be a dataset name or a folder path, got {self.dataset!r}"
            )
        if self.data_root is not None:
            if hasattr(self.data_root, "__fspath__"):
                set_(self, "data_root", str(self.data_root))
            if not isinstance(self.data_root, str):
                raise InputError(f"data_root must be a folder path, got {self.data_root!r}")
        if self.classes is not None:
            set_(self, "classes", _check_classes(self.classes))
        set_(self, "width", check_positive(self.width, "width"))
        for name in ("num_classes", "image_size", "train_subset", "test_subset"):
            value = getattr(self, name)
            if value is not None:
                set_(self, name, check_int(value, name, minimum=1))
        if self.in_channels is not None and (
            isinstance(self.in_channels, bool) or self.in_channels not in (1, 3)
        ):
            raise InputError(f"in_channels must be 1 or 3, got {self.in_channels!r}")
        set_(self, "subset_seed", check_int(self.subset_seed, "subset_seed", minimum=0))
        set_(self, "seed", check_int(self.seed, "seed", minimum=0))
        set_(self, "epochs", check_int(self.epochs, "epochs", minimum=0))
        set_(self, "lr", check_positive(self.lr, "lr"))
        for name in ("momentum", "weight_decay"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not (math.isfinite(value) and value >= 0)
            ):
                raise InputError(f"{name} must be a finite number >= 0, got {value!r}")
            set_(self, name, float(value))
        check_choice(self.schedule, "schedule", SCHEDULES)
        set_(self, "batch_size", check_int(self.batch_size, "batch_size", minimum=2))
        for name in ("augment", "eval_each_epoch"):
            value = getattr(self, name)
            if not isinstance(value, bool) and not (name == "augment" and value is None):
                raise InputError(f"{name} must be True or False, got {value!r}")
        if isinstance(self.checkpoint_epochs, (str, bytes)) or not isinstance(
            self.checkpoint_epochs, Iterable
        ):
            raise InputError(
                f"checkpoint_epochs must be a list of epochs, got {self.checkpoint_epochs!r}"
            )
        epochs = sorted(
            {check_int(e, "checkpoint_epochs[...]", minimum=0) for e in self.checkpoint_epochs}
        )
        late = [e for e in epochs if e > self.epochs]
        if late:
            raise InputError(
                f"checkpoint_epochs {late} lie after the last epoch ({self.epochs}); "
                "scale the list with scale_checkpoint_epochs"
            )
        set_(self, "checkpoint_epochs", tuple(epochs))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (tuples as lists): the form stored in files and hashed as a key."""
        values = asdict(self)
        values["checkpoint_epochs"] = list(self.checkpoint_epochs)
        if self.classes is not None:
            values["classes"] = list(self.classes)
        return values

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> TrainConfig:
        """The inverse of :meth:`to_dict`; unknown keys raise InputError (missing ones take
        their defaults)."""
        if not isinstance(values, Mapping):
            raise InputError(f"a training configuration must be a mapping, got {values!r}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise InputError(
                f"unknown training configuration key(s) {', '.join(map(repr, unknown))}; "
                f"known: {', '.join(sorted(known))}"
            )
        values = dict(values)
        for name in ("checkpoint_epochs", "classes"):
            if isinstance(values.get(name), list):
                values[name] = tuple(values[name])
        return cls(**values)

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)

    def differences(self, other: TrainConfig) -> list[str]:
        """``"field: mine != other's"`` for every field that differs."""
        mine, theirs = self.to_dict(), other.to_dict()
        return [
            f"{name}: {mine[name]!r} != {theirs[name]!r}"
            for name in mine
            if mine[name] != theirs[name]
        ]
