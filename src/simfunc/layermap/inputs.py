"""The data a layer map runs on, named on the command line.

``load_inputs(spec, ...)`` accepts

* a saved array (``.npy``, ``.npz`` or ``.pt``; ``key`` picks one of several): the model's
  inputs, fed as they are, one example per row (a floating array is cast to the model's dtype);
* a dataset name (``cifar10``, ``digits``, ... see :mod:`simfunc.data`) or an image folder
  (``ROOT/SPLIT/CLASS/*.jpg`` or ``ROOT/CLASS/*.jpg``): loaded with :func:`simfunc.data.load`,
  resized to ``image_size`` with ``channels`` channels and normalised.

``subset`` keeps that many examples (class-stratified for datasets, a seeded random choice
for arrays).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from simfunc.arrayfile import SUFFIXES, load_array
from simfunc.errors import InputError

__all__ = ["load_inputs"]


def load_inputs(
    spec: str,
    *,
    split: str = "test",
    data_root: str | None = None,
    image_size: int = 32,
    channels: int = 3,
    subset: int | None = None,
    key: str | None = None,
    seed: int = 0,
) -> Any:
    """An ImageDataset, or a numpy array of inputs (see the module docstring)."""
    if Path(spec).suffix.lower() in SUFFIXES:
        array = load_array(spec, key)
        if array.ndim < 2 or array.shape[0] == 0:
            raise InputError(f"{spec} holds shape {array.shape}: expected (examples, ...) inputs")
        if array.dtype.kind not in "fiu":
            raise InputError(f"{spec} holds {array.dtype} values: expected real numbers")
        if subset is not None:
            if subset > array.shape[0]:
                raise InputError(f"--subset {subset} is more than the {array.shape[0]} examples "
                                 f"in {spec}")
            rows = np.sort(np.random.default_rng(seed).choice(array.shape[0], subset,
                                                              replace=False))
            array = array[rows]
        if array.dtype.kind == "f" and array.dtype != np.float32:
            array = array.astype(np.float32)
        return np.ascontiguousarray(array)
    from simfunc.data import load

    return load(spec, split, data_root=data_root, image_size=image_size, channels=channels,
                subset=subset, seed=seed)
