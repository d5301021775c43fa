"""ImageNet32x32, the downsampled ImageNet of Chrabaszcz, Loshchilov & Hutter (2017),
https://patrykchrabaszcz.github.io/Imagenet32/ (files from image-net.org's "downsample" page).

Accepted files: ``train_data_batch_1`` ... ``train_data_batch_10`` (train, 1,281,167 images in
all) and ``val_data`` (50,000, the ``test`` split), either as ``.npz`` archives (the
``Imagenet32_train_npz.zip`` / ``Imagenet32_val_npz.zip`` release) or as the extension-less
pickles of the first release (``Imagenet32_train.zip`` / ``Imagenet32_val.zip``). Each holds
``data``, uint8 (N, 3072) with the R, G, B planes of a 32x32 image, and ``labels`` numbered
1-1000, converted here to 0-999 (``classes`` are the 0-based indices as strings). The train
batches present are all read, in the order of their number; the ``.npz`` files are preferred
when both kinds are in one folder.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from simfunc.data.cifar import rows_to_images
from simfunc.data.safepickle import load_pickle_dict
from simfunc.data.sources import ArraySet
from simfunc.errors import InputError

__all__ = ["IMAGENET32_CLASSES", "imagenet32_files", "read_imagenet32"]

IMAGENET32_CLASSES = 1000
_TRAIN = re.compile(r"^train_data_batch_(\d+)(\.npz)?$")


def imagenet32_files(folder: Path, split: str) -> list[Path]:
    """The batch files of ``split`` in ``folder`` (empty if there are none)."""
    if not folder.is_dir():
        return []
    names = {p.name: p for p in folder.iterdir() if p.is_file()}
    if split == "test":
        for candidate in ("val_data.npz", "val_data"):
            if candidate in names:
                return [names[candidate]]
        return []
    batches: dict[int, dict[bool, Path]] = {}
    for name, path in names.items():
        match = _TRAIN.match(name)
        if match:
            batches.setdefault(int(match.group(1)), {})[bool(match.group(2))] = path
    return [kinds.get(True, kinds.get(False)) for _, kinds in sorted(batches.items())]


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    if path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as archive:
                content = {key: archive[key] for key in ("data", "labels") if key in archive}
        except (OSError, ValueError) as error:
            raise InputError(f"{str(path)!r} is not a readable .npz batch: {error}") from None
    else:
        content = load_pickle_dict(path)
    if "data" not in content or "labels" not in content:
        raise InputError(f"{str(path)!r} has no 'data' and 'labels' entries")
    labels = np.asarray(content["labels"], dtype=np.int64).reshape(-1)
    if labels.size and (labels.min() < 1 or labels.max() > IMAGENET32_CLASSES):
        raise InputError(
            f"{str(path)!r} has labels in [{labels.min()}, {labels.max()}]: ImageNet32 labels "
            f"are numbered 1-{IMAGENET32_CLASSES}"
        )
    images = rows_to_images(content["data"], source=str(path))
    if len(images) != len(labels):
        raise InputError(f"{str(path)!r} has {len(images)} images but {len(labels)} labels")
    return images, labels - 1


def read_imagenet32(folder: Path, split: str) -> ArraySet:
    """Read ``split`` ("train" or "test" = the validation batch) from ``folder``."""
    files = imagenet32_files(folder, split)
    if not files:
        raise InputError(f"{str(folder)!r} holds no ImageNet32 {split} batches")
    parts = [_read_batch(path) for path in files]
    return ArraySet(
        name="imagenet32",
        split=split,
        source=str(folder),
        images=np.concatenate([p[0] for p in parts]),
        labels=np.concatenate([p[1] for p in parts]),
        classes=tuple(str(i) for i in range(IMAGENET32_CLASSES)),
        normalization="imagenet",
    )
