"""What a layer map does with each layer's output in the pass: one sink per estimator.

A sink sees every batch as ``begin(count)``, then ``take(side, index, output)`` for each
layer output (``side`` "a" or "b", ``index`` the layer's position in that side's list; the
output already checked and flattened to (count, width)), then ``end()``; ``finish()`` gives
the (La, Lb) values.

* :class:`MinibatchSink` -- each output becomes its batch Gram matrix inside the hook (float64,
  on the device), so only (La + Lb) b × b Grams are held; :class:`MinibatchCKA` accumulates.
* :class:`ExactSink` -- holds the batch's features of every layer, then
  :class:`LinearCKAGrid` accumulates the feature-space statistics.
* :class:`StoreSink` -- writes each output's rows into that layer's float32 memory map; the
  measure runs per pair after the pass.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from simfunc.errors import InputError
from simfunc.representational import LinearCKAGrid, MinibatchCKA
from simfunc.representational.minibatch_cka import MIN_BATCH, linear_gram

__all__ = ["MinibatchSink", "ExactSink", "StoreSink"]


def _layer(names: tuple[list[str], list[str]], side: str, index: int) -> str:
    model = "A" if side == "a" else "B"
    return f"layer {names[0 if side == 'a' else 1][index]!r} of model {model}"


def _check_finite(rows: torch.Tensor, names, side: str, index: int) -> None:
    if not bool(torch.isfinite(rows.sum())):  # one reduction: a NaN or inf anywhere shows
        raise InputError(f"{_layer(names, side, index)} contains NaN or infinite values")


class MinibatchSink:
    """Grams per batch, Nguyen et al.'s minibatch CKA over batches."""

    def __init__(self, names_a: list[str], names_b: list[str], device: torch.device,
                 shared: bool) -> None:
        self.names = (names_a, names_b)
        self.shared = shared  # a self-map with the same layers: B's Grams are A's
        self.device = device
        self.accumulator = MinibatchCKA(names_a, names_b)
        self.grams: dict[str, torch.Tensor | None] = {"a": None, "b": None}
        self.skipped: list[int] = []
        self._count = 0

    def begin(self, count: int) -> None:
        self._count = count
        for side, names in zip("ab", self.names):
            if side == "b" and self.shared:
                continue
            buffer = self.grams[side]
            if buffer is None or buffer.shape[1] != count:
                self.grams[side] = torch.empty(
                    len(names), count, count, dtype=torch.float64, device=self.device
                )

    def take(self, side: str, index: int, output: torch.Tensor) -> None:
        if self._count < MIN_BATCH:
            return
        buffer = self.grams[side]
        assert buffer is not None
        buffer[index] = linear_gram(output, _layer(self.names, side, index))

    def end(self) -> None:
        if self._count < MIN_BATCH:
            self.skipped.append(self._count)
            return
        grams_b = self.grams["a"] if self.shared else self.grams["b"]
        self.accumulator.update_grams(self.grams["a"], grams_b)

    def finish(self) -> np.ndarray:
        if self.accumulator.n_batches == 0:
            raise InputError(
                f"no batch had the {MIN_BATCH} examples the unbiased HSIC needs "
                f"(batch sizes seen: {self.skipped})"
            )
        return self.accumulator.compute()


class ExactSink:
    """Every layer's features of the batch, then the exact grid statistics."""

    def __init__(self, names_a: list[str], names_b: list[str], debiased: bool,
                 shared: bool) -> None:
        self.names = (names_a, names_b)
        self.debiased = debiased
        self.shared = shared  # a self-map with the same layers: B's rows are A's
        self.accumulator = LinearCKAGrid(names_a, names_b)
        self.rows: dict[str, list[Any]] = {}

    def begin(self, count: int) -> None:
        self.rows = {side: [None] * len(names) for side, names in zip("ab", self.names)}

    def take(self, side: str, index: int, output: torch.Tensor) -> None:
        rows = output.to(torch.float64, copy=True)  # later in-place operations cannot reach it
        _check_finite(rows, self.names, side, index)
        self.rows[side][index] = rows

    def end(self) -> None:
        self.accumulator.update(self.rows["a"], self.rows["a" if self.shared else "b"])
        self.rows = {}

    def finish(self) -> np.ndarray:
        return self.accumulator.compute(debiased=self.debiased)


class StoreSink:
    """Rows of every layer into float32 memory maps; the measure per pair afterwards."""

    def __init__(self, arrays: dict[str, np.ndarray], stems: tuple[list[str], list[str]],
                 compare: Callable[[np.ndarray, np.ndarray, str, str], float],
                 names: tuple[list[str], list[str]], progress: Callable[..., Any]) -> None:
        self.arrays = arrays
        self.stems = stems
        self.compare = compare
        self.names = names
        self.progress = progress
        self.row = 0
        self._count = 0

    def begin(self, count: int) -> None:
        self._count = count

    def take(self, side: str, index: int, output: torch.Tensor) -> None:
        stem = self.stems[0 if side == "a" else 1][index]
        target = self.arrays[stem]
        if self.row + self._count > target.shape[0]:
            raise InputError(
                f"the data yielded more than the {target.shape[0]} examples it announced"
            )
        rows = output.to("cpu", torch.float32).numpy()
        if not np.isfinite(rows.sum(dtype=np.float64)):
            raise InputError(f"{_layer(self.names, side, index)} contains NaN or infinite values")
        target[self.row : self.row + self._count] = rows

    def end(self) -> None:
        self.row += self._count

    def finish_with(self, arrays: dict[str, np.ndarray]) -> np.ndarray:
        """The measure of every (A layer, B layer) pair on the stored (or reloaded) arrays."""
        names_a, names_b = self.names
        values = np.empty((len(names_a), len(names_b)))
        bar = self.progress(total=values.size, desc="layer map: measure", unit="pair")
        try:
            for i, stem_a in enumerate(self.stems[0]):
                for j, stem_b in enumerate(self.stems[1]):
                    values[i, j] = self.compare(arrays[stem_a], arrays[stem_b], names_a[i],
                                                names_b[j])
                    bar.update(1)
        finally:
            bar.close()
        return values
