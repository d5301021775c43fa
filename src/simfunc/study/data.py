"""The examples of a study: loaded the same way in the driver (to check) and in every job.

:func:`load_examples` gives a :class:`Examples`: the inputs (an ImageDataset, or a numpy array
fed as it is), the labels when known and the class names. An array source with ``labels`` is
subset class-stratified (:func:`simfunc.data.subset.stratified_subset`), without labels by a
seeded random choice; datasets and image folders are subset stratified by :func:`simfunc.data.load`.
:func:`data_fingerprint` hashes what the examples are made of, for the cache keys.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from simfunc.errors import InputError
from simfunc.study.config import DataConfig

__all__ = ["Examples", "load_examples", "data_fingerprint"]


@dataclass(frozen=True)
class Examples:
    inputs: Any  # ImageDataset or numpy array
    labels: np.ndarray | None  # int64 (n,), or None
    classes: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.inputs)


def _hash_file(digest: Any, path: str) -> None:
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)


def data_fingerprint(data: DataConfig) -> str:
    """SHA-256 of the settings and the data: an array's bytes (and its labels'), an image
    folder's listing (relative path, size and modification time of every file)."""
    digest = hashlib.sha256(repr(sorted(data.to_json().items())).encode())
    source = Path(data.source)
    if source.is_file():
        _hash_file(digest, str(source))
    elif source.is_dir():
        for root, folders, files in os.walk(source):
            folders.sort()
            for name in sorted(files):
                path = Path(root) / name
                stat = path.stat()
                digest.update(f"{path.relative_to(source)}\0{stat.st_size}\0"
                              f"{stat.st_mtime_ns}\n".encode())
    if data.labels is not None:
        _hash_file(digest, data.labels)
    return digest.hexdigest()


def _array_examples(data: DataConfig) -> Examples:
    from simfunc.arrayfile import load_array
    from simfunc.data.subset import stratified_subset

    where = f"[data] source = {data.source!r}"
    try:
        array = load_array(data.source, data.key)
    except InputError as error:
        raise InputError(f"{where}: {error}") from None
    if array.ndim < 2 or array.shape[0] == 0:
        raise InputError(f"{where} holds shape {array.shape}: expected (examples, ...) inputs")
    if array.dtype.kind not in "fiu":
        raise InputError(f"{where} holds {array.dtype} values: expected real numbers")
    labels = None
    classes: tuple[str, ...] = ()
    if data.labels is not None:
        try:
            labels = np.asarray(load_array(data.labels))
        except InputError as error:
            raise InputError(f"[data] labels = {data.labels!r}: {error}") from None
        if labels.shape != (array.shape[0],) or labels.dtype.kind not in "iu" or labels.min() < 0:
            raise InputError(f"[data] labels = {data.labels!r}: expected {array.shape[0]} "
                             f"non-negative integer class labels, got {labels.dtype} "
                             f"{labels.shape}")
        labels = labels.astype(np.int64)
        classes = tuple(str(c) for c in range(int(labels.max()) + 1))
    if data.subset is not None:
        if data.subset > array.shape[0]:
            raise InputError(f"[data] subset = {data.subset} is more than the {array.shape[0]} "
                             f"examples in {data.source}")
        if labels is not None:
            rows = stratified_subset(labels, data.subset, data.seed)
        else:
            rows = np.sort(np.random.default_rng(data.seed).choice(
                array.shape[0], data.subset, replace=False))
        array = array[rows]
        labels = None if labels is None else labels[rows]
    if array.dtype.kind == "f" and array.dtype != np.float32:
        array = array.astype(np.float32)
    return Examples(np.ascontiguousarray(array), labels, classes)


def load_examples(data: DataConfig, image_size: int | None = None,
                  channels: int | None = None) -> Examples:
    """The study's examples; images at ``image_size`` and ``channels`` (default: the
    configuration's; a simfunc model asks for its own)."""
    if data.is_array:
        return _array_examples(data)
    from simfunc.data import ImageDataset, load

    size = image_size or data.image_size
    channels = channels or data.channels
    try:
        dataset = load(data.source, data.split, data_root=data.data_root, image_size=size,
                       channels=channels, subset=data.subset, seed=data.seed)
    except InputError as error:
        raise InputError(f"[data] source = {data.source!r}: {error}") from None
    if data.mean is not None or data.std is not None:
        dataset = ImageDataset(dataset.images, dataset.labels, dataset.classes,
                               name=dataset.name, split=dataset.split,
                               mean=data.mean or dataset.mean, std=data.std or dataset.std,
                               source=dataset.source)
    labels = dataset.labels.numpy()
    known = labels if len(labels) and (labels >= 0).all() else None
    return Examples(dataset, known, tuple(dataset.classes))
