"""CIFAR-10 and CIFAR-100 in the official python format (Krizhevsky 2009).

* ``cifar-10-batches-py/``: ``data_batch_1`` ... ``data_batch_5`` (train, 50,000 images),
  ``test_batch`` (10,000), ``batches.meta`` (``label_names``);
* ``cifar-100-python/``: ``train`` (50,000), ``test`` (10,000), ``meta``
  (``fine_label_names``); the 100 fine labels are used.

Each batch is a pickled dict with ``data``, uint8 (N, 3072) holding each image's red, green
and blue 32x32 planes in that order (row-major), and the labels (``labels`` or
``fine_labels``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from simfunc.data.safepickle import load_pickle_dict, text
from simfunc.data.sources import ArraySet
from simfunc.errors import InputError

__all__ = ["CIFAR_LAYOUT", "read_cifar", "rows_to_images"]

# name -> (folder, train files, test files, meta file, label key, label-names key)
CIFAR_LAYOUT = {
    "cifar10": (
        "cifar-10-batches-py",
        tuple(f"data_batch_{i}" for i in range(1, 6)),
        ("test_batch",),
        "batches.meta",
        "labels",
        "label_names",
    ),
    "cifar100": (
        "cifar-100-python",
        ("train",),
        ("test",),
        "meta",
        "fine_labels",
        "fine_label_names",
    ),
}


def rows_to_images(data: np.ndarray, size: int = 32, source: str = "data") -> np.ndarray:
    """uint8 rows (N, 3 * size * size) of R, G, B planes -> (N, 3, size, size)."""
    data = np.asarray(data)
    if data.ndim != 2 or data.shape[1] != 3 * size * size:
        raise InputError(f"{source} has shape {data.shape}: expected (N, {3 * size * size})")
    if data.dtype != np.uint8:
        if data.size and (data.min() < 0 or data.max() > 255):
            raise InputError(f"{source} holds values outside 0-255")
        data = data.astype(np.uint8)
    return data.reshape(-1, 3, size, size)


def read_cifar(name: str, folder: Path, split: str) -> ArraySet:
    """Read ``split`` of ``name`` ("cifar10" or "cifar100") from its official folder."""
    _, train_files, test_files, meta_file, label_key, names_key = CIFAR_LAYOUT[name]
    files = train_files if split == "train" else test_files
    missing = [f for f in files + (meta_file,) if not (folder / f).is_file()]
    if missing:
        raise InputError(f"{str(folder)!r} lacks the CIFAR file(s) {', '.join(missing)}")
    images, labels = [], []
    for filename in files:
        batch = load_pickle_dict(folder / filename)
        if "data" not in batch or label_key not in batch:
            raise InputError(f"{str(folder / filename)!r} has no 'data' or {label_key!r} entry")
        images.append(rows_to_images(batch["data"], source=str(folder / filename)))
        labels.append(np.asarray(batch[label_key], dtype=np.int64))
    meta = load_pickle_dict(folder / meta_file)
    if names_key not in meta:
        raise InputError(f"{str(folder / meta_file)!r} has no {names_key!r} entry")
    classes = tuple(text(n) for n in meta[names_key])
    all_labels = np.concatenate(labels)
    if len(all_labels) and (all_labels.min() < 0 or all_labels.max() >= len(classes)):
        raise InputError(f"{str(folder)!r} has labels outside 0-{len(classes) - 1}")
    return ArraySet(
        name=name,
        split=split,
        source=str(folder),
        images=np.concatenate(images),
        labels=all_labels,
        classes=classes,
        normalization=name,
    )
