"""``ImageDataset``: decoded images held in memory, served as normalised float tensors."""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from simfunc.data.transforms import augmentation_padding, normalize, random_crop_flip
from simfunc.errors import InputError

__all__ = ["ImageDataset"]


class ImageDataset(Dataset):
    """A labelled image set kept in memory as uint8 (N, C, H, W).

    ``dataset[i]`` is ``(image, label)``: ``image`` a float32 tensor (C, H, W), scaled to
    [0, 1] and normalised with the dataset's ``mean`` and ``std``; ``label`` an int64 scalar
    tensor (-1 for unlabelled sets such as Pascal VOC). With ``augment=True`` each access
    first applies the random crop (zero padding, scaled to the image size) and horizontal
    flip of :func:`~simfunc.data.transforms.random_crop_flip`, drawn from torch's global RNG.

    Attributes: ``images`` (uint8 tensor), ``labels`` (int64 tensor), ``classes`` (tuple of
    names, empty when unlabelled), ``num_classes`` (= ``len(classes)``), ``name``, ``split``,
    ``mean``, ``std``, ``augment``, ``source`` (where it was read from), ``from_cache``
    (whether the decoded images came from the on-disk cache).
    """

    def __init__(
        self,
        images: np.ndarray | torch.Tensor,
        labels: np.ndarray | torch.Tensor | Sequence[int],
        classes: Sequence[str],
        *,
        name: str,
        split: str,
        mean: Sequence[float],
        std: Sequence[float],
        augment: bool = False,
        source: str = "",
        from_cache: bool = False,
    ) -> None:
        images = torch.as_tensor(np.ascontiguousarray(images))
        labels = torch.as_tensor(np.asarray(labels, dtype=np.int64))
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise InputError(
                f"images must be uint8 (N, C, H, W), got {images.dtype} {tuple(images.shape)}"
            )
        if labels.shape != (images.shape[0],):
            raise InputError(
                f"labels has shape {tuple(labels.shape)}: expected ({images.shape[0]},), "
                "one label per image"
            )
        channels = images.shape[1]
        if len(mean) != channels or len(std) != channels:
            raise InputError(f"mean and std need {channels} values, one per channel")
        if len(labels) and (labels.max() >= len(classes) or labels.min() < -1):
            raise InputError(f"labels must lie in [-1, {len(classes) - 1}]")
        self.images = images
        self.labels = labels
        self.classes = tuple(classes)
        self.name = name
        self.split = split
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)
        self.augment = bool(augment)
        self.source = source
        self.from_cache = from_cache

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def image_size(self) -> int:
        return int(self.images.shape[-1])

    @property
    def channels(self) -> int:
        return int(self.images.shape[1])

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = self.images[index]
        if self.augment:
            image = random_crop_flip(image, augmentation_padding(image.shape[-1]))
        return normalize(image, self.mean, self.std), self.labels[index]

    def with_augment(self, augment: bool) -> ImageDataset:
        """A copy sharing the same image memory, with augmentation switched on or off."""
        twin = copy.copy(self)
        twin.augment = bool(augment)
        return twin

    def normalized(self, indices: Sequence[int] | slice | None = None) -> torch.Tensor:
        """Normalised float32 images (never augmented) for ``indices`` (default: all)."""
        selected = self.images if indices is None else self.images[indices]
        return normalize(selected, self.mean, self.std)

    def __repr__(self) -> str:
        return (
            f"ImageDataset(name={self.name!r}, split={self.split!r}, n={len(self)}, "
            f"shape={tuple(self.images.shape[1:])}, num_classes={self.num_classes}, "
            f"augment={self.augment})"
        )
