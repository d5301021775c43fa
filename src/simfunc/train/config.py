"""``TrainConfig``: everything that determines a supervised training run, as plain JSON.

A configuration is a cache key (``simfunc.io.config_hash(config.to_dict())``), so it holds
only what changes the trained weights -- never the device, the thread count or where files go.
Fields left ``None`` are filled in from the dataset by ``resolve`` in
:mod:`simfunc.train.supervised` (classes, channels, image size, augmentation).

Fields added after the first release (``ADDED_FIELDS``: the recipe options label smoothing,
Nesterov momentum, the one-cycle warm-up, channels-last, reduced precision) are left out of
``to_dict`` while they hold their defaults, so every configuration that does not use them keeps
the dictionary -- and the cache key -- it had before they existed.

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
    "ADDED_FIELDS",
    "PRECISIONS",
    "SCHEDULES",
    "THESIS_CHECKPOINT_EPOCHS",
    "TrainConfig",
    "learning_rate_factor",
    "scale_checkpoint_epochs",
]

SCHEDULES = ("cosine", "step", "constant", "onecycle")

#: Arithmetic of the forward and backward passes: plain float32, or autocast to bfloat16
#: (``torch.autocast``: matrix products and convolutions in bfloat16, reductions, losses and the
#: weights in float32).
PRECISIONS = ("float32", "bfloat16")

#: One-cycle's start and end: it rises from ``lr / ONECYCLE_DIV`` to ``lr`` and anneals to
#: ``lr / (ONECYCLE_DIV * ONECYCLE_FINAL_DIV)`` (torch's ``div_factor`` and ``final_div_factor``).
ONECYCLE_DIV = 25.0
ONECYCLE_FINAL_DIV = 1e4

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


def learning_rate_factor(
    schedule: str,
    epoch_index: int,
    epochs: int,
    *,
    batch_index: int = 0,
    batches_per_epoch: int = 1,
    warmup: float = 0.25,
) -> float:
    """The multiplier of the base learning rate during a step of epoch ``epoch_index`` (0-based).

    * ``constant``: 1.
    * ``cosine``: ``(1 + cos(pi * epoch_index / epochs)) / 2`` -- cosine annealing to zero,
      stepped once per epoch (``torch.optim.lr_scheduler.CosineAnnealingLR(T_max=epochs)``).
    * ``step``: ×0.1 from epoch ``ceil(epochs / 2)`` and ×0.01 from ``ceil(3 * epochs / 4)``
      (``MultiStepLR`` with milestones at 50 % and 75 %: epochs 50 and 75 of 100).
    * ``onecycle``: stepped once per batch, ``t = epoch_index * batches_per_epoch +
      batch_index`` of ``T = epochs * batches_per_epoch`` steps. The learning rate rises from
      ``lr / 25`` to ``lr`` over the first ``warmup * T`` steps, then falls to ``lr / 25e4`` at
      the last step, both on half a cosine -- torch's ``OneCycleLR(max_lr=lr, total_steps=T,
      pct_start=warmup, anneal_strategy="cos", div_factor=25, final_div_factor=1e4,
      cycle_momentum=False)`` (Smith & Topin 2019, "Super-convergence"). With fewer than two
      warm-up steps it starts at ``lr`` and only anneals.

    The factor depends on the position in the run alone, so a resumed run needs no scheduler
    state. The batch arguments and ``warmup`` matter for ``onecycle`` only.
    """
    check_choice(schedule, "schedule", SCHEDULES)
    if schedule == "constant":
        return 1.0
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * epoch_index / epochs))
    if schedule == "step":
        milestones = (math.ceil(epochs / 2), math.ceil(3 * epochs / 4))
        return 0.1 ** sum(epoch_index >= milestone for milestone in milestones)
    step = epoch_index * batches_per_epoch + batch_index
    last = epochs * batches_per_epoch - 1
    start, peak = 1.0 / ONECYCLE_DIV, 1.0
    end = start / ONECYCLE_FINAL_DIV
    warmup_end = warmup * (last + 1) - 1.0  # torch's phase boundary, a float
    if warmup_end > 0 and step <= warmup_end:
        return _cosine_between(start, peak, step / warmup_end)
    warmup_end = max(warmup_end, 0.0)
    span = last - warmup_end
    return _cosine_between(peak, end, (step - warmup_end) / span if span > 0 else 0.0)


def _cosine_between(start: float, end: float, fraction: float) -> float:
    """``start`` at fraction 0 to ``end`` at fraction 1 along half a cosine."""
    return end + (start - end) / 2.0 * (math.cos(math.pi * fraction) + 1.0)


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
        schedule: ``cosine``, ``step``, ``constant`` (stepped per epoch) or ``onecycle``
            (per batch, with warm-up) -- see :func:`learning_rate_factor`.
        batch_size: examples per SGD step.
        augment: random crop and horizontal flip on the training images (None: on for every
            dataset but digits, where flipping changes what a digit is).
        warmup: the fraction of all steps over which ``onecycle`` rises to ``lr`` (torch's
            ``pct_start``, whose own default is 0.3); ignored by the other schedules.
        label_smoothing: the training loss's target puts ``1 - label_smoothing`` on the label
            and spreads ``label_smoothing`` evenly over all classes (Szegedy et al. 2016,
            ``F.cross_entropy(label_smoothing=...)``); the reported test loss stays plain
            cross-entropy.
        nesterov: Nesterov momentum (Sutskever et al. 2013) instead of heavy-ball; needs
            ``momentum > 0``.
        channels_last: run the network on channels-last (NHWC) tensors: the same arithmetic in
            another memory order, which oneDNN's CPU convolutions run 1.2-1.5x faster on these
            networks (BENCHMARKS.md). The weights differ from the default's in the last bits
            (another summation order), so it is part of the configuration.
        precision: ``float32``, or ``bfloat16`` (autocast: convolutions and matrix products in
            bfloat16, weights, optimizer and losses in float32) -- for accelerators with
            bfloat16 units; on most CPUs it is slower.
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
    warmup: float = 0.25
    label_smoothing: float = 0.0
    nesterov: bool = False
    channels_last: bool = False
    precision: str = "float32"

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
        for name in ("warmup", "label_smoothing"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not (0.0 <= value < 1.0)
            ):
                raise InputError(f"{name} must be a number in [0, 1), got {value!r}")
            set_(self, name, float(value))
        check_choice(self.precision, "precision", PRECISIONS)
        for name in ("augment", "eval_each_epoch", "nesterov", "channels_last"):
            value = getattr(self, name)
            if not isinstance(value, bool) and not (name == "augment" and value is None):
                raise InputError(f"{name} must be True or False, got {value!r}")
        if self.nesterov and self.momentum == 0:
            raise InputError("nesterov needs momentum > 0")
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
        """Plain JSON values (tuples as lists): the form stored in files and hashed as a key.

        A field of ``ADDED_FIELDS`` at its default is left out (``from_dict`` restores it), so
        configurations that do not use the newer options keep their earlier cache keys.
        """
        values = asdict(self)
        for name, default in ADDED_FIELDS.items():
            if values[name] == default:
                del values[name]
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


#: Fields added after the first release, with the defaults ``to_dict`` leaves out.
ADDED_FIELDS: dict[str, Any] = {
    f.name: f.default
    for f in fields(TrainConfig)
    if f.name in ("warmup", "label_smoothing", "nesterov", "channels_last", "precision")
}
