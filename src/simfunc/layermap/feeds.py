"""The batches a layer map feeds its two models: the same examples, in a random order.

Data (for model A, and ``data_b`` for model B when it needs the same examples prepared
differently -- another size, another normalisation) may be an
:class:`~simfunc.data.ImageDataset`, a map-style torch ``Dataset`` whose items are ``x`` or
``(x, y, ...)``, a ``DataLoader``, a tensor or a numpy array (see :mod:`simfunc.extract`).

Everything but a DataLoader is indexed by the feed itself: it is cut into
``ceil(n / batch_size)`` batches of (nearly) equal size, at most ``batch_size``, in a seeded
random order when ``shuffle`` (the minibatch estimator needs batches that are random subsets;
data sorted by class would give batches of one class). A DataLoader's batches are used as it
yields them: shuffle it yourself (``shuffle=True``) for the minibatch estimator.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from simfunc.errors import InputError
from simfunc.extract import _first

__all__ = ["Feed", "make_feed"]


def _length(data: Any, name: str) -> int | None:
    from simfunc.data import ImageDataset

    if isinstance(data, (np.ndarray, torch.Tensor)):
        if data.ndim < 1:
            raise InputError(f"{name} has shape {tuple(data.shape)}: expected (examples, ...)")
        if (data.dtype == np.bool_) if isinstance(data, np.ndarray) else (
            data.dtype == torch.bool or data.is_complex()
        ):
            raise InputError(f"{name} has dtype {data.dtype}: expected real numbers")
        if isinstance(data, np.ndarray) and data.dtype.kind not in "fiu":
            raise InputError(f"{name} has dtype {data.dtype}: expected real numbers")
        return int(data.shape[0])
    if isinstance(data, ImageDataset):
        return len(data)
    if isinstance(data, DataLoader):
        dataset = data.dataset
        if getattr(data, "drop_last", False) or not hasattr(dataset, "__len__"):
            return None
        try:
            return len(dataset)
        except TypeError:
            return None
    if isinstance(data, Dataset) and hasattr(data, "__len__"):
        return len(data)
    raise InputError(
        f"{name} is a {type(data).__name__}: expected an ImageDataset, a map-style torch "
        "Dataset, a DataLoader, a tensor or a numpy array"
    )


def _take(data: Any, indices: np.ndarray, name: str) -> torch.Tensor:
    """The inputs of the examples ``indices`` of indexable data, as one batch tensor."""
    from simfunc.data import ImageDataset

    if isinstance(data, ImageDataset):
        return data.normalized(torch.from_numpy(indices))
    if isinstance(data, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(data[indices]))
    if isinstance(data, torch.Tensor):
        return data[torch.from_numpy(indices).to(data.device)]
    items = [_first(data[int(i)], f"{name}[{int(i)}]") for i in indices]
    try:
        return torch.stack(items)
    except RuntimeError as error:
        raise InputError(f"the items of {name} cannot be stacked into a batch: {error}") from None


class Feed:
    """Paired batches ``(x_a, x_b)`` (``x_b`` None when both models take the same input)."""

    def __init__(
        self,
        data: Any,
        data_b: Any,
        batch_size: int,
        shuffle: bool,
        seed: int,
    ) -> None:
        self.data = data
        self.data_b = data_b
        self.batch_size = batch_size
        self.n = _length(data, "data")
        n_b = None if data_b is None else _length(data_b, "data_b")
        loaders = [isinstance(d, DataLoader) for d in (data, data_b) if d is not None]
        if data_b is not None and any(loaders) and not all(loaders):
            raise InputError(
                "data and data_b must be of the same kind: two DataLoaders, or two indexable "
                "data sets (arrays, tensors, Datasets)"
            )
        if data_b is not None and self.n is not None and n_b is not None and n_b != self.n:
            raise InputError(
                f"data has {self.n} examples but data_b has {n_b}: data_b must hold the same "
                "examples, in the same order, prepared for model B"
            )
        self.indexed = not isinstance(data, DataLoader)
        if self.n == 0:
            raise InputError("data holds no examples")
        self.order = None
        if self.indexed:
            assert self.n is not None
            rng = np.random.default_rng(seed)
            order = rng.permutation(self.n) if shuffle else np.arange(self.n)
            self.order = order
            self.splits = np.array_split(order, max(1, math.ceil(self.n / batch_size)))

    @property
    def n_batches(self) -> int | None:
        if self.indexed:
            return len(self.splits)
        try:
            return len(self.data)
        except TypeError:
            return None

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
        if self.indexed:
            for indices in self.splits:
                x_a = _take(self.data, indices, "data")
                x_b = None if self.data_b is None else _take(self.data_b, indices, "data_b")
                yield x_a, x_b
            return
        iter_a = iter(self.data)
        iter_b = None if self.data_b is None else iter(self.data_b)
        done = object()
        for index in range(1 << 62):
            item_a = next(iter_a, done)
            item_b = None if iter_b is None else next(iter_b, done)
            if item_a is done or item_b is done:
                if item_a is not item_b and iter_b is not None:
                    longer = "data" if item_b is done else "data_b"
                    raise InputError(
                        f"{longer} yields more batches than the other ({index} batches in "
                        "the shorter): data and data_b must hold the same examples"
                    )
                return
            x_a = _first(item_a, "a DataLoader batch")
            x_b = None if iter_b is None else _first(item_b, "a data_b batch")
            if x_b is not None and x_b.shape[0] != x_a.shape[0]:
                raise InputError(
                    f"batch {index} has {x_a.shape[0]} examples in data but {x_b.shape[0]} in "
                    "data_b: both must hold the same examples"
                )
            yield x_a, x_b


def make_feed(data: Any, data_b: Any, batch_size: int, shuffle: bool, seed: int) -> Feed:
    """A :class:`Feed` over ``data`` (and ``data_b``), validated."""
    return Feed(data, data_b, batch_size, shuffle, seed)
